"""Student copies of chapter notebooks: the function behind ``course-lib release``.

A student copy is the master notebook with

* every ``### BEGIN SOLUTION`` .. ``### END SOLUTION`` region replaced by
  ``raise NotImplementedError()`` (signature and docstring kept, indentation kept);
* hidden material removed: cells tagged ``remove-student`` or ``hidden``, and
  ``### BEGIN HIDDEN TESTS`` .. ``### END HIDDEN TESTS`` regions;
* outputs, execution counts, execution timings and saved widget state cleared;
* all other metadata (nbgrader, ``course``, tags) kept.

Before anything is written, each master's exercise cells are graded like a submission,
in the sandbox, against the registry's references: a reference solution that fails its
own cases stops the release with an error naming the exercise. Masters are only read.
Writing is idempotent: the same masters give the same bytes, and unchanged files are not
rewritten.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_lib.errors import CourseLibError
from course_lib.exercises import Exercise
from course_lib.grading.gradebook import format_points
from course_lib.grading.grader import Grader
from course_lib.grading.jobs import Limits
from course_lib.grading.notebooks import (
    REMOVE_TAGS,
    cell_source,
    cell_tags,
    metadata_exercise_id,
    read_notebook,
    strip_hidden_tests,
    strip_solutions,
)
from course_lib.grading.sandbox import Sandbox
from course_lib.grading.submissions import Submission


@dataclass(frozen=True)
class Released:
    """One student copy: where it came from, where it went, its exercises."""

    master: Path
    path: Path
    exercises: tuple[str, ...]
    changed: bool


def resolve_chapters(chapters: Sequence[str], chapters_dir: Path = Path("chapters")) -> list[Path]:
    """Turn ``CHAPTERS`` arguments into master notebook paths.

    Each argument is a notebook path, a folder (all its ``*.ipynb``), or a chapter number
    (``3`` -> ``chapters_dir/03_*.ipynb``).
    """
    paths: list[Path] = []
    for argument in chapters:
        path = Path(argument)
        if argument.isdigit():
            matches = sorted(Path(chapters_dir).glob(f"{int(argument):02d}_*.ipynb"))
            if not matches:
                raise CourseLibError(f"no notebook for chapter {argument} in {chapters_dir}/")
            paths += matches
        elif path.is_dir():
            found = sorted(path.glob("*.ipynb"))
            if not found:
                raise CourseLibError(f"folder {path} contains no .ipynb notebook")
            paths += found
        elif path.suffix == ".ipynb" and path.is_file():
            paths.append(path)
        else:
            raise CourseLibError(
                f"chapter {argument!r} is not a notebook, a folder or a chapter number"
            )
    unique = list(dict.fromkeys(p.resolve() for p in paths))
    if not unique:
        raise CourseLibError("no chapters given")
    return unique


def student_copy(notebook: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student version of a parsed master notebook (the master is not modified)."""
    student = copy.deepcopy(notebook)
    cells = []
    for number, cell in enumerate(student.cells, start=1):
        if cell_tags(cell) & REMOVE_TAGS:
            continue
        where = f"{name}, cell {number}"
        source, _ = strip_solutions(cell_source(cell), cell.cell_type, where)
        source, _ = strip_hidden_tests(source, where)
        cell.source = source
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
        cells.append(cell)
    student.cells = cells
    student.metadata.pop("widgets", None)
    return student


def student_text(student: nbformat.NotebookNode, name: str = "notebook") -> str:
    """The bytes a student copy is written as (validated)."""
    try:
        nbformat.validate(student)
    except nbformat.ValidationError as error:
        raise CourseLibError(f"{name}: the student copy is not valid: {error}") from None
    text = nbformat.writes(student)
    return text if text.endswith("\n") else text + "\n"


def student_edition_text(master: Path) -> str:
    """What ``course-lib release`` writes for ``master``, without checking the references
    (for the drift check of the committed student edition)."""
    notebook = read_notebook(Path(master))
    return student_text(student_copy(notebook, Path(master).name), Path(master).name)


def check_master(
    notebook: nbformat.NotebookNode, name: str, registry: Mapping[str, Exercise]
) -> list[str]:
    """The exercise ids of a master, after checking its exercise cells' format.

    Raises:
        CourseLibError: an exercise id that is not registered, a cell whose nbgrader
            ``grade_id`` disagrees, or an exercise cell without a solution region.
    """
    ids = []
    for number, cell in enumerate(notebook.cells, start=1):
        exercise_id = metadata_exercise_id(cell)
        if exercise_id is None:
            continue
        where = f"{name}, cell {number} (exercise {exercise_id})"
        if exercise_id not in registry:
            raise CourseLibError(
                f"{where}: exercise {exercise_id!r} is not registered in the exercise registry"
            )
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id != exercise_id:
            raise CourseLibError(
                f"{where}: nbgrader grade_id is {grade_id!r}, expected {exercise_id!r}"
            )
        _, regions = strip_solutions(cell_source(cell), "code", where)
        if regions == 0:
            raise CourseLibError(
                f"{where}: no '### BEGIN SOLUTION' region, so the student copy would "
                f"contain the solution"
            )
        if exercise_id in ids:
            raise CourseLibError(f"{where}: exercise {exercise_id!r} appears twice")
        ids.append(exercise_id)
    return ids


def verify_references(
    masters: Sequence[tuple[Path, list[str]]], registry: Mapping[str, Exercise], sandbox: Sandbox
) -> None:
    """Grade the masters' own solution cells in the sandbox (all notebooks in one job);
    every exercise must earn full points.

    Raises:
        CourseLibError: naming every exercise whose reference solution failed, and why.
    """
    ids = [i for _, notebook_ids in masters for i in notebook_ids]
    if not ids:
        return
    grader = Grader(registry, sandbox, ids)
    result = grader.grade(Submission("masters", tuple(path for path, _ in masters)))
    failures = []
    for entry in result.exercises.values():
        if entry.points < entry.max_points:
            reasons = [f"case {c.name!r}: {c.message}" for c in entry.cases if not c.passed]
            detail = entry.message or "; ".join(reasons[:3])
            failures.append(
                f"exercise {entry.id} ({entry.cell or 'no cell'}) fails its own cases "
                f"({format_points(entry.points)}/{format_points(entry.max_points)} points): "
                f"{detail}"
            )
    if failures:
        raise CourseLibError("refusing to release:\n  " + "\n  ".join(failures))


def release(
    chapters: Sequence[Path],
    out_dir: Path,
    registry: Mapping[str, Exercise],
    *,
    limits: Limits | None = None,
    isolation: str = "auto",
    warn=print,
) -> list[Released]:
    """Write student copies of ``chapters`` (master notebook paths) into ``out_dir``.

    Raises:
        CourseLibError: a malformed master, an output that would overwrite a master, or
            a reference solution that fails (nothing is written then).
    """
    out_dir = Path(out_dir).resolve()
    masters = [Path(p).resolve() for p in chapters]
    targets = [out_dir / p.name for p in masters]
    clash = [str(t) for t in targets if t in masters]
    if clash:
        raise CourseLibError(f"refusing to overwrite master notebook(s): {', '.join(clash)}")
    if len(set(targets)) != len(targets):
        raise CourseLibError("two chapters have the same file name; release them separately")
    parsed = []
    for path in masters:
        try:
            notebook = read_notebook(path)
        except CourseLibError as error:
            raise CourseLibError(f"master {path}: {error}") from None
        ids = check_master(notebook, path.name, registry)
        for other_path, _, other_ids, _ in parsed:
            twice = sorted(set(ids) & set(other_ids))
            if twice:
                raise CourseLibError(
                    f"exercise(s) {', '.join(twice)} appear in both {other_path.name} and "
                    f"{path.name}"
                )
        parsed.append((path, notebook, ids, student_copy(notebook, path.name)))
    if any(ids for _, _, ids, _ in parsed):
        sandbox = Sandbox.start(isolation, limits, hide=(out_dir,) if out_dir.is_dir() else ())
        if sandbox.warning:
            warn(sandbox.warning)
        verify_references([(p, ids) for p, _, ids, _ in parsed], registry, sandbox)
    texts = [student_text(student, path.name) for path, _, _, student in parsed]
    out_dir.mkdir(parents=True, exist_ok=True)
    released = []
    for (path, _, ids, _), target, text in zip(parsed, targets, texts):
        changed = not target.exists() or target.read_text(encoding="utf-8") != text
        if changed:
            target.write_text(text, encoding="utf-8")
        released.append(Released(path, target, tuple(ids), changed))
    return released
