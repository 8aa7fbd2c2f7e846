"""The whole encoder-decoder (course_lib.diagrams.model): the course's own "Figure 1"."""

from __future__ import annotations

import pytest
from diagram_helpers import assert_closed_figure, texts
from matplotlib.colors import to_hex
from matplotlib.patches import FancyBboxPatch

from course_lib.diagrams.draw import COLORS, FILLS
from course_lib.diagrams.model import transformer_diagram
from course_lib.errors import CourseLibError


def test_transformer_diagram_shows_the_running_example_and_every_part():
    fig = transformer_diagram()
    assert_closed_figure(fig)
    found = texts(fig)
    for expected in (
        '"I love pizza"',
        '"<start> J\' aime la"  (shifted right)',
        '"J\' aime la pizza"',
        "multi-head\nself-attention",
        "masked multi-head\nself-attention",
        "multi-head\ncross-attention",
        "softmax",
        "memory: one vector per English word",
        "encoder: N × layer",
        "decoder: N × layer",
        "keys,\nvalues",
    ):
        assert expected in found, expected
    assert found.count("add & norm") == 2 + 3
    assert found.count("feed-forward") == 2


def frame_edges(fig) -> list[str]:
    patches = [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
    return [to_hex(p.get_edgecolor()) for p in patches if to_hex(p.get_facecolor()) == "#f4f4f4"]


@pytest.mark.parametrize("side", ["encoder", "decoder"])
def test_highlight_strengthens_one_side_and_greys_the_other(side):
    fig = transformer_diagram(highlight=side)
    strong = [e == COLORS["vermillion"].lower() for e in frame_edges(fig)]
    assert strong == [side == "encoder", side == "decoder"]
    fills = [to_hex(p.get_facecolor()) for p in fig.axes[0].patches]
    assert fills.count(FILLS["grey"].lower()) >= 5  # the other side's boxes are greyed out


def test_no_highlight_greys_nothing():
    fills = [to_hex(p.get_facecolor()) for p in transformer_diagram().axes[0].patches]
    assert FILLS["grey"].lower() not in fills
    assert not any(e == COLORS["vermillion"].lower() for e in frame_edges(transformer_diagram()))


@pytest.mark.parametrize("highlight", ["Decoder", "both", 1, ""])
def test_unknown_highlight_is_an_error(highlight):
    with pytest.raises(CourseLibError, match="highlight"):
        transformer_diagram(highlight=highlight)
