"""Canvas: a gradebook's results.json as Canvas's import CSV, with and without a roster."""

from __future__ import annotations

import csv
import io
import json

from course_lib.cli import main
from course_lib.grading.canvas import canvas_csv


def test_canvas_csv_with_and_without_roster():
    students = [{"student": "ana", "total": 5.5}, {"student": "Ben", "total": 2}]
    roster = [
        {"Student": "Ana Lima", "ID": "101", "SIS User ID": "s1", "SIS Login ID": "ana",
         "Section": "A"},
        {"Student": "Points Possible", "ID": "", "SIS User ID": "", "SIS Login ID": "",
         "Section": ""},
    ]  # fmt: skip
    text, unmatched = canvas_csv(students, "Chapter 1 exercises (777)", 6, roster)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       "Chapter 1 exercises (777)"]  # fmt: skip
    assert rows[1] == ["Points Possible", "", "", "", "", "6"]
    assert rows[2] == ["Ana Lima", "101", "s1", "ana", "A", "5.5"]
    assert rows[3][0] == "Ben" and rows[3][-1] == "2"
    assert unmatched == ["Ben"]


def test_canvas_command_reads_a_gradebook(tmp_path):
    (tmp_path / "grades").mkdir()
    (tmp_path / "grades" / "results.json").write_text(json.dumps({
        "exercises": {"a": {"points": 2}, "b": {"points": 1}},
        "students": [{"student": "ana", "total": 3}],
    }))  # fmt: skip
    out = tmp_path / "canvas.csv"
    assert (
        main(["canvas", str(tmp_path / "grades"), "--assignment", "Ch 1 (9)", "--out", str(out)])
        == 0
    )
    assert out.read_text().splitlines()[1:] == ["Points Possible,,,,,3", "ana,,,ana,,3"]
