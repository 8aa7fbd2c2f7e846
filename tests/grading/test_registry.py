"""Hidden tests of the course's own exercises: every registered exercise can be graded.

The end-to-end test (``test_end_to_end.py``) goes further: it releases the chapters, which
runs every master solution cell in the sandbox against these cases.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course_lib.exercises import all_exercises, compare
from course_lib.grading.cases import prepare
from course_lib.grading.release import check_master

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = all_exercises()


@pytest.mark.parametrize("exercise_id", list(REGISTRY))
def test_exercise_crosses_the_sandbox_wall(exercise_id):
    """Inputs and reference outputs are plain data; names and points are sane."""
    exercise = REGISTRY[exercise_id]
    prepared = prepare(exercise)  # raises, naming the exercise and case, if not
    assert exercise.id.startswith(f"ch{exercise.chapter:02d}_")
    assert exercise.function.isidentifier()
    assert exercise.points > 0
    assert len(set(prepared.case_names)) == len(prepared.case_names), "case names repeat"
    again = prepare(exercise)
    for name, first, second in zip(prepared.case_names, prepared.expected, again.expected):
        assert compare(first, second, 0.0, 0.0) is None, f"case {name!r} is not deterministic"


@pytest.mark.parametrize("path", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_chapter_exercise_cells_are_registered(path):
    """Every exercise cell of a chapter names a registered exercise and has a solution region
    (what ``course-lib release`` checks before running anything)."""
    ids = check_master(nbformat.read(path, as_version=4), path.name, REGISTRY)
    assert all(REGISTRY[i].chapter == int(path.name[:2]) for i in ids)
