"""Grade a folder of submissions into a gradebook: the function behind ``course-lib grade``."""

from __future__ import annotations

import platform
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import course_lib
from course_lib.errors import CourseLibError
from course_lib.exercises import Case, Exercise
from course_lib.grading.gradebook import write_gradebook
from course_lib.grading.grader import Grader, grade_all
from course_lib.grading.jobs import Limits
from course_lib.grading.results import StudentResult
from course_lib.grading.sandbox import Sandbox
from course_lib.grading.submissions import discover


@dataclass
class GradeReport:
    """What :func:`grade_submissions` did."""

    results: list[StudentResult]
    isolation: str
    warning: str | None
    wall_seconds: float
    startup_seconds: float
    out_dir: Path

    def status_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(r.status for r in self.results).items()))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def expected_exercises(
    registry: Mapping[str, Exercise], chapters: Sequence[int] = (), exercise_ids: Sequence[str] = ()
) -> list[str] | None:
    """The exercise ids asked for by ``--chapter``/``--exercise`` (``None``: infer).

    Raises:
        CourseLibError: an unknown exercise id, or a chapter with no registered exercise.
    """
    if not chapters and not exercise_ids:
        return None
    unknown = [i for i in exercise_ids if i not in registry]
    if unknown:
        raise CourseLibError(
            f"unknown exercise id(s) {', '.join(unknown)}; known: {', '.join(registry) or 'none'}"
        )
    empty = [c for c in chapters if not any(e.chapter == c for e in registry.values())]
    if empty:
        raise CourseLibError(
            f"chapter(s) {', '.join(map(str, empty))} have no registered exercises"
        )
    return [i for i, e in registry.items() if e.chapter in chapters or i in exercise_ids]


def _check_folders(submissions_dir: Path, out_dir: Path, private_cases_file: Path | None) -> None:
    """The submissions, the gradebook and the private cases must not overlap."""
    if not submissions_dir.is_dir():
        raise CourseLibError(f"submissions folder {submissions_dir} does not exist")
    if _inside(out_dir, submissions_dir):
        raise CourseLibError(
            f"the output folder {out_dir} must not be inside the submissions folder"
        )
    if _inside(submissions_dir, out_dir):
        raise CourseLibError("the submissions folder must not be inside the output folder")
    if private_cases_file is not None and _inside(
        Path(private_cases_file).resolve(), submissions_dir
    ):
        raise CourseLibError("the private cases file must not be inside the submissions folder")


def _run_info(
    sandbox: Sandbox,
    grader: Grader,
    results: Sequence[StudentResult],
    jobs: int,
    wall: float,
    private_cases: Mapping[str, Sequence[Case]] | None,
    private_cases_file: Path | None,
) -> dict[str, Any]:
    """What ``results.json`` records about the run: versions, isolation, seed, limits."""
    copies = sorted({r.reference_isolation for r in results if r.reference_isolation})
    return {
        "course_lib": course_lib.__version__,
        "python": platform.python_version(),
        "torch": sandbox.torch_version,
        "platform": f"{sys.platform} {platform.machine()}",
        "isolation": sandbox.isolation,
        "warning": sandbox.warning,
        "reference_isolation": copies,
        "fresh_seed": grader.seed,
        "private_cases": {
            "file": str(private_cases_file) if private_cases_file else None,
            "exercises": sorted(private_cases or {}),
        },
        "limits": {
            "timeout_seconds": sandbox.limits.timeout,
            "exercise_timeout_seconds": sandbox.limits.exercise_timeout,
            "memory_mb": sandbox.limits.memory_mb,
            "file_mb": sandbox.limits.file_mb,
        },
        "jobs": jobs,
        "submissions": len(results),
        "wall_seconds": round(wall, 3),
        "sandbox_startup_seconds": round(sandbox.startup_seconds, 3),
    }


def grade_submissions(
    submissions_dir: Path,
    out_dir: Path,
    registry: Mapping[str, Exercise],
    *,
    expected: Sequence[str] | None = None,
    jobs: int = 1,
    limits: Limits | None = None,
    isolation: str = "auto",
    progress: bool = True,
    warn=print,
    seed: int | None = None,
    fresh: bool = True,
    private_cases: Mapping[str, Sequence[Case]] | None = None,
    private_cases_file: Path | None = None,
) -> GradeReport:
    """Grade every submission in ``submissions_dir`` and write the gradebook to ``out_dir``.

    Args:
        submissions_dir: one ``<student>.ipynb`` or ``<student>/`` folder per student
            (see :func:`~course_lib.grading.grader.discover`).
        out_dir: where ``grades.csv``, ``results.json`` and ``feedback/`` go; created if
            needed; must not be inside ``submissions_dir``.
        registry: exercise id -> :class:`Exercise`.
        expected: exercise ids every submission must have (``None``: per submission, all
            exercises of the chapters it has cells for).
        jobs: submissions graded at the same time.
        limits: sandbox limits (:class:`~course_lib.grading.sandbox.Limits`).
        isolation: ``"auto"``, ``"bubblewrap"`` or ``"process-only"``.
        progress: show a progress bar.
        warn: called with the fallback warning, if any (before and after grading).
        seed: the seed of the fresh cases (default: drawn now; recorded in results.json).
        fresh: grade on fresh cases too (exercises that define ``fresh_cases``).
        private_cases: exercise id -> the instructor's private cases.
        private_cases_file: where they came from (recorded, for the record only).

    Raises:
        CourseLibError: bad folders or options, a broken exercise registry, or a sandbox
            that does not start. Nothing a submission contains raises.
    """
    started = time.monotonic()
    submissions_dir = Path(submissions_dir).resolve()
    out_dir = Path(out_dir).resolve()
    _check_folders(submissions_dir, out_dir, private_cases_file)
    if jobs < 1:
        raise CourseLibError(f"--jobs must be at least 1, got {jobs}")
    submissions = discover(submissions_dir)
    if not submissions:
        raise CourseLibError(f"no submissions found in {submissions_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    grader_expected = list(expected) if expected is not None else None
    sandbox = Sandbox.start(isolation, limits, hide=(submissions_dir, out_dir))
    if sandbox.warning:
        warn(sandbox.warning)
    grader = Grader(
        registry,
        sandbox,
        grader_expected,
        seed=seed,
        private_cases=private_cases or {},
        fresh=fresh,
    )
    try:
        results = grade_all(grader, submissions, jobs=jobs, progress=progress)
    finally:
        grader.close()
    wall = time.monotonic() - started
    info = _run_info(sandbox, grader, results, jobs, wall, private_cases, private_cases_file)
    write_gradebook(out_dir, results, registry, info)
    if sandbox.warning:
        warn(sandbox.warning)
    return GradeReport(
        results, sandbox.isolation, sandbox.warning, wall, sandbox.startup_seconds, out_dir
    )
