"""Tests for course_lib.notebook: the seven-step map and show_source."""

from __future__ import annotations

import inspect

import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from course_lib.diagrams.draw import COLORS
from course_lib.errors import CourseLibError
from course_lib.notebook import STEPS, seven_step_map, show_source


def box_colours(fig: Figure) -> list[str]:
    boxes = [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
    return [to_hex(p.get_facecolor()) for p in boxes]


def test_map_has_seven_boxes_and_titles():
    fig = seven_step_map()
    assert isinstance(fig, Figure)
    assert len(box_colours(fig)) == 7
    texts = [t.get_text() for t in fig.axes[0].texts]
    for step in STEPS:
        assert f"{step.number}. {step.title}" in texts
    assert fig._suptitle.get_text() == "The Transformer, step by step"


@pytest.mark.parametrize("step", range(1, 8))
def test_map_highlights_exactly_one_step(step):
    colours = box_colours(seven_step_map(step))
    highlighted = [i + 1 for i, colour in enumerate(colours) if colour == COLORS["orange"].lower()]
    assert highlighted == [step]
    assert seven_step_map(step)._suptitle.get_text().startswith(f"Step {step} of 7")


def test_map_is_not_left_open_in_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    seven_step_map(3)
    assert plt.get_fignums() == before


@pytest.mark.parametrize("bad", [0, 8, -1])
def test_map_rejects_out_of_range_step(bad):
    with pytest.raises(CourseLibError, match=r"step must be from 1 to 7 or None, got -?\d"):
        seven_step_map(bad)


@pytest.mark.parametrize("bad", ["3", 2.0, True])
def test_map_rejects_non_int_step(bad):
    with pytest.raises(CourseLibError, match="step must be an int from 1 to 7 or None, got"):
        seven_step_map(bad)


class Example:
    def method(self) -> int:
        return 1


def test_show_source_returns_the_exact_source_as_python_markdown():
    shown = show_source(seven_step_map)
    assert shown.data.startswith("```python\ndef seven_step_map(")
    assert shown.data.endswith("\n```")
    assert inspect.getsource(seven_step_map).rstrip() in shown.data


def test_show_source_dedents_methods():
    shown = show_source(Example.method)
    assert shown.data.startswith("```python\ndef method(self) -> int:\n    return 1")


@pytest.mark.parametrize("bad", ["not code", 3, None])
def test_show_source_rejects_non_code(bad):
    with pytest.raises(CourseLibError, match="show_source: expected a function, class or method"):
        show_source(bad)


def test_show_source_rejects_builtins():
    with pytest.raises(CourseLibError, match="show_source: expected a function, class or method"):
        show_source(len)


def test_show_source_rejects_classes_without_python_source():
    with pytest.raises(CourseLibError, match="show_source: no Python source for <class 'int'>"):
        show_source(int)


def test_glue_without_myst_nb_does_nothing_and_checks_the_name(monkeypatch):
    import sys

    from course_lib.notebook import glue

    monkeypatch.setitem(sys.modules, "myst_nb", None)  # "not installed", as in Colab
    assert glue("ch2_example", "3.0%") is None
    with pytest.raises(CourseLibError):
        glue("", "3.0%")
