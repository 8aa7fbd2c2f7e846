"""Turning what came back from the sandbox into points.

Nothing the sandbox sends is trusted: a record is only read as data, an output earns its
case's points only when :func:`course_lib.exercises.compare` finds it equal to the
reference this process computed (:mod:`course_lib.grading.cases`), and a malformed record
counts as a crash.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from course_lib.exercises import Exercise, compare
from course_lib.grading import plaindata
from course_lib.grading.cases import PreparedExercise
from course_lib.grading.isolation import BUBBLEWRAP
from course_lib.grading.jobs import SandboxRun
from course_lib.grading.results import (
    SANDBOX_DID_NOT_FINISH,
    CaseResult,
    ExerciseResult,
    StudentResult,
)

REFERENCE_ISOLATION_NOTES = {
    "search-path": (
        "student code imported a stubbed copy of course_lib first, but other copies (and, "
        "without bubblewrap, the real package with its reference solutions) could still "
        "be found on disk by code that looks for them"
    ),
    "none": "student code was not given a stubbed copy of course_lib",
}
_SANDBOX_OUTCOMES = ("completed", "cell-error", "timeout", "memory", "crashed", "exited")
MAX_MESSAGE = 2000


def score_run(
    result: StudentResult,
    run: SandboxRun,
    prepared: Mapping[str, PreparedExercise],
    timeout: float,
) -> None:
    """Fill ``result.exercises[id]`` for every exercise of ``prepared`` that was sent to
    the sandbox, from ``run`` (the job's untrusted records); ``timeout`` is the job's
    wall-clock limit, for the messages."""
    result.stdout, result.stderr = run.stdout[-4000:], run.stderr[-4000:]
    records: dict[str, dict[str, Any]] = {}
    finished = False
    for record in run.records:
        if record.get("event") == "exercise" and record.get("id") in prepared:
            records.setdefault(record["id"], record)
        elif record.get("event") == "done":
            finished = True
    if run.result_truncated:
        result.notes.append("the submission sent more result data than the grader reads")
    copies = {str(r.get("copy", "none")) for r in records.values()}
    result.reference_isolation = _weakest_copy(copies, run.isolation)
    if result.reference_isolation != "private-mount" and records:
        mode = result.reference_isolation.split(" ")[0]
        result.notes.append(
            "WARNING: weaker protection of the references: "
            + REFERENCE_ISOLATION_NOTES.get(mode, result.reference_isolation)
        )
    for exercise_id, exercise_prepared in prepared.items():
        entry = result.exercises[exercise_id]
        record = records.get(exercise_id)
        if record is None:
            _score_lost(entry, exercise_prepared, run, timeout)
        else:
            _score_record(entry, exercise_prepared, record)
    if not finished and not run.timed_out:
        result.notes.append(f"{SANDBOX_DID_NOT_FINISH} (exit status {run.returncode})")


def _score_lost(
    entry: ExerciseResult, prepared: PreparedExercise, run: SandboxRun, timeout: float
) -> None:
    """An exercise the sandbox sent nothing for: the job timed out or ended early."""
    entry.outcome = "timeout" if run.timed_out else "crashed"
    if run.timed_out:
        entry.message = (
            f"the submission's time limit ({timeout:g} s) ran out before this exercise finished"
        )
    else:
        entry.message = f"the sandbox ended before this exercise ran (exit status {run.returncode})"
    fill_cases(entry, prepared, [], entry.message)


def _score_record(
    entry: ExerciseResult, prepared: PreparedExercise, record: dict[str, Any]
) -> None:
    outcome = record.get("outcome")
    message = str(record.get("message", ""))[:MAX_MESSAGE]
    if outcome not in _SANDBOX_OUTCOMES:
        outcome, message = "crashed", "the sandbox sent a malformed result"
    entry.outcome = {"completed": "graded", "exited": "crashed"}.get(outcome, outcome)
    entry.message = message
    cases = record.get("cases")
    fill_cases(entry, prepared, cases if isinstance(cases, list) else [], message or "not run")
    reached = record.get("forbidden")
    if isinstance(reached, list) and reached:
        names = ", ".join(str(n)[:200] for n in reached[:5])
        entry.outcome = "forbidden"
        entry.message = (
            f"while it ran, your code reached {names}, which this exercise does not "
            f"allow (a reference solution, or the library function you are asked to "
            f"write); no points for this exercise"
        )
        entry.points = 0.0
        for case in entry.cases:
            case.passed, case.points = False, 0.0
            case.message = "not counted: forbidden function reached"


def fill_cases(
    entry: ExerciseResult, prepared: PreparedExercise, received: list[Any], not_run: str
) -> None:
    """One :class:`CaseResult` per prepared case, compared
    with what came back (``received[i]`` is ``{"output": ...}``, ``{"error": ...}`` or
    missing), and the exercise's points."""
    earned = 0.0
    weights = prepared.weights()
    for index, (name, expected) in enumerate(zip(prepared.case_names, prepared.expected)):
        item = received[index] if index < len(received) else None
        case = CaseResult(name, False, group=prepared.groups[index], max_points=weights[index])
        if isinstance(item, dict) and "output" in item:
            case.passed, case.message = check_output(expected, item["output"], prepared.exercise)
        elif isinstance(item, dict) and "error" in item:
            case.message = f"your function raised {str(item['error'])[:MAX_MESSAGE]}"
            if str(item["error"]).startswith("not implemented"):
                case.message = "not implemented yet"
        else:
            case.message = f"not run: {not_run}"
        if case.passed:
            case.points = case.max_points
            earned += weights[index]
        entry.cases.append(case)
    entry.points = float(round(earned, 4)) if math.isfinite(earned) else 0.0


def check_output(expected: Any, encoded: Any, exercise: Exercise) -> tuple[bool, str]:
    """Whether an encoded output from the sandbox equals the reference, and if not why."""
    try:
        received = plaindata.decode(encoded, objects="dict")
    except (plaindata.PlainDataError, RecursionError, ValueError, TypeError) as error:
        return False, f"unreadable output: {str(error)[:300]}"
    try:
        problem = compare(expected, received, exercise.atol, exercise.rtol)
    except Exception as error:  # exotic values compare() was not written for
        return False, f"cannot compare your output: {type(error).__name__}: {str(error)[:300]}"
    return (problem is None), (problem or "")


def _weakest_copy(copies: set[str], isolation: str) -> str:
    """The weakest protection any exercise's copy of ``course_lib`` had."""
    for mode in ("none", "search-path"):
        for copy in sorted(copies):
            if copy.startswith(mode):
                return copy
    return "private-mount" if copies else ("private-mount" if isolation == BUBBLEWRAP else "")
