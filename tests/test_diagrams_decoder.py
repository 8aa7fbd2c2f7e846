"""Chapter 4's diagrams (course_lib.diagrams.decoder): the decoder layer and the causal mask."""

from __future__ import annotations

import pytest
from diagram_helpers import assert_closed_figure, texts
from matplotlib.figure import Figure

from course_lib.diagrams.decoder import causal_mask_diagram, decoder_layer_diagram
from course_lib.errors import CourseLibError


@pytest.mark.parametrize(("norm", "panels"), [("both", 2), ("post", 1), ("pre", 1)])
def test_decoder_layer_diagram_has_three_sublayers_and_the_memory(norm, panels):
    fig = decoder_layer_diagram(norm)
    assert_closed_figure(fig)
    found = texts(fig)
    assert found.count("masked multi-head\nself-attention") == panels
    assert found.count("multi-head\ncross-attention") == panels
    assert found.count("feed-forward") == panels
    assert found.count("memory") == panels
    assert found.count("residual") == 3 * panels
    assert ("post-norm (the paper, §3.1)" in found) == (norm != "pre")
    assert ("pre-norm (norm_first=True)" in found) == (norm != "post")


@pytest.mark.parametrize("norm", ["", "pre-norm", None])
def test_decoder_layer_diagram_rejects_unknown_norms(norm):
    with pytest.raises(CourseLibError, match="norm must be"):
        decoder_layer_diagram(norm)


def test_causal_mask_diagram_marks_exactly_the_past_as_visible():
    tokens = ["<start>", "J'", "aime", "la", "pizza"]
    fig = causal_mask_diagram(tokens, predicts=["J'", "aime", "la", "pizza", "<end>"])
    assert isinstance(fig, Figure)
    found = texts(fig).split("\n")
    n = len(tokens)
    assert found.count("True") == n * (n + 1) // 2
    assert found.count("False") == n * (n - 1) // 2
    assert found.count("✓") == n * (n + 1) // 2
    assert "la  (→ pizza)" in found and "pizza  (→ <end>)" in found
    for token in tokens:
        assert token in found


def test_causal_mask_diagram_without_predictions():
    found = texts(causal_mask_diagram(["a", "b"])).split("\n")
    assert found.count("True") == 3 and found.count("False") == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(tokens=[]),
        dict(tokens="<start> J'"),
        dict(tokens=["a", ""]),
        dict(tokens=["a", "b"], predicts=["x"]),
        dict(tokens=["a", "b"], predicts="xy"),
    ],
)
def test_causal_mask_diagram_rejects_bad_tokens(kwargs):
    with pytest.raises(CourseLibError):
        causal_mask_diagram(**kwargs)
