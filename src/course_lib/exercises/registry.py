"""The exercise registry: every chapter's exercises, by stable id.

Each chapter ``N`` lists its exercises in ``course_lib/exercises/chNN.py`` as
``EXERCISES: list[Exercise]``; the chapter modules are found in this package itself, so a
new chapter needs no list to be updated.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from course_lib.errors import CourseLibError
from course_lib.exercises.core import Exercise

_CHAPTER_MODULE = re.compile(r"ch\d\d")
_PACKAGE = __name__.rpartition(".")[0]  # course_lib.exercises


def chapter_modules() -> list[str]:
    """``course_lib.exercises.chNN`` for every chapter module of the package, in order."""
    names = [m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])]
    return [f"{_PACKAGE}.{n}" for n in sorted(names) if _CHAPTER_MODULE.fullmatch(n)]


def all_exercises() -> dict[str, Exercise]:
    """All registered exercises, keyed by id, in chapter order.

    Raises:
        CourseLibError: two exercises share an id.
    """
    registry: dict[str, Exercise] = {}
    for module_name in chapter_modules():
        for exercise in importlib.import_module(module_name).EXERCISES:
            if exercise.id in registry:
                raise CourseLibError(f"duplicate exercise id {exercise.id!r} in {module_name}")
            registry[exercise.id] = exercise
    return registry


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise with this id.

    Raises:
        CourseLibError: an unknown id (the message lists the known ones).
    """
    registry = all_exercises()
    if exercise_id not in registry:
        known = ", ".join(registry) or "none"
        raise CourseLibError(f"unknown exercise id {exercise_id!r}; known ids: {known}")
    return registry[exercise_id]
