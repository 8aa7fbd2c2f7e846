"""Plots (course_lib.viz): labelled axes, the tokens on both axes, one colour bar, closed figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from tiny_translator import train_tiny_model

from course_lib.attention_maps import AttentionMaps, attention_maps, cross_attention
from course_lib.errors import CourseLibError
from course_lib.viz import (
    plot_alignment,
    plot_attention_heads,
    plot_attention_maps,
    plot_cross_attention,
)

# ----------------------------------------------------------------------------- attention (step 7)


@pytest.fixture(scope="module")
def tiny():
    return train_tiny_model()


def test_attention_plots_are_labelled_with_a_colour_bar(tiny):
    model, src_tok, tgt_tok, _ = tiny
    maps = attention_maps(model, "I love pizza", src_tok, tgt_tok)
    before = plt.get_fignums()
    figure = plot_attention_maps(maps)
    assert plt.get_fignums() == before  # closed: shown once in a notebook
    layers = max(model.config.n_encoder_layers, model.config.n_decoder_layers)
    assert len(figure.axes) == 3 * layers + 1
    assert figure.axes[-1].get_ylabel() == "attention weight"
    encoder, decoder, cross = figure.axes[0], figure.axes[layers], figure.axes[2 * layers]
    assert [t.get_text() for t in encoder.get_xticklabels()] == ["i", "love", "pizza"]
    assert [t.get_text() for t in decoder.get_xticklabels()][0] == "<start>"
    assert [t.get_text() for t in decoder.get_yticklabels()][-1] == "<end>"
    assert [t.get_text() for t in cross.get_xticklabels()] == ["i", "love", "pizza"]
    assert "masked self-attention" in decoder.get_title()
    assert encoder.get_ylabel() and encoder.get_xlabel()
    for kind in AttentionMaps.KINDS:
        heads = plot_attention_heads(maps, kind)
        n_layers, n_heads = maps.weights(kind).shape[:2]
        assert len(heads.axes) == n_layers * n_heads + 1
        assert heads.axes[-1].get_ylabel() == "attention weight"
        assert heads.axes[0].get_title() == "layer 1 head 1"


def test_plots_are_labelled(tiny):
    model, src_tok, tgt_tok, _ = tiny
    alignment = cross_attention(model, "I love pizza", src_tok, tgt_tok)
    figure = plot_cross_attention(alignment)
    n_layers, n_heads = alignment.weights.shape[:2]
    assert len(figure.axes) == (n_layers + 1) * (n_heads + 1) + 1  # + the colour bar
    assert figure.axes[-1].get_ylabel() == "attention weight"
    average = figure.axes[-2]
    assert average.get_title() == "mean of all"
    assert [t.get_text() for t in average.get_xticklabels()] == ["i", "love", "pizza"]
    assert [t.get_text() for t in average.get_yticklabels()][-1] == "<end>"
    assert average.get_xlabel() == "English (source)"
    ax = plot_alignment(alignment, layer=0, head=1)
    assert ax.get_title() == "layer 1, head 2"
    with pytest.raises(CourseLibError, match=r"head must be None or in 0..1, got 5"):
        plot_alignment(alignment, head=5)
    with pytest.raises(CourseLibError, match="expected an Alignment"):
        plot_cross_attention("not an alignment")


def test_attention_plots_bad_input(tiny):
    model, src_tok, tgt_tok, _ = tiny
    maps = attention_maps(model, "I love pizza", src_tok, tgt_tok)
    with pytest.raises(CourseLibError, match="kind must be one of"):
        plot_attention_heads(maps, "decoder")
    with pytest.raises(CourseLibError, match="expected AttentionMaps"):
        plot_attention_maps(maps.alignment())
    with pytest.raises(CourseLibError, match=r"layer must be None or in 0..0, got -1"):
        plot_alignment(maps.alignment(), layer=-1)


# ----------------------------------------------------------------------------- training (step 6)
