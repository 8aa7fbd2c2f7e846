"""Master notebooks in the course's exercise format, for the grading tests.

``write_masters(folder)`` writes two chapters that use the exercises of
``grading_fixture_exercises``: solution cells with nbgrader/course metadata and
``### BEGIN SOLUTION`` regions, self-check cells with hidden-test regions, a cell tagged
``remove-student`` and stored outputs, as the real chapters have.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

SOLUTIONS = {
    "fx_scale": '''import torch


def scale(x, factor):
    """Multiply every element of x by factor.

    x: tensor of any shape; returns a tensor of the same shape.
    """
    ### BEGIN SOLUTION
    return x * factor
    ### END SOLUTION
''',
    "fx_softmax": '''import torch


def row_softmax(x):
    """Softmax over the last dimension. x: (rows, columns) -> (rows, columns)."""
    ### BEGIN SOLUTION
    shifted = x - x.max(dim=-1, keepdim=True).values
    exps = shifted.exp()
    return exps / exps.sum(dim=-1, keepdim=True)
    ### END SOLUTION
''',
    "fx_count": '''def count_words(sentence):
    """Count each lower-cased word of a sentence: str -> dict[str, int]."""
    ### BEGIN SOLUTION
    counts = {}
    for word in sentence.lower().split():
        counts[word] = counts.get(word, 0) + 1
    return counts
    ### END SOLUTION
''',
}
FUNCTIONS = {"fx_scale": "scale", "fx_softmax": "row_softmax", "fx_count": "count_words"}
POINTS = {"fx_scale": 3, "fx_softmax": 2, "fx_count": 1}
CHAPTERS = {
    "01_fixture_basics.ipynb": ["fx_scale", "fx_softmax"],
    "02_fixture_words.ipynb": ["fx_count"],
}


def solution_cell(exercise_id: str, source: str | None = None):
    cell = new_code_cell(source if source is not None else SOLUTIONS[exercise_id])
    cell.metadata = {
        "nbgrader": {
            "grade": False,
            "grade_id": exercise_id,
            "locked": False,
            "schema_version": 3,
            "solution": True,
            "task": False,
        },
        "course": {"exercise": exercise_id, "points": POINTS[exercise_id]},
        "tags": ["hide-input"],
    }
    cell.execution_count = 7
    return cell


def check_cell(exercise_id: str):
    source = (
        "from course_lib.exercises import check\n"
        f'check("{exercise_id}", {FUNCTIONS[exercise_id]})\n'
        "### BEGIN HIDDEN TESTS\n"
        f"assert {FUNCTIONS[exercise_id]} is not None  # secret\n"
        "### END HIDDEN TESTS\n"
    )
    cell = new_code_cell(source)
    cell.metadata = {
        "nbgrader": {
            "grade": True,
            "grade_id": f"{exercise_id}_check",
            "locked": True,
            "points": POINTS[exercise_id],
            "schema_version": 3,
            "solution": False,
            "task": False,
        },
    }
    cell.outputs = [new_output("stream", name="stdout", text=f"✓ {exercise_id}: passed\n")]
    cell.execution_count = 8
    return cell


def master_notebook(exercise_ids: list[str]):
    intro = new_code_cell("print('I love pizza')")
    intro.outputs = [new_output("stream", name="stdout", text="I love pizza\n")]
    intro.execution_count = 1
    instructor = new_code_cell("# instructor notes: answers are in the solution cells")
    instructor.metadata = {"tags": ["remove-student"]}
    cells = [new_markdown_cell("# A fixture chapter\n\nExercises below."), intro, instructor]
    for exercise_id in exercise_ids:
        cells += [
            new_markdown_cell(f"### Exercise {exercise_id}"),
            solution_cell(exercise_id),
            check_cell(exercise_id),
        ]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return notebook


def write_masters(folder: Path) -> list[Path]:
    """Write the fixture master notebooks into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, ids in CHAPTERS.items():
        path = folder / name
        nbformat.write(master_notebook(ids), path)
        paths.append(path)
    return paths
