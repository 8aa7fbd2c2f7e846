"""Exercise registry: every chapter's exercises, by stable id.

Each chapter ``N`` lists its exercises in ``course_lib/exercises/chNN.py`` as
``EXERCISES: list[Exercise]``. Self-checks in notebooks call ``check(id, function)``.
"""

from __future__ import annotations

import importlib

from course_lib.errors import CourseLibError
from course_lib.exercises.core import (
    KINDS,
    Case,
    Exercise,
    ExerciseFailed,
    ForbiddenUse,
    call,
    check,
    compare,
    expected_outputs,
    run_submission,
)

CHAPTER_MODULES = [f"course_lib.exercises.ch{n:02d}" for n in range(1, 8)]


def all_exercises() -> dict[str, Exercise]:
    """All registered exercises, keyed by id, in chapter order."""
    registry: dict[str, Exercise] = {}
    for module_name in CHAPTER_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        for exercise in module.EXERCISES:
            if exercise.id in registry:
                raise CourseLibError(f"duplicate exercise id {exercise.id!r} in {module_name}")
            registry[exercise.id] = exercise
    return registry


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise with this id; a clear error listing the known ids otherwise."""
    registry = all_exercises()
    if exercise_id not in registry:
        known = ", ".join(registry) or "none"
        raise CourseLibError(f"unknown exercise id {exercise_id!r}; known ids: {known}")
    return registry[exercise_id]


__all__ = [
    "Case",
    "Exercise",
    "ExerciseFailed",
    "ForbiddenUse",
    "KINDS",
    "all_exercises",
    "call",
    "check",
    "compare",
    "expected_outputs",
    "get_exercise",
    "run_submission",
]
