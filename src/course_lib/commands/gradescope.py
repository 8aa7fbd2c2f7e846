"""Build a Gradescope autograder package for some chapters' exercises.

Writes OUT/ (setup.sh, run_autograder, config.json, course/ - a copy of this course that
setup.sh installs with CPU torch - and the private cases if given) and OUT.zip, ready to
upload as a Gradescope "programming assignment" autograder. Each case becomes one
Gradescope test, with its visibility (public: visible, fresh: after the due date,
private: after publishing) and feedback.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from course_lib.commands.grade import add_registry_options
from course_lib.grading.batch import expected_exercises
from course_lib.grading.cases import load_private_cases, load_registry
from course_lib.grading.gradescope import build_gradescope
from course_lib.grading.jobs import Limits


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="folder to write (and OUT.zip)")
    parser.add_argument(
        "--chapter",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="grade every exercise of chapter N (repeatable)",
    )
    parser.add_argument(
        "--exercise",
        action="append",
        default=[],
        metavar="ID",
        help="grade this exercise (repeatable)",
    )
    add_registry_options(parser)  # private cases are copied into the package
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="wall-clock seconds for a submission (default: %(default)s)",
    )
    parser.add_argument(
        "--memory",
        type=int,
        default=Limits.memory_mb,
        metavar="MB",
        help="address-space limit in MiB (default: %(default)s)",
    )
    parser.add_argument("--no-zip", action="store_true", help="write the folder only")


def run(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    expected = expected_exercises(registry, args.chapter, args.exercise)
    if args.private_cases:
        load_private_cases(args.private_cases, registry)  # fail now, not in Gradescope
    written = build_gradescope(
        args.out,
        expected,
        args.registry,
        args.private_cases,
        {"timeout": args.timeout, "memory_mb": args.memory},
        make_zip=not args.no_zip,
    )
    print(f"autograder: {written}")
    return 0
