"""``course_lib.notebook.widget_stack``: a Stack with ipywidgets 8, a Tab with Colab's ipywidgets 7.

Chapter 5 links a slider to it in the browser (``jslink`` to ``selected_index``); both
widgets have that trait, so the slider works on the website and in Colab alike. ``make
oldest`` and ``make colab-test`` run this with ipywidgets 7 installed.
"""

from __future__ import annotations

import ipywidgets
import pytest

from course_lib.errors import CourseLibError
from course_lib.notebook import widget_stack


def pages(n: int = 3) -> list:
    return [ipywidgets.HTML(f"<p>page {k}</p>") for k in range(n)]


def test_stack_follows_a_slider_through_selected_index():
    stack = widget_stack(pages(), selected_index=1)
    assert stack.selected_index == 1
    assert len(stack.children) == 3
    slider = ipywidgets.IntSlider(value=1, min=0, max=2)
    link = ipywidgets.jslink((slider, "value"), (stack, "selected_index"))
    assert link.target == (stack, "selected_index")
    expected = "Stack" if hasattr(ipywidgets, "Stack") else "Tab"
    assert type(stack).__name__ == expected


def test_without_stack_it_is_a_numbered_tab(monkeypatch):
    if hasattr(ipywidgets, "Stack"):
        monkeypatch.delattr(ipywidgets, "Stack")
    tab = widget_stack(pages(4), selected_index=2)
    assert isinstance(tab, ipywidgets.Tab)
    assert tab.selected_index == 2
    assert [tab.get_title(i) for i in range(4)] == ["0", "1", "2", "3"]


@pytest.mark.parametrize(("children", "index"), [([], 0), (None, 5), (None, -1)])
def test_bad_arguments_name_the_problem(children, index):
    with pytest.raises(CourseLibError, match="widget_stack"):
        widget_stack(pages() if children is None else children, selected_index=index)
