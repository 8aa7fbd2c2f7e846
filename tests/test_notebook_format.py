"""The chapter notebooks follow the course's format (see CONTRIBUTING.md).

- chapters are ``chapters/01_*.ipynb`` ... ``07_*.ipynb``, listed in ``_toc.yml`` in that order;
- the first markdown cell has an "Open in Colab" badge pointing at that very notebook;
- the first code cell is the Colab setup cell, tagged ``colab-setup``, installing the release
  tag of this version (``v`` + ``course_lib.__version__``) from the repository named in
  ``_config.yml``; the badge opens the notebook at the same tag
  (``python scripts/sync_install_cells.py`` rewrites both);
- exercise cells carry nbgrader metadata, solution markers, are collapsed on the website
  and are followed by their self-check cell;
- every code cell has been executed (the book and nbval compare against stored outputs).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from conftest import CHAPTERS_DIR, ROOT, book_config, chapter_paths

from scripts import sync_install_cells

CHAPTERS = chapter_paths()
IDS = [path.name for path in CHAPTERS]


def repository() -> tuple[str, str, str]:
    """(url, branch, path_to_book with a trailing slash or empty) from _config.yml."""
    repo = book_config()["repository"]
    prefix = repo.get("path_to_book", "").strip("/")
    return repo["url"].rstrip("/"), repo["branch"], f"{prefix}/" if prefix else ""


def colab_setup_source() -> str:
    """Installs the release tag of this version (``scripts/sync_install_cells.py`` writes it)."""
    url, _, _ = repository()
    return sync_install_cells.setup_source(url, release_tag())


def colab_url(path: Path) -> str:
    """Opens the notebook at the release tag, the one its setup cell installs."""
    url, _, prefix = repository()
    relative = path.relative_to(ROOT).as_posix()
    return sync_install_cells.colab_url(url, release_tag(), f"{prefix}{relative}")


def release_tag() -> str:
    return sync_install_cells.release_tag(sync_install_cells.read_version(ROOT))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_repository_is_a_github_url_named_once():
    url, branch, _ = repository()
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url), url
    assert branch == "main"
    config_text = (ROOT / "_config.yml").read_text(encoding="utf-8")
    assert config_text.count(url) == 1, "the repository URL must be defined once in _config.yml"


def test_seven_chapters_numbered_in_toc_order():
    names = [path.relative_to(ROOT).as_posix() for path in CHAPTERS]
    assert len(names) == 7, names
    for number, name in enumerate(names, start=1):
        assert re.fullmatch(rf"chapters/{number:02d}_[a-z0-9_]+\.ipynb", name), name
        assert (ROOT / name).is_file(), f"{name} is in _toc.yml but does not exist"
    on_disk = sorted(p.relative_to(ROOT).as_posix() for p in CHAPTERS_DIR.glob("*.ipynb"))
    assert on_disk == sorted(names), "every chapter notebook must be listed in _toc.yml"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_first_markdown_cell_has_colab_badge_for_this_chapter(path: Path):
    first = next(cell for cell in read(path).cells if cell.cell_type == "markdown")
    badge = (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({colab_url(path)})"
    )
    assert badge in first.source, f"{path.name}: first markdown cell must contain\n{badge}"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_first_code_cell_is_the_colab_setup(path: Path):
    first = next(cell for cell in read(path).cells if cell.cell_type == "code")
    assert first.source.strip() == colab_setup_source(), (
        f"{path.name}: the first code cell must be exactly\n{colab_setup_source()}\n"
        "(run: python scripts/sync_install_cells.py)"
    )
    assert "colab-setup" in first.metadata.get("tags", []), f"{path.name}: tag it colab-setup"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_every_code_cell_was_executed_without_error(path: Path):
    nb = read(path)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", path.name
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.get("execution_count") is not None, f"{path.name} cell {index} not executed"
        errors = [out for out in cell.outputs if out.output_type == "error"]
        assert not errors, f"{path.name} cell {index} stored an error: {errors[0].get('ename')}"


def exercise_problems(nb: nbformat.NotebookNode, name: str) -> list[str]:
    """Everything wrong with the exercise cells of ``nb`` (an empty list when all is well)."""
    problems = []
    cells = nb.cells
    for index, cell in enumerate(cells):
        exercise = cell.get("metadata", {}).get("course", {}).get("exercise")
        if exercise is None:
            continue
        where = f"{name} cell {index} (exercise {exercise})"
        points = cell.metadata["course"].get("points")
        grader = cell.metadata.get("nbgrader", {})
        expected = {"grade": False, "grade_id": exercise, "locked": False, "solution": True}
        for key, value in expected.items():
            if grader.get(key) != value:
                problems.append(
                    f"{where}: nbgrader.{key} must be {value!r}, is {grader.get(key)!r}"
                )
        if grader.get("schema_version") != 3:
            problems.append(f"{where}: nbgrader.schema_version must be 3")
        if not isinstance(points, (int, float)) or points <= 0:
            problems.append(f"{where}: course.points must be a positive number, is {points!r}")
        begin = cell.source.find("### BEGIN SOLUTION")
        end = cell.source.find("### END SOLUTION")
        if begin < 0 or end < begin:
            problems.append(f"{where}: needs ### BEGIN SOLUTION ... ### END SOLUTION, in order")
        if "hide-input" not in cell.metadata.get("tags", []):
            problems.append(f"{where}: tag it hide-input so the website collapses the solution")
        following = [c for c in cells[index + 1 :] if c.cell_type == "code"][:1]
        if not following:
            problems.append(f"{where}: must be followed by its self-check cell")
            continue
        check = following[0]
        check_grader = check.get("metadata", {}).get("nbgrader", {})
        wanted = {"grade": True, "locked": True, "solution": False, "grade_id": f"{exercise}_check"}
        for key, value in wanted.items():
            if check_grader.get(key) != value:
                problems.append(
                    f"{where}: its check cell needs nbgrader.{key} = {value!r}, "
                    f"has {check_grader.get(key)!r}"
                )
        if check_grader.get("points") != points:
            problems.append(
                f"{where}: check cell points {check_grader.get('points')!r} != {points!r}"
            )
        if f'check("{exercise}"' not in check.source:
            problems.append(f'{where}: the check cell must call check("{exercise}", ...)')
    return problems


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_exercise_cells_follow_the_nbgrader_format(path: Path):
    problems = exercise_problems(read(path), path.name)
    assert not problems, "\n".join(problems)


def test_exercise_ids_are_unique_across_chapters():
    seen: dict[str, str] = {}
    for path in CHAPTERS:
        for cell in read(path).cells:
            exercise = cell.get("metadata", {}).get("course", {}).get("exercise")
            if exercise is not None:
                assert exercise not in seen, f"{exercise} in {path.name} and {seen[exercise]}"
                seen[exercise] = path.name


# --- the exercise check itself, on a notebook made here -------------------------------------


def exercise_notebook(**changes) -> nbformat.NotebookNode:
    solution = nbformat.v4.new_code_cell(
        "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION",
        metadata={
            "nbgrader": {
                "grade": False,
                "grade_id": "ch09_f",
                "locked": False,
                "schema_version": 3,
                "solution": True,
                "task": False,
            },
            "course": {"exercise": "ch09_f", "points": 2},
            "tags": ["hide-input"],
        },
    )
    check = nbformat.v4.new_code_cell(
        'from course_lib.exercises import check\ncheck("ch09_f", f)',
        metadata={
            "nbgrader": {
                "grade": True,
                "grade_id": "ch09_f_check",
                "locked": True,
                "points": 2,
                "schema_version": 3,
                "solution": False,
                "task": False,
            }
        },
    )
    for key, value in changes.items():
        if key == "solution_source":
            solution.source = value
        elif key == "tags":
            solution.metadata["tags"] = value
        elif key == "check_points":
            check.metadata["nbgrader"]["points"] = value
        elif key == "drop_check":
            check = nbformat.v4.new_markdown_cell("no check")
    return nbformat.v4.new_notebook(cells=[solution, check])


def test_well_formed_exercise_passes():
    assert exercise_problems(exercise_notebook(), "nb") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"solution_source": "def f(x):\n    return x"}, "needs ### BEGIN SOLUTION"),
        ({"tags": []}, "tag it hide-input"),
        ({"check_points": 1}, "check cell points 1 != 2"),
        ({"drop_check": True}, "must be followed by its self-check cell"),
    ],
)
def test_malformed_exercise_is_reported(change, message):
    problems = exercise_problems(exercise_notebook(**change), "nb")
    assert any(message in problem for problem in problems), problems
