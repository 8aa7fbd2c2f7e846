"""Shared checks of the exercise tests: reference cases are deterministic, a chapter's
solution cells run alone (as the grader runs a student's cell), and wrong answers are
rejected with the exercise's hint."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_lib.exercises import Exercise, ExerciseFailed, check, compare, expected_outputs


def assert_cases_deterministic(exercise: Exercise, min_cases: int = 3) -> None:
    """The exercise has at least ``min_cases`` cases and its reference gives the same expected
    outputs twice (what a student is graded against must not move)."""
    first, second = expected_outputs(exercise), expected_outputs(exercise)
    assert len(first) >= min_cases
    for (case, a), (_, b) in zip(first, second):
        assert compare(a, b) is None, case.name


def solution_cells(notebook: Path) -> dict[str, str]:
    """``{exercise id: source}`` of the code cells tagged ``{"course": {"exercise": id}}``."""
    return {
        cell.metadata["course"]["exercise"]: cell.source
        for cell in nbformat.read(notebook, as_version=4).cells
        if cell.cell_type == "code" and cell.get("metadata", {}).get("course", {}).get("exercise")
    }


def run_solution_alone(exercise: Exercise, notebook: Path) -> None:
    """Run the chapter's solution cell of ``exercise`` in a fresh namespace (the cell must be
    self-contained) and check its function against the exercise's cases."""
    cells = solution_cells(notebook)
    assert exercise.id in cells, f"{notebook.name} has no solution cell for {exercise.id}"
    source = cells[exercise.id]
    assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source
    namespace: dict = {}
    exec(compile(source, f"<{exercise.id}>", "exec"), namespace)  # noqa: S102 - our own notebook
    check(exercise, namespace[exercise.function])


def assert_rejected_with_hint(exercise: Exercise, wrong) -> None:
    """A wrong answer fails with the expected value and the exercise's hint in the message."""
    with pytest.raises(ExerciseFailed) as info:
        check(exercise, wrong)
    message = str(info.value)
    assert "Expected" in message and "Hint" in message, message
    assert exercise.hint in message


def assert_student_version_says_not_implemented(exercise: Exercise, notebook: Path) -> None:
    """The chapter's solution cell with its solution region replaced (as in a student copy)
    defines a function whose self-check says "not implemented yet"."""
    source = solution_cells(notebook)[exercise.id]
    student = re.sub(
        r"### BEGIN SOLUTION.*?### END SOLUTION", "raise NotImplementedError()", source, flags=re.S
    )
    namespace: dict = {}
    exec(compile(student, exercise.id, "exec"), namespace)  # noqa: S102 - our own notebook
    with pytest.raises(ExerciseFailed, match="not implemented yet"):
        check(exercise, namespace[exercise.function])


def assert_solution_followed_by_its_self_check(exercise: Exercise, notebook: Path) -> None:
    """The solution cell carries the nbgrader metadata, is collapsed on the website, and the
    locked self-check cell right after it calls ``check`` on the answer."""
    cells = nbformat.read(notebook, as_version=4).cells
    index = next(
        i
        for i, c in enumerate(cells)
        if c.metadata.get("course", {}).get("exercise") == exercise.id
    )
    solution, self_check = cells[index], cells[index + 1]
    assert solution.metadata["nbgrader"]["grade_id"] == exercise.id
    assert solution.metadata["nbgrader"]["solution"] is True
    assert "hide-input" in solution.metadata.get("tags", [])
    assert "### BEGIN SOLUTION" in solution.source and "### END SOLUTION" in solution.source
    assert self_check.metadata["nbgrader"]["grade_id"] == f"{exercise.id}_check"
    assert self_check.metadata["nbgrader"]["locked"] is True
    assert f'check("{exercise.id}", {exercise.function})' in self_check.source
