"""Finding the submissions in a folder, one per student."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from course_lib.errors import CourseLibError

IGNORED_NAMES = ("__MACOSX", ".ipynb_checkpoints")


@dataclass(frozen=True)
class Submission:
    """One student's file, or folder of notebooks; ``problem`` says why it cannot be
    graded as notebooks (``None`` when it can)."""

    student: str
    paths: tuple[Path, ...]
    problem: str | None = None


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part in IGNORED_NAMES for part in parts)


def _folder_submission(student: str, folder: Path) -> Submission:
    notebooks = tuple(
        p for p in sorted(folder.rglob("*.ipynb")) if not _hidden(p.relative_to(folder).parts)
    )
    problem = None if notebooks else f"folder {folder.name}/ contains no .ipynb notebook"
    return Submission(student, notebooks or (folder,), problem)


def discover(submissions_dir: Path) -> list[Submission]:
    """The submissions in a folder, by student.

    * ``<student>.ipynb``: one notebook per student (a flat folder, as most LMS export);
    * ``<student>/``: a folder of notebooks (``*.ipynb``, searched recursively), for
      example one per chapter;
    * any other file ``<student>.<ext>`` is a submission that is not a notebook.

    Hidden entries and ``__MACOSX``/``.ipynb_checkpoints`` folders are skipped. When two
    entries share a stem (``ana.ipynb`` and ``ana.zip``), the full names are used.

    Raises:
        CourseLibError: the folder does not exist.
    """
    submissions_dir = Path(submissions_dir)
    if not submissions_dir.is_dir():
        raise CourseLibError(f"submissions folder {submissions_dir} does not exist")
    entries = [p for p in sorted(submissions_dir.iterdir()) if not _hidden((p.name,))]
    stems = [p.name if p.is_dir() else p.stem for p in entries]
    result = []
    for path, stem in zip(entries, stems):
        student = stem if stems.count(stem) == 1 else path.name
        if path.is_symlink():
            result.append(Submission(student, (path,), f"{path.name} is a symbolic link"))
        elif path.is_dir():
            result.append(_folder_submission(student, path))
        elif path.suffix != ".ipynb":
            problem = f"{path.name} is not a notebook (expected a .ipynb file)"
            result.append(Submission(student, (path,), problem))
        else:
            result.append(Submission(student, (path,)))
    return result
