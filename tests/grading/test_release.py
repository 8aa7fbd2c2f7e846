"""``course-lib release``: student copies, refusal on a failing reference, idempotence."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest
from fixture_notebooks import SOLUTIONS, master_notebook, solution_cell, write_masters

from course_lib.cli import main
from course_lib.errors import CourseLibError
from course_lib.grading.release import resolve_chapters

REGISTRY = ["--registry", "grading_fixture_exercises"]


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    base = tmp_path_factory.mktemp("release")
    masters = write_masters(base / "masters")
    before = digest(base / "masters")
    code = main(["release", *map(str, masters), "--out", str(base / "student"), *REGISTRY])
    assert code == 0
    return base, masters, before


def cells_of(path: Path):
    return nbformat.read(path, as_version=4).cells


def test_student_copy_has_no_solutions_and_keeps_the_rest(released):
    base, _, _ = released
    text = (base / "student" / "01_fixture_basics.ipynb").read_text()
    for solution_line in (
        "return x * factor",
        "exps.sum(dim=-1",
        "BEGIN SOLUTION",
        "secret",
        "HIDDEN TESTS",
        "instructor notes",
    ):
        assert solution_line not in text
    cells = cells_of(base / "student" / "01_fixture_basics.ipynb")
    exercise = next(c for c in cells if c.metadata.get("course", {}).get("exercise") == "fx_scale")
    assert exercise.source.startswith("import torch\n\n\ndef scale(x, factor):\n")
    assert '    """Multiply every element of x by factor.' in exercise.source
    assert exercise.source.endswith("    # YOUR CODE HERE\n    raise NotImplementedError()\n")
    assert exercise.metadata["nbgrader"]["grade_id"] == "fx_scale"
    assert exercise.metadata["nbgrader"]["solution"] is True
    assert exercise.metadata["tags"] == ["hide-input"]
    check = cells[cells.index(exercise) + 1]
    assert check.source == 'from course_lib.exercises import check\ncheck("fx_scale", scale)\n'
    for cell in cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    notebook = nbformat.read(base / "student" / "01_fixture_basics.ipynb", as_version=4)
    assert "widgets" not in notebook.metadata
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_release_is_idempotent_and_never_touches_the_masters(released, capsys):
    base, masters, before = released
    first = digest(base / "student")
    code = main(["release", *map(str, masters), "--out", str(base / "student"), *REGISTRY])
    assert code == 0
    assert "unchanged" in capsys.readouterr().out
    assert digest(base / "student") == first
    assert digest(base / "masters") == before


def test_a_failing_reference_stops_the_release(tmp_path, capsys):
    masters = write_masters(tmp_path / "masters")
    notebook = nbformat.read(masters[0], as_version=4)
    for i, cell in enumerate(notebook.cells):
        if cell.metadata.get("course", {}).get("exercise") == "fx_softmax":
            wrong = SOLUTIONS["fx_softmax"].replace("exps / exps.sum", "exps * exps.sum")
            notebook.cells[i] = solution_cell("fx_softmax", wrong)
    nbformat.write(notebook, masters[0])
    before = digest(tmp_path / "masters")
    code = main(["release", str(tmp_path / "masters"), "--out", str(tmp_path / "out"), *REGISTRY])
    assert code == 2
    error = capsys.readouterr().err
    assert "refusing to release" in error and "fx_softmax" in error and "fx_scale" not in error
    assert "values differ" in error
    assert not (tmp_path / "out").exists()
    assert digest(tmp_path / "masters") == before


def write_one(tmp_path: Path, notebook) -> Path:
    path = tmp_path / "masters" / "01_one.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda nb: nb.cells[4].metadata["course"].update(exercise="fx_nope"),
            "exercise 'fx_nope' is not registered",
        ),
        (
            lambda nb: nb.cells[4].metadata["nbgrader"].update(grade_id="other"),
            "grade_id is 'other', expected 'fx_count'",
        ),
        (
            lambda nb: setattr(nb.cells[4], "source", "def count_words(s):\n    return {}\n"),
            "no '### BEGIN SOLUTION' region",
        ),
        (
            lambda nb: setattr(
                nb.cells[4], "source", "def count_words(s):\n    ### BEGIN SOLUTION\n"
            ),
            "never closed",
        ),
        (lambda nb: nb.cells.append(solution_cell("fx_count")), "appears twice"),
    ],
)
def test_malformed_masters_are_refused_before_anything_runs(tmp_path, capsys, change, message):
    notebook = master_notebook(["fx_count"])
    change(notebook)
    path = write_one(tmp_path, notebook)
    code = main(["release", str(path), "--out", str(tmp_path / "out"), *REGISTRY])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_output_folder_must_not_be_the_masters(tmp_path, capsys):
    path = write_one(tmp_path, master_notebook(["fx_count"]))
    code = main(["release", str(path), "--out", str(path.parent), *REGISTRY])
    assert code == 2
    assert "refusing to overwrite master" in capsys.readouterr().err


def test_chapter_arguments(tmp_path):
    masters = write_masters(tmp_path / "chapters")
    assert resolve_chapters(["1", "2"], tmp_path / "chapters") == [p.resolve() for p in masters]
    assert resolve_chapters([str(tmp_path / "chapters")]) == [p.resolve() for p in masters]
    with pytest.raises(CourseLibError, match="no notebook for chapter 9"):
        resolve_chapters(["9"], tmp_path / "chapters")
    with pytest.raises(CourseLibError, match="is not a notebook, a folder or a chapter number"):
        resolve_chapters([str(tmp_path / "missing.ipynb")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(CourseLibError, match="contains no .ipynb"):
        resolve_chapters([str(tmp_path / "empty")])


def test_bad_registry_module_is_named(tmp_path, capsys):
    path = write_one(tmp_path, master_notebook(["fx_count"]))
    code = main(["release", str(path), "--out", str(tmp_path / "o"), "--registry", "no_such_mod"])
    assert code == 2
    assert "cannot import exercise registry 'no_such_mod'" in capsys.readouterr().err
