"""The building blocks of the layer diagrams (course_lib.diagrams.layers)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from course_lib.diagrams.layers import (
    ADD,
    PART_COLORS,
    check_norm,
    check_words,
    draw_column,
    draw_residual,
    sublayer,
)
from course_lib.errors import CourseLibError


def test_draw_column_stacks_items_upwards_and_residual_joins_them():
    fig, ax = plt.subplots()
    items = [sublayer("attention", "attention"), ADD, sublayer("LayerNorm", "norm", 0.45)]
    rects = draw_column(ax, 1.0, 0.5, 2.0, items, gap=0.3)
    assert len(rects) == 3
    assert rects[0][1] == 0.5 and rects[1][1] > rects[0][1] and rects[2][1] > rects[1][1]
    assert rects[1][2] == rects[1][3] == ADD.height  # the sum is a circle in its square
    draw_residual(ax, rects, 0, 1, lane_x=-0.5, label="residual")
    assert "residual" in [t.get_text() for t in ax.texts]
    plt.close(fig)


def test_sublayer_colours_come_from_the_part():
    assert sublayer("x", "feed_forward").color == PART_COLORS["feed_forward"]
    with pytest.raises(KeyError):
        sublayer("x", "no such part")


def test_checks_reject_bad_arguments():
    assert check_words(("I", "love"), "words", "f") == ["I", "love"]
    for bad in ("I love", [], ["I", ""], [1], None):
        with pytest.raises(CourseLibError, match="f: "):
            check_words(bad, "words", "f")
    check_norm("pre", "f")
    with pytest.raises(CourseLibError, match="norm must be"):
        check_norm("middle", "f")
