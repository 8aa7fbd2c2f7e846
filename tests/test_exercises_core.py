"""The exercise format (course_lib.exercises.core), the registry and the self-check's
handling of bad arguments."""

from __future__ import annotations

import pytest
import torch

from course_lib.errors import CourseLibError
from course_lib.exercises import Case, Exercise, ExerciseFailed, check, compare, get_exercise
from course_lib.exercises.core import dotted_name
from course_lib.exercises.registry import all_exercises, chapter_modules
from course_lib.masks import padding_mask


def test_chapter_modules_are_found_in_the_package():
    modules = chapter_modules()
    assert modules == sorted(modules) and modules[0] == "course_lib.exercises.ch01"
    assert {int(m[-2:]) for m in modules} == {e.chapter for e in all_exercises().values()}


def test_get_exercise_names_the_known_ids():
    with pytest.raises(CourseLibError, match="unknown exercise id 'ch99_x'; known ids: ch01_"):
        get_exercise("ch99_x")


def test_forbidden_objects_are_stored_as_dotted_names():
    assert dotted_name(padding_mask) == "course_lib.masks.padding_mask"
    assert dotted_name("torch.softmax") == "torch.softmax"
    exercise = Exercise(
        "t_x", 1, "x", "f", abs, lambda: [Case("one", (1,))], forbidden=(padding_mask, "torch.abs")
    )
    assert exercise.forbidden == ("course_lib.masks.padding_mask", "torch.abs")
    for bad in (42, lambda x: x, None):
        with pytest.raises(TypeError, match="forbidden entries"):
            dotted_name(bad)
    with pytest.raises(ValueError, match="kind must be one of"):
        Exercise("t_x", 1, "x", "f", abs, lambda: [], kind="quiz")


def test_compare_says_how_values_differ():
    assert compare(torch.ones(2), torch.ones(2)) is None
    assert "expected shape (2,)" in compare(torch.ones(2), torch.ones(3))
    assert "expected a tensor" in compare(torch.ones(2), [1.0, 1.0])
    assert "NaN" in compare(torch.ones(1), torch.tensor([float("nan")]))
    assert "expected 2 items" in compare([1, 2], [1])
    assert "expected keys" in compare({"a": 1}, {"b": 1})
    assert compare(0.1 + 0.2, 0.3) is None
    assert "expected 1" in compare(1, True)  # a bool is not an int here


def test_check_rejects_what_is_not_a_function():
    exercise = next(e for e in all_exercises().values() if e.kind != "checkpoint")
    with pytest.raises(ExerciseFailed, match="expected a function, got int"):
        check(exercise, 42)
