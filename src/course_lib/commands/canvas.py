"""Write a gradebook (``course-lib grade``'s OUT folder) as a CSV for Canvas's import.

Columns: Student, ID, SIS User ID, SIS Login ID, Section, then the assignment column
("Name (assignment id)", as in Canvas's own gradebook export) with each student's total,
and a "Points Possible" row. Pass --roster (Canvas's gradebook export) so that rows carry
the Canvas ids Canvas matches on; students it cannot match are listed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_lib.grading.canvas import write_canvas


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("grades", type=Path, metavar="GRADES_DIR", help="course-lib grade's --out")
    parser.add_argument(
        "--assignment", required=True, help='the Canvas column, e.g. "Chapter 3 exercises (12345)"'
    )
    parser.add_argument(
        "--roster",
        type=Path,
        default=None,
        help="Canvas's gradebook export (CSV), to fill in the ids",
    )
    parser.add_argument("--out", type=Path, required=True, help="the CSV to write")


def run(args: argparse.Namespace) -> int:
    unmatched = write_canvas(args.grades, args.out, args.assignment, args.roster)
    print(f"canvas gradebook: {args.out}")
    if unmatched:
        print(
            f"WARNING: {len(unmatched)} student(s) not in the roster (Canvas will not match "
            f"them): {', '.join(unmatched)}",
            file=sys.stderr,
        )
    return 0
