"""Grades for Canvas: a gradebook's ``results.json`` as a CSV for Canvas's gradebook import.

``course-lib canvas GRADES_DIR --assignment "Name (id)"`` writes the columns ``Student``,
``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``, then one column per assignment
named ``Assignment name (assignment id)``, and a ``Points Possible`` row. Canvas matches
rows by ``ID``/``SIS User ID``/``SIS Login ID``; give ``--roster`` (Canvas's own gradebook
export) to fill them in from the student names the grader used.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from course_lib.grading.gradebook import RESULTS_FILE, format_points

CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def _read_roster(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    return [r for r in rows if (r.get("Student") or "").strip() not in ("", "Points Possible")]


def canvas_csv(
    students: Sequence[Mapping[str, Any]],
    assignment: str,
    points_possible: float,
    roster: Sequence[Mapping[str, str]] = (),
) -> tuple[str, list[str]]:
    """The CSV text for Canvas's gradebook import, and the students not in ``roster``.

    Args:
        students: ``results.json``'s ``students`` (``student`` and ``total`` are used).
        assignment: the column name, ``"Name (assignment id)"`` as Canvas exports it.
        points_possible: the assignment's points (the ``Points Possible`` row).
        roster: rows of Canvas's own gradebook export; a student is matched by SIS Login
            ID, SIS User ID, ID or name (case-insensitive).
    """
    index: dict[str, Mapping[str, str]] = {}
    for row in roster:
        for key in ("SIS Login ID", "SIS User ID", "ID", "Student"):
            value = (row.get(key) or "").strip().lower()
            if value:
                index.setdefault(value, row)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CANVAS_FIXED, assignment])
    writer.writerow(["Points Possible", "", "", "", "", format_points(points_possible)])
    unmatched = []
    for student in sorted(students, key=lambda s: str(s["student"]).lower()):
        name = str(student["student"])
        row = index.get(name.strip().lower())
        if row is None:
            unmatched.append(name)
            fixed = [name, "", "", name, ""]
        else:
            fixed = [row.get(k, "") for k in CANVAS_FIXED]
        writer.writerow([*fixed, format_points(float(student["total"]))])
    return buffer.getvalue(), unmatched


def write_canvas(
    grades_dir: Path, out: Path, assignment: str, roster: Path | None = None
) -> list[str]:
    """Write ``out`` from ``grades_dir/results.json``; return the unmatched students."""
    results = json.loads((Path(grades_dir) / RESULTS_FILE).read_text(encoding="utf-8"))
    possible = sum(float(e["points"]) for e in results["exercises"].values())
    text, unmatched = canvas_csv(
        results["students"], assignment, possible, _read_roster(roster) if roster else ()
    )
    Path(out).write_text(text, encoding="utf-8")
    return unmatched
