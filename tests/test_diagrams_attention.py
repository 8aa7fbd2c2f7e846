"""Chapter 3's attention diagrams (course_lib.diagrams.attention): each returns a closed
Figure with the expected labels, and bad arguments raise CourseLibError."""

from __future__ import annotations

import pytest
import torch
from diagram_helpers import assert_closed_figure, texts

from course_lib.diagrams.attention import (
    attention_heatmaps,
    attention_idea,
    multi_head_diagram,
    scaled_dot_product_diagram,
)
from course_lib.errors import CourseLibError


def test_attention_idea_shows_the_words_and_the_weights():
    fig = attention_idea(["I", "love", "pizza"], [0.45, 0.15, 0.40], query=1)
    assert_closed_figure(fig)
    found = texts(fig)
    for expected in ("I", "love", "pizza", "0.45", "0.15", "0.40", "query", "keys and\nvalues"):
        assert expected in found


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(words=[], weights=[]),
        dict(words="I love pizza", weights=[1.0]),
        dict(words=["I", "love"], weights=[1.0]),
        dict(words=["I", "love"], weights=[0.7, 0.7]),
        dict(words=["I", "love"], weights=[1.5, -0.5]),
        dict(words=["I", "love"], weights=[0.5, 0.5], query=2),
        dict(words=["I", "love"], weights=[0.5, 0.5], query=True),
    ],
)
def test_attention_idea_rejects_bad_arguments(kwargs):
    with pytest.raises(CourseLibError):
        attention_idea(**kwargs)


def test_scaled_dot_product_diagram_has_every_step():
    fig = scaled_dot_product_diagram()
    assert_closed_figure(fig)
    found = texts(fig)
    for expected in ("MatMul", "Scale", "Mask (optional)", "Softmax", "weights · V", "Q\n", "K\n"):
        assert expected in found
    assert "True = may attend" in found


def test_multi_head_diagram_shows_the_paper_shapes():
    fig = multi_head_diagram()
    assert_closed_figure(fig)
    found = texts(fig)
    for expected in ("split into\nheads", "concatenate the heads", "$W^O$", "(batch, 8, seq, 64)"):
        assert expected in found
    assert "(batch, seq, 512)" in found and "8×64 = 512" in found


def test_multi_head_diagram_follows_its_arguments():
    found = texts(multi_head_diagram(n_heads=4, d_model=16))
    assert "(batch, 4, seq, 4)" in found and "(batch, seq, 16)" in found


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_heads=3, d_model=512),
        dict(n_heads=0),
        dict(d_model=-8),
        dict(n_heads=True),
        dict(n_heads=2.0),
    ],
)
def test_multi_head_diagram_rejects_bad_sizes(kwargs):
    with pytest.raises(CourseLibError):
        multi_head_diagram(**kwargs)


def test_attention_heatmaps_label_both_axes_and_add_a_colour_bar():
    words = ["i", "love", "pizza"]
    maps = torch.softmax(torch.randn(2, 3, 3), dim=-1)
    fig = attention_heatmaps(maps, words, words, ["head 0", "head 1"], "two heads")
    assert_closed_figure(fig)
    heat_axes = [ax for ax in fig.axes if ax.images]
    assert len(heat_axes) == 2
    first = heat_axes[0]
    assert [t.get_text() for t in first.get_xticklabels()] == words
    assert [t.get_text() for t in first.get_yticklabels()] == words
    assert first.get_xlabel() == "key" and first.get_ylabel() == "query"
    assert first.images[0].get_cmap().name == "viridis"
    assert len(fig.axes) == 3  # two maps and one colour bar
    assert "attention weight" in texts(fig)


def test_attention_heatmaps_reject_mismatched_shapes_and_titles():
    words = ["i", "love", "pizza"]
    with pytest.raises(CourseLibError, match="shape"):
        attention_heatmaps([torch.zeros(2, 3)], words, words, ["h"], "t")
    with pytest.raises(CourseLibError, match="title"):
        attention_heatmaps([torch.zeros(3, 3)], words, words, ["a", "b"], "t")
    with pytest.raises(CourseLibError):
        attention_heatmaps([torch.zeros(3, 3)], "i love pizza", words, ["a"], "t")
