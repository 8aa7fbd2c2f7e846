"""Exercises: the format (:mod:`.core`), the registry of every chapter's exercises
(:mod:`.registry`, one ``chNN.py`` per chapter) and the notebooks' self-check
(:mod:`.selfcheck`). Self-checks in notebooks call ``check(id, function)``.
"""

from __future__ import annotations

from course_lib.exercises.core import (
    KINDS,
    Case,
    Exercise,
    ExerciseFailed,
    ForbiddenUse,
    call,
    compare,
    expected_outputs,
    run_submission,
)
from course_lib.exercises.registry import all_exercises, get_exercise
from course_lib.exercises.selfcheck import check

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
