"""Writing the gradebook: ``grades.csv``, ``results.json`` and ``feedback/<student>.md``.

``grades.csv`` has one row per student (sorted), one column per exercise (registry order)
with the points earned, then ``total`` and ``status``. An empty cell means the exercise
was not expected from that student. The file depends only on the grades, so a re-run
writes the same bytes. ``results.json`` adds the details: per exercise and case whether
it passed and why not, the isolation that applied, timings and the captured output.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from course_lib.exercises import Exercise
from course_lib.grading.results import StudentResult

GRADES_FILE = "grades.csv"
RESULTS_FILE = "results.json"
FEEDBACK_FOLDER = "feedback"


def format_points(points: float) -> str:
    """``2.0`` -> ``"2"``, ``0.666666`` -> ``"0.6667"``."""
    text = f"{points:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def exercise_columns(
    results: Sequence[StudentResult], registry: Mapping[str, Exercise]
) -> list[str]:
    """Exercise ids that appear in any result, in registry order."""
    present = {i for r in results for i in r.exercises}
    return [i for i in registry if i in present]


def grades_csv(results: Sequence[StudentResult], columns: Sequence[str]) -> str:
    """The text of ``grades.csv``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *columns, "total", "status"])
    for result in results:
        row = [result.student]
        for column in columns:
            entry = result.exercises.get(column)
            row.append(format_points(entry.points) if entry else "")
        writer.writerow([*row, format_points(result.total), result.status])
    return buffer.getvalue()


def feedback_filename(student: str) -> str:
    """A safe file name for a student's feedback (path separators and dots neutralised)."""
    name = re.sub(r"[/\\\x00]", "_", student).lstrip(".") or "_"
    return f"{name}.md"


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


GROUP_TITLES = {
    "public": "public cases (the ones your self-check runs)",
    "private": "private cases (your instructor's)",
    "fresh": "fresh cases (drawn at grading time)",
}


def _case_group_lines(entry) -> list[str]:
    """The cases of one exercise, by group: how many passed, then each case."""
    lines: list[str] = []
    groups = list(dict.fromkeys(case.group for case in entry.cases))
    for group in groups:
        cases = [c for c in entry.cases if c.group == group]
        passed = sum(c.passed for c in cases)
        worth = sum(c.max_points for c in cases)
        note = f", worth {format_points(worth)} points" if len(groups) > 1 else ""
        if len(groups) > 1 and worth == 0:
            note = ", feedback only (points come from the cases you did not see)"
        lines.append(f"- {GROUP_TITLES.get(group, group)}: {passed}/{len(cases)} passed{note}")
        for case in cases:
            mark = "passed" if case.passed else f"failed: {case.message}"
            lines.append(f"  - case `{case.name}`: {mark}")
    return lines


def feedback_markdown(result: StudentResult, registry: Mapping[str, Exercise]) -> str:
    """The feedback page for one student: what passed, what failed and why, hints."""
    lines = [
        f"# Feedback for {result.student}",
        "",
        f"- Total: **{format_points(result.total)} / {format_points(result.max_total)}** points",
        f"- Status: `{result.status}`",
        f"- Files: {', '.join(result.files)}",
        f"- Isolation: {result.isolation}"
        + (
            f" (course package: {result.reference_isolation})" if result.reference_isolation else ""
        ),
    ]
    lines += [f"- Note: {note}" for note in result.notes]
    for entry in result.exercises.values():
        lines += [
            "",
            f"## {entry.id}: {entry.title}",
            "",
            f"{format_points(entry.points)} / {format_points(entry.max_points)} points"
            + (f" ({entry.cell})" if entry.cell else ""),
        ]
        if entry.message:
            lines += ["", f"**{entry.outcome}**: {entry.message}"]
        if entry.cases:
            lines.append("")
            lines += _case_group_lines(entry)
        exercise = registry.get(entry.id)
        if exercise and exercise.hint and entry.points < entry.max_points:
            lines += ["", f"Hint: {exercise.hint}"]
        if exercise and exercise.explanation and entry.outcome != "missing":
            lines += ["", f"Explanation: {exercise.explanation}"]
    if result.status in ("crashed", "memory", "timeout") and result.stderr.strip():
        lines += [
            "",
            "## The end of what your code wrote to stderr",
            "",
            _fence(result.stderr.strip()[-2000:]),
        ]
    return "\n".join(lines) + "\n"


def results_json(
    results: Sequence[StudentResult],
    registry: Mapping[str, Exercise],
    columns: Sequence[str],
    grader_info: Mapping[str, Any],
) -> str:
    """The text of ``results.json``."""
    students = []
    for result in results:
        data = asdict(result)
        data["total"] = result.total
        data["max_total"] = result.max_total
        data["exercises"] = list(data["exercises"].values())
        students.append(data)
    document = {
        "grader": dict(grader_info),
        "exercises": {
            i: {
                "title": registry[i].title,
                "chapter": registry[i].chapter,
                "points": registry[i].points,
                "kind": registry[i].kind,
            }
            for i in columns
        },
        "students": students,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_gradebook(
    out_dir: Path,
    results: Sequence[StudentResult],
    registry: Mapping[str, Exercise],
    grader_info: Mapping[str, Any],
) -> None:
    """Write ``grades.csv``, ``results.json`` and ``feedback/`` into ``out_dir``.

    Feedback files of students no longer in ``results`` are removed.
    """
    out_dir = Path(out_dir)
    columns = exercise_columns(results, registry)
    _write_atomic(out_dir / GRADES_FILE, grades_csv(results, columns))
    _write_atomic(out_dir / RESULTS_FILE, results_json(results, registry, columns, grader_info))
    feedback_dir = out_dir / FEEDBACK_FOLDER
    feedback_dir.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for result in results:
        name = feedback_filename(result.student)
        wanted.add(name)
        _write_atomic(feedback_dir / name, feedback_markdown(result, registry))
    for stale in feedback_dir.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
