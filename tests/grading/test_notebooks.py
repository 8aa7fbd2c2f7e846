"""Finding exercise cells and stripping solutions and hidden material."""

from __future__ import annotations

import os

import nbformat
import pytest
from fixture_notebooks import SOLUTIONS, master_notebook

from course_lib.errors import CourseLibError
from course_lib.grading.notebooks import (
    NotANotebook,
    find_exercise_cells,
    read_notebook,
    strip_hidden_tests,
    strip_solutions,
)

FUNCTIONS = {"fx_scale": "scale", "fx_softmax": "row_softmax", "fx_count": "count_words"}


def test_solution_region_becomes_not_implemented_keeping_signature_and_docstring():
    source, regions = strip_solutions(SOLUTIONS["fx_scale"])
    assert regions == 1
    assert "def scale(x, factor):" in source
    assert '"""Multiply every element of x by factor.' in source
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()" in source
    assert "return x * factor" not in source and "BEGIN SOLUTION" not in source


def test_nested_indentation_is_kept():
    source = "class A:\n    def f(self):\n        ### BEGIN SOLUTION\n        return 1\n        ### END SOLUTION\n"
    stripped, _ = strip_solutions(source)
    assert (
        stripped
        == "class A:\n    def f(self):\n        # YOUR CODE HERE\n        raise NotImplementedError()\n"
    )


def test_markdown_solution_region():
    stripped, regions = strip_solutions(
        "Q?\n### BEGIN SOLUTION\nAnswer.\n### END SOLUTION", "markdown"
    )
    assert (stripped, regions) == ("Q?\nYOUR ANSWER HERE", 1)


@pytest.mark.parametrize(
    "source, message",
    [
        ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("x = 1\n### END SOLUTION\n", "without"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another"),
    ],
)
def test_malformed_regions_are_errors_that_say_where(source, message):
    with pytest.raises(CourseLibError, match=f"cell 9.*{message}"):
        strip_solutions(source, where="cell 9")


def test_hidden_tests_are_removed_entirely():
    source = "check(1)\n### BEGIN HIDDEN TESTS\nassert secret\n### END HIDDEN TESTS\nend()"
    assert strip_hidden_tests(source) == ("check(1)\nend()", 1)


def test_cells_found_by_metadata_then_by_function_name():
    notebook = master_notebook(["fx_scale", "fx_softmax"])
    found = find_exercise_cells(notebook, FUNCTIONS)
    assert sorted(found) == ["fx_scale", "fx_softmax"]
    assert {c.found_by for c in found.values()} == {"metadata"}
    for cell in notebook.cells:  # as if an editor had dropped all metadata
        cell.metadata = {}
    found = find_exercise_cells(notebook, FUNCTIONS)
    assert found["fx_scale"].found_by == "function name"
    assert "return x * factor" in found["fx_scale"].source
    assert find_exercise_cells(notebook, FUNCTIONS, by_function_name=False) == {}


def test_nbgrader_grade_id_is_enough():
    notebook = master_notebook(["fx_count"])
    for cell in notebook.cells:
        cell.metadata.pop("course", None)
    found = find_exercise_cells(notebook, FUNCTIONS, by_function_name=False)
    assert list(found) == ["fx_count"]


def test_read_notebook_rejects_what_is_not_a_notebook(tmp_path):
    good = tmp_path / "good.ipynb"
    nbformat.write(master_notebook(["fx_count"]), good)
    assert len(read_notebook(good).cells) > 3
    cases = {
        "corrupt.ipynb": '{"cells": [',
        "list.ipynb": "[1, 2, 3]",
        "binary.ipynb": b"\xff\xfe\x00junk",
        "deep.ipynb": "[" * 200_000,
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(NotANotebook, match=name):
            read_notebook(path)
    link = tmp_path / "link.ipynb"
    os.symlink(good, link)
    with pytest.raises(NotANotebook, match="symbolic link"):
        read_notebook(link)
    with pytest.raises(NotANotebook, match="not a regular file"):
        read_notebook(tmp_path)


def test_a_checkpoint_answer_region_becomes_an_empty_answer():
    """The student copy of `ANSWER = ...` is `ANSWER = None`, so the self-check below it says
    "no answer yet" instead of raising NameError; code regions still raise."""
    source = "### BEGIN SOLUTION\nANSWER_SHAPE = (2, 8, 5, 64)\n### END SOLUTION"
    stripped, regions = strip_solutions(source)
    assert regions == 1
    assert stripped == "ANSWER_SHAPE = None  # your answer"
    mixed = "### BEGIN SOLUTION\nANSWER = 3\nprint(ANSWER)\n### END SOLUTION"
    assert "raise NotImplementedError()" in strip_solutions(mixed)[0]
