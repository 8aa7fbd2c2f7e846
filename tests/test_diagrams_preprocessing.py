"""Tests for course_lib.diagrams.preprocessing: chapter 2's input-pipeline diagram."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from course_lib.diagrams.preprocessing import input_pipeline
from course_lib.errors import CourseLibError


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts]


def test_running_example_shows_every_stage():
    fig = input_pipeline("I love pizza", ["i", "love", "pizza"], [15, 35, 74], d_model=512)
    assert isinstance(fig, Figure)
    shown = texts(fig)
    assert "“I love pizza”" in shown
    for token, token_id in zip(["i", "love", "pizza"], [15, 35, 74]):
        assert token in shown
        assert str(token_id) in shown
        assert f"E[{token_id}]\n× √512" in shown
    for position in range(3):
        assert f"PE[{position}]\nposition {position}" in shown
    assert "x₀: 512 numbers" in shown and "x₂: 512 numbers" in shown
    assert any("(1, 3, 512)" in text for text in shown)


def test_square_d_model_is_simplified_and_figure_is_closed():
    before = plt.get_fignums()
    fig = input_pipeline("Go.", ["go", "."], [7, 9], d_model=64)
    assert "E[7]\n× 8" in texts(fig)
    assert plt.get_fignums() == before  # closed: a notebook shows it once


@pytest.mark.parametrize(
    "args",
    [
        ("", ["i"], [1], 8),
        ("I", [], [], 8),
        ("I", "i", [1], 8),
        ("I", ["i", ""], [1, 2], 8),
        ("I love pizza", ["i", "love", "pizza"], [15, 35], 8),
        ("I", ["i"], [-1], 8),
        ("I", ["i"], [True], 8),
        ("I", ["i"], [1.5], 8),
        ("I", ["i"], [1], 0),
        ("I", ["i"], [1], True),
        ("long", ["a"] * 7, list(range(7)), 8),
    ],
)
def test_bad_arguments_raise_course_lib_error(args):
    with pytest.raises(CourseLibError):
        input_pipeline(*args)
