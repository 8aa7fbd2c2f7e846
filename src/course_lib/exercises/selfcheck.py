"""The visible self-check a notebook runs after an exercise: :func:`check`.

It runs every case in the student's own kernel and explains the first failure (a
checkpoint question never reveals the expected value). The grader does not use it: it
runs the student's cell in a sandbox (:mod:`course_lib.grading`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from course_lib.exercises.core import (
    Case,
    Exercise,
    ExerciseFailed,
    call,
    compare,
    describe,
    expected_outputs,
    run_submission,
)
from course_lib.exercises.registry import get_exercise


def check(exercise: Exercise | str, function: Any) -> None:
    """The visible self-check: run every case, raise :class:`ExerciseFailed` on the first failure.

    Args:
        exercise: the :class:`Exercise` or its id (looked up in the registry).
        function: the student's implementation, or for a checkpoint question the
            student's answer (the value of the answer variable).
    """
    if isinstance(exercise, str):
        exercise = get_exercise(exercise)
    if exercise.kind == "checkpoint":
        _check_checkpoint(exercise, function)
        return
    if not callable(function):
        raise ExerciseFailed(f"{exercise.id}: expected a function, got {type(function).__name__}")
    results: Sequence[tuple[Case, Any]] = expected_outputs(exercise)
    for case, expected in results:
        try:
            received = call(function, case)
        except NotImplementedError:
            raise ExerciseFailed(
                f"{exercise.id} ({exercise.title}): not implemented yet - "
                f"replace `raise NotImplementedError()` with your code."
            ) from None
        except Exception as error:  # the student's code raised: say where, keep it short
            raise ExerciseFailed(
                f"{exercise.id} ({exercise.title}), case '{case.name}': your function raised "
                f"{type(error).__name__}: {error}\nHint: {exercise.hint}"
            ) from error
        problem = compare(expected, received, exercise.atol, exercise.rtol)
        if problem:
            raise ExerciseFailed(
                f"{exercise.id} ({exercise.title}), case '{case.name}': {problem}.\n"
                f"Expected: {describe(expected)}\nReceived: {describe(received)}\n"
                f"Hint: {exercise.hint}"
            )
    print(f"✓ {exercise.id}: all {len(results)} checks passed ({exercise.title}).")
    if exercise.explanation:
        print(exercise.explanation)


def _check_checkpoint(exercise: Exercise, answer: Any) -> None:
    """A checkpoint's self-check: compare the answer, never reveal the expected value.

    After a wrong answer only the hint is shown (so the question keeps its point);
    after a right one, the explanation.
    """
    if answer is None or answer is Ellipsis:
        raise ExerciseFailed(
            f"{exercise.id} ({exercise.title}): no answer yet - "
            f"assign your answer to `{exercise.function}`."
        )
    for case, expected in expected_outputs(exercise):
        try:
            received = run_submission(exercise, answer, case)
        except Exception as error:
            raise ExerciseFailed(
                f"{exercise.id} ({exercise.title}): your answer could not be read "
                f"({type(error).__name__}: {error}).\nHint: {exercise.hint}"
            ) from error
        if compare(expected, received, exercise.atol, exercise.rtol):
            raise ExerciseFailed(
                f"{exercise.id} ({exercise.title}): not quite - think again.\nHint: {exercise.hint}"
            )
    print(f"✓ {exercise.id}: correct ({exercise.title}).")
    if exercise.explanation:
        print(exercise.explanation)
