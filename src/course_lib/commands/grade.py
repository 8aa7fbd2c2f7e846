"""Grade a folder of submissions in a sandbox and write a gradebook.

SUBMISSIONS_DIR holds one ``<student>.ipynb`` per student, or one ``<student>/`` folder
of notebooks per student. Each submission runs in its own sandboxed process group with a
wall-clock limit, a memory limit and its own temporary folder (bubblewrap when available;
otherwise a loud warning and process-only isolation). The grader computes the reference
answers itself and compares them with the plain data the sandbox returns.

Writes OUT/grades.csv (one row per student, one column per exercise, total, status),
OUT/results.json (every case, with reasons) and OUT/feedback/<student>.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_lib.grading.batch import expected_exercises, grade_submissions
from course_lib.grading.cases import load_private_cases, load_registry
from course_lib.grading.gradebook import GRADES_FILE
from course_lib.grading.isolation import ISOLATIONS
from course_lib.grading.jobs import Limits


def add_registry_options(parser: argparse.ArgumentParser) -> None:
    """``--registry`` and ``--private-cases``: which exercises, and the instructor's own cases
    (shared by ``grade`` and ``gradescope``)."""
    parser.add_argument(
        "--registry",
        default=None,
        metavar="MODULE",
        help="a module with an EXERCISES list (default: course_lib's own)",
    )
    parser.add_argument(
        "--private-cases",
        type=Path,
        default=None,
        metavar="FILE.py",
        help="the instructor's private cases: a Python file defining "
        "CASES = {exercise_id: [Case(...), ...]} (run by the grader, never shown to student code)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "submissions",
        type=Path,
        metavar="SUBMISSIONS_DIR",
        help="folder with <student>.ipynb files or <student>/ folders",
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="folder for grades.csv, results.json and feedback/"
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="submissions graded in parallel (default: 1)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=Limits.timeout,
        metavar="S",
        help="wall-clock seconds per submission (default: %(default)s)",
    )
    parser.add_argument(
        "--exercise-timeout",
        type=float,
        default=Limits.exercise_timeout,
        metavar="S",
        help="wall-clock seconds per exercise (default: %(default)s)",
    )
    parser.add_argument(
        "--memory",
        type=int,
        default=Limits.memory_mb,
        metavar="MB",
        help="address-space limit per sandboxed process in MiB (default: %(default)s)",
    )
    parser.add_argument(
        "--chapter",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="expect every exercise of chapter N (repeatable); default: the "
        "chapters each submission has exercise cells for",
    )
    parser.add_argument(
        "--exercise",
        action="append",
        default=[],
        metavar="ID",
        help="expect this exercise id (repeatable)",
    )
    parser.add_argument(
        "--isolation",
        choices=["auto", *ISOLATIONS],
        default="auto",
        help="auto: bubblewrap if it works, else process-only with a warning",
    )
    add_registry_options(parser)
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the fresh cases drawn at grade time (default: random; "
        "recorded in results.json to reproduce a run)",
    )
    parser.add_argument(
        "--no-fresh", action="store_true", help="grade on public (and private) cases only"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    expected = expected_exercises(registry, args.chapter, args.exercise)
    private = load_private_cases(args.private_cases, registry) if args.private_cases else {}
    limits = Limits(
        timeout=args.timeout,
        exercise_timeout=min(args.exercise_timeout, args.timeout),
        memory_mb=args.memory,
    )

    def warn(text: str) -> None:
        bar = "!" * 78
        print(f"{bar}\n{text}\n{bar}", file=sys.stderr)

    report = grade_submissions(
        args.submissions,
        args.out,
        registry,
        expected=expected,
        jobs=args.jobs,
        limits=limits,
        isolation=args.isolation,
        progress=not args.no_progress,
        warn=warn,
        seed=args.seed,
        fresh=not args.no_fresh,
        private_cases=private,
        private_cases_file=args.private_cases,
    )
    counts = ", ".join(f"{n} {status}" for status, n in report.status_counts().items())
    print(
        f"graded {len(report.results)} submissions in {report.wall_seconds:.1f} s "
        f"({report.isolation} isolation): {counts}"
    )
    print(f"gradebook: {report.out_dir / GRADES_FILE}")
    weak = sorted({r.reference_isolation for r in report.results} - {"private-mount", ""})
    if weak:
        warn(
            "WARNING: the reference solutions were not fully out of reach of student code "
            f"({', '.join(weak)}); see results.json and the instructor guide"
        )
    return 0
