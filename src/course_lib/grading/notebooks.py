"""Reading chapter notebooks: exercise cells, solution regions, hidden material.

An exercise cell is a code cell whose metadata says ``{"course": {"exercise": ID}}``
(the nbgrader ``grade_id`` carries the same ID). Its function body sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION``. Hidden material is removed from student
copies: cells tagged ``remove-student`` (or ``hidden``) and anything between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from course_lib.errors import CourseLibError

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
REMOVE_TAGS = frozenset({"remove-student", "hidden"})
MAX_NOTEBOOK_BYTES = 50_000_000


class NotANotebook(CourseLibError):
    """A file that is not a readable Jupyter notebook."""


@dataclass(frozen=True)
class ExerciseCell:
    """The source of one exercise cell found in a notebook."""

    exercise_id: str
    source: str
    notebook: str
    index: int
    found_by: str  # "metadata" or "function name"


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Parse ``path`` as a version-4 notebook without trusting it.

    Raises:
        NotANotebook: a symbolic link, too large, not JSON, or not a notebook.
    """
    path = Path(path)
    if path.is_symlink():
        raise NotANotebook(f"{path.name} is a symbolic link; submit the notebook file itself")
    if not path.is_file():
        raise NotANotebook(f"{path.name} is not a regular file")
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise NotANotebook(f"{path.name} is {size} bytes, more than {MAX_NOTEBOOK_BYTES}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
        notebook = nbformat.reads(text, as_version=4)
    except RecursionError:
        raise NotANotebook(f"{path.name} is nested too deeply to be a notebook") from None
    except Exception as error:  # nbformat raises many kinds; all mean "not a notebook"
        raise NotANotebook(
            f"{path.name} is not a readable notebook ({type(error).__name__}: {str(error)[:200]})"
        ) from None
    cells = notebook.get("cells")
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise NotANotebook(f"{path.name} has no list of cells")
    return notebook


def cell_source(cell: Mapping[str, Any]) -> str:
    """A cell's source as one string (``source`` may be a string or a list of lines)."""
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def metadata_exercise_id(cell: Mapping[str, Any]) -> str | None:
    """The exercise id in ``metadata.course.exercise``, or ``None``."""
    metadata = cell.get("metadata")
    course = metadata.get("course") if isinstance(metadata, dict) else None
    exercise = course.get("exercise") if isinstance(course, dict) else None
    return exercise if isinstance(exercise, str) and exercise else None


def _defines_function(source: str, name: str) -> bool:
    """The cell defines ``name`` at top level: a function, or (a checkpoint question's
    answer cell) an assignment ``NAME = ...``."""
    name = re.escape(name)
    pattern = rf"^(def\s+{name}\s*\(|{name}\s*(:[^=]*)?=(?!=))"
    return re.search(pattern, source, re.MULTILINE) is not None


def find_exercise_cells(
    notebook: Mapping[str, Any],
    functions: Mapping[str, str],
    notebook_name: str = "",
    by_function_name: bool = True,
) -> dict[str, ExerciseCell]:
    """The exercise cells of a notebook, by exercise id.

    A cell is found by its metadata (``course.exercise``, or an nbgrader solution cell's
    ``grade_id``) when the id is one of ``functions`` (exercise id -> function name).
    Notebooks that lost their metadata on the way (some editors strip it) still work:
    an exercise not found by metadata is matched to the last code cell that defines its
    function at top level. The first cell found for an id wins.

    Args:
        notebook: a parsed notebook.
        functions: the exercises to look for: id -> name of the function the cell defines.
        notebook_name: used in :class:`ExerciseCell` for messages.
        by_function_name: also match cells by the function they define (see above).
    """
    found: dict[str, ExerciseCell] = {}
    code_cells = [
        (i, cell)
        for i, cell in enumerate(notebook.get("cells", []))
        if isinstance(cell, dict) and cell.get("cell_type") == "code"
    ]
    for index, cell in code_cells:
        exercise_id = metadata_exercise_id(cell)
        if exercise_id is None:
            metadata = cell.get("metadata")
            nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
            if isinstance(nbgrader, dict) and nbgrader.get("solution") is True:
                grade_id = nbgrader.get("grade_id")
                exercise_id = grade_id if isinstance(grade_id, str) else None
        if exercise_id in functions and exercise_id not in found:
            found[exercise_id] = ExerciseCell(
                exercise_id, cell_source(cell), notebook_name, index, "metadata"
            )
    claimed = {cell.index for cell in found.values()}
    for exercise_id, function in functions.items():
        if exercise_id in found or not by_function_name:
            continue
        for index, cell in reversed(code_cells):
            source = cell_source(cell)
            if index not in claimed and _defines_function(source, function):
                claimed.add(index)
                found[exercise_id] = ExerciseCell(
                    exercise_id, source, notebook_name, index, "function name"
                )
                break
    return found


def _replace_regions(
    source: str,
    begin: str,
    end: str,
    replacement: list[str] | Callable[[list[str]], list[str]] | None,
    where: str,
) -> tuple[str, int]:
    """Replace each ``begin``..``end`` region (markers included) by ``replacement`` lines
    indented like the ``begin`` marker (``None`` removes the region; a callable gets the
    region's lines and returns the replacement). Returns the new source and the number of
    regions."""
    lines = source.split("\n")
    out: list[str] = []
    body: list[str] = []
    regions = 0
    inside = False
    indent = ""
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith(begin):
            if inside:
                raise CourseLibError(f"{where}: line {number}: '{begin}' inside another region")
            inside = True
            regions += 1
            indent = line[: len(line) - len(line.lstrip())]
            body = []
        elif stripped.startswith(end):
            if not inside:
                raise CourseLibError(f"{where}: line {number}: '{end}' without '{begin}'")
            inside = False
            lines_in = replacement(body) if callable(replacement) else replacement or []
            out.extend(indent + r for r in lines_in)
        elif inside:
            body.append(line)
        else:
            out.append(line)
    if inside:
        raise CourseLibError(f"{where}: '{begin}' is never closed by '{end}'")
    return "\n".join(out), regions


def strip_solutions(source: str, cell_type: str = "code", where: str = "cell") -> tuple[str, int]:
    """Replace solution regions as nbgrader does and return ``(new_source, regions)``.

    In code cells a region becomes ``# YOUR CODE HERE`` / ``raise NotImplementedError()``
    at the indentation of its ``### BEGIN SOLUTION`` line, so the function signature and
    docstring above it stay. In markdown cells it becomes ``YOUR ANSWER HERE``.
    """
    if cell_type != "code":
        return _replace_regions(source, BEGIN_SOLUTION, END_SOLUTION, ["YOUR ANSWER HERE"], where)
    return _replace_regions(source, BEGIN_SOLUTION, END_SOLUTION, _student_code, where)


def _student_code(body: list[str]) -> list[str]:
    """What a student sees instead of a solution region: ``NAME = None  # your answer`` for
    each name a checkpoint's answer region assigns (so the self-check below it says "no answer
    yet" instead of raising NameError), else ``raise NotImplementedError()``."""
    try:
        tree = ast.parse(textwrap.dedent("\n".join(body)))
    except SyntaxError:
        tree = None
    body_nodes = tree.body if tree else []
    assigns = [node for node in body_nodes if isinstance(node, ast.Assign)]
    names = [t.id for node in assigns for t in node.targets if isinstance(t, ast.Name)]
    only_answers = all(isinstance(n, (ast.Assign, ast.Import, ast.ImportFrom)) for n in body_nodes)
    if assigns and only_answers and len(names) == len(assigns):
        return [f"{name} = None  # your answer" for name in names]
    return ["# YOUR CODE HERE", "raise NotImplementedError()"]


def strip_hidden_tests(source: str, where: str = "cell") -> tuple[str, int]:
    """Remove ``### BEGIN HIDDEN TESTS`` .. ``### END HIDDEN TESTS`` regions entirely."""
    return _replace_regions(source, BEGIN_HIDDEN, END_HIDDEN, None, where)


def cell_tags(cell: Mapping[str, Any]) -> set[str]:
    """The cell's ``metadata.tags`` as a set of strings."""
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    return {t for t in tags if isinstance(t, str)} if isinstance(tags, list) else set()
