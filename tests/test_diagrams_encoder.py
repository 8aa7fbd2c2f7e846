"""Chapter 3's encoder layer diagram (course_lib.diagrams.encoder): a closed Figure with
the requested wirings, and unknown norms raise CourseLibError."""

from __future__ import annotations

import pytest
from diagram_helpers import assert_closed_figure, labels, texts

from course_lib.diagrams.encoder import encoder_layer_diagram
from course_lib.errors import CourseLibError


@pytest.mark.parametrize(
    ("norm", "titles"),
    [
        ("both", ["post-norm (the paper, §3.1)", "pre-norm (norm_first=True)"]),
        ("post", ["post-norm (the paper, §3.1)"]),
        ("pre", ["pre-norm (norm_first=True)"]),
    ],
)
def test_encoder_layer_diagram_draws_the_requested_wirings(norm, titles):
    fig = encoder_layer_diagram(norm)
    assert_closed_figure(fig)
    found = texts(fig)
    for title in titles:
        assert title in found
    panels = len(titles)
    assert found.count("multi-head\nself-attention") == panels
    assert labels(fig).count("LayerNorm") == 2 * panels
    assert found.count("residual") == 2 * panels
    assert ("a final LayerNorm" in found) == (norm != "post")


@pytest.mark.parametrize("norm", ["both ", "postnorm", None, 1])
def test_encoder_layer_diagram_rejects_unknown_norms(norm):
    with pytest.raises(CourseLibError, match="norm must be"):
        encoder_layer_diagram(norm)
