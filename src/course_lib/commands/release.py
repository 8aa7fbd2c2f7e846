"""Write student copies of chapter notebooks.

Solutions become ``raise NotImplementedError()``, hidden material is removed, outputs are
cleared and metadata is kept. Every reference solution is first graded in the sandbox
against the exercise registry; if one fails, nothing is written and the exit status is
non-zero. The masters are never modified; re-running writes the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_lib.grading.cases import load_registry
from course_lib.grading.isolation import ISOLATIONS
from course_lib.grading.jobs import Limits
from course_lib.grading.release import release, resolve_chapters


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "chapters",
        nargs="+",
        metavar="CHAPTER",
        help="master notebook, folder of notebooks, or chapter number (3 -> chapters/03_*.ipynb)",
    )
    parser.add_argument("--out", required=True, type=Path, help="folder for the student copies")
    parser.add_argument(
        "--chapters-dir",
        type=Path,
        default=Path("chapters"),
        help="where chapter numbers are looked up (default: chapters)",
    )
    parser.add_argument(
        "--registry",
        default=None,
        metavar="MODULE",
        help="a module with an EXERCISES list (default: course_lib's own)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds allowed to check one notebook's reference solutions",
    )
    parser.add_argument(
        "--memory",
        type=int,
        default=Limits.memory_mb,
        metavar="MB",
        help="address-space limit of the sandbox in MiB (default: %(default)s)",
    )
    parser.add_argument(
        "--isolation",
        choices=["auto", *ISOLATIONS],
        default="auto",
        help="sandbox used to check the references",
    )


def run(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    masters = resolve_chapters(args.chapters, args.chapters_dir)
    limits = Limits(timeout=args.timeout, exercise_timeout=args.timeout, memory_mb=args.memory)
    released = release(
        masters,
        args.out,
        registry,
        limits=limits,
        isolation=args.isolation,
        warn=lambda text: print(text, file=sys.stderr),
    )
    for item in released:
        state = "written" if item.changed else "unchanged"
        exercises = ", ".join(item.exercises) or "no exercises"
        print(f"{item.path} ({state}; {exercises})")
    return 0
