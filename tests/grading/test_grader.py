"""``course-lib grade`` on fixture exercises: layouts, scores, statuses, gradebook files."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import nbformat
import pytest
from fixture_notebooks import SOLUTIONS, master_notebook, write_masters

from course_lib.cli import main
from course_lib.errors import CourseLibError
from course_lib.grading.release import student_copy
from course_lib.grading.submissions import discover

REGISTRY = ["--registry", "grading_fixture_exercises"]


def filled(exercise_ids, answers, strip_metadata=False):
    """A student copy of a fixture chapter with ``answers`` (id -> cell source) filled in."""
    notebook = student_copy(master_notebook(exercise_ids))
    for cell in notebook.cells:
        exercise = cell.metadata.get("course", {}).get("exercise")
        if exercise in answers:
            cell.source = answers[exercise]
        if strip_metadata:
            cell.metadata = {}
    return notebook


def test_discover_layouts(tmp_path):
    (tmp_path / "ana.ipynb").write_text("{}")
    (tmp_path / "ben").mkdir()
    (tmp_path / "ben" / "02_b.ipynb").write_text("{}")
    (tmp_path / "ben" / "sub").mkdir()
    (tmp_path / "ben" / "sub" / "01_a.ipynb").write_text("{}")
    (tmp_path / "ben" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "ben" / ".ipynb_checkpoints" / "01_a-checkpoint.ipynb").write_text("{}")
    (tmp_path / "cy.ipynb").write_text("{}")
    (tmp_path / "cy.zip").write_text("zip")
    (tmp_path / "dee").mkdir()
    (tmp_path / "dee" / "answers.py").write_text("")
    (tmp_path / ".DS_Store").write_text("")
    (tmp_path / "__MACOSX").mkdir()
    os.symlink("/etc/hostname", tmp_path / "eve.ipynb")
    found = {s.student: s for s in discover(tmp_path)}
    assert sorted(found) == ["ana", "ben", "cy.ipynb", "cy.zip", "dee", "eve"]
    assert [p.name for p in found["ben"].paths] == ["02_b.ipynb", "01_a.ipynb"]
    assert found["ana"].problem is None and found["cy.ipynb"].problem is None
    assert "not a notebook" in found["cy.zip"].problem
    assert "contains no .ipynb" in found["dee"].problem
    assert "symbolic link" in found["eve"].problem
    with pytest.raises(CourseLibError, match="does not exist"):
        discover(tmp_path / "nowhere")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("grade")
    subs = base / "submissions"
    subs.mkdir()
    both = ["fx_scale", "fx_softmax"]
    wrong = {"fx_scale": SOLUTIONS["fx_scale"].replace("x * factor", "x + factor")}
    library = {
        "fx_softmax": "import torch\n\ndef row_softmax(x):\n    return torch.softmax(x, -1)\n"
    }
    partial_notebook = filled(both, SOLUTIONS)
    partial_notebook.cells = [
        c
        for c in partial_notebook.cells
        if c.metadata.get("course", {}).get("exercise") != "fx_softmax"
    ]
    submissions = {
        "ref": filled(both, SOLUTIONS),
        "blank": filled(both, {}),
        "wrong": filled(both, {**SOLUTIONS, **wrong}),
        "library": filled(both, {**SOLUTIONS, **library}),
        "nometa": filled(both, SOLUTIONS, strip_metadata=True),
        "partial": partial_notebook,
        "words": filled(["fx_count"], SOLUTIONS),
    }
    for student, notebook in submissions.items():
        nbformat.write(notebook, subs / f"{student}.ipynb")
    (subs / "corrupt.ipynb").write_text('{"nbformat": 4, "cells": [')
    out = base / "out"
    code = main(["grade", str(subs), "--out", str(out), "--jobs", "2", *REGISTRY, "--no-progress"])
    assert code == 0
    return subs, out


def read_grades(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_grades_and_statuses(graded):
    _, out = graded
    header = (out / "grades.csv").read_text().splitlines()[0]
    assert header == "student,fx_scale,fx_softmax,fx_count,total,status"
    grades = read_grades(out)
    expected = {
        #          fx_scale fx_softmax fx_count total  status
        "blank": ("0", "0", "", "0", "ok"),
        "corrupt": ("", "", "", "0", "not-a-notebook"),
        "library": ("3", "0", "", "3", "ok"),
        "nometa": ("3", "2", "", "5", "ok"),
        "partial": ("3", "0", "", "3", "missing-exercise"),
        "ref": ("3", "2", "", "5", "ok"),
        "words": ("", "", "1", "1", "ok"),
        "wrong": ("0", "2", "", "2", "ok"),
    }
    got = {
        s: (r["fx_scale"], r["fx_softmax"], r["fx_count"], r["total"], r["status"])
        for s, r in grades.items()
    }
    assert got == expected


def test_results_and_feedback(graded):
    _, out = graded
    results = json.loads((out / "results.json").read_text())
    assert results["grader"]["isolation"] in ("bubblewrap", "process-only")
    students = {s["student"]: s for s in results["students"]}
    wrong = {e["id"]: e for e in students["wrong"]["exercises"]}
    assert [c["passed"] for c in wrong["fx_scale"]["cases"]] == [False, False, False]
    assert "values differ" in wrong["fx_scale"]["cases"][0]["message"]
    assert students["library"]["exercises"][1]["outcome"] == "forbidden"
    feedback = (out / "feedback" / "wrong.md").read_text()
    assert "0 / 3 points" in feedback and "case `small`: failed" in feedback
    assert "Hint: multiply every element by factor" in feedback
    assert "torch.softmax" in (out / "feedback" / "library.md").read_text()
    assert "no cell for exercise fx_softmax" in (out / "feedback" / "partial.md").read_text()
    assert "not a readable notebook" in (out / "feedback" / "corrupt.md").read_text()
    assert "not implemented yet" in (out / "feedback" / "blank.md").read_text()
    nometa = {e["id"]: e for e in students["nometa"]["exercises"]}
    assert "found by function name" in nometa["fx_scale"]["cell"]


def test_rerun_gives_the_same_gradebook_and_drops_stale_feedback(graded):
    subs, out = graded
    before = (out / "grades.csv").read_bytes()
    (out / "feedback" / "someone-who-left.md").write_text("old")
    code = main(
        ["grade", str(subs), "--out", str(out), "--chapter", "1", *REGISTRY, "--no-progress"]
    )
    assert code == 0
    after = read_grades(out)
    assert after["words"]["status"] == "missing-exercise"  # chapter 1 is now required
    assert not (out / "feedback" / "someone-who-left.md").exists()
    code = main(["grade", str(subs), "--out", str(out), "--jobs", "2", *REGISTRY, "--no-progress"])
    assert code == 0
    assert (out / "grades.csv").read_bytes() == before


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--exercise", "fx_nope"], "unknown exercise id(s) fx_nope"),
        (["--chapter", "7"], "chapter(s) 7 have no registered exercises"),
        (["--memory", "100"], "memory limit must be at least 256 MB"),
        (["--timeout", "0"], "time limits must be positive"),
    ],
)
def test_bad_options_are_named(tmp_path, capsys, extra, message):
    (tmp_path / "subs").mkdir()
    nbformat.write(filled(["fx_count"], SOLUTIONS), tmp_path / "subs" / "a.ipynb")
    code = main(
        ["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), *REGISTRY, *extra]
    )
    assert code == 2
    assert message in capsys.readouterr().err


def test_bad_folders_are_named(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    args = [*REGISTRY, "--no-progress"]
    assert main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "o"), *args]) == 2
    assert "no submissions found" in capsys.readouterr().err
    nbformat.write(filled(["fx_count"], SOLUTIONS), tmp_path / "subs" / "a.ipynb")
    inside = tmp_path / "subs" / "grades"
    assert main(["grade", str(tmp_path / "subs"), "--out", str(inside), *args]) == 2
    assert "must not be inside the submissions folder" in capsys.readouterr().err
    assert main(["grade", str(tmp_path / "none"), "--out", str(tmp_path / "o"), *args]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_masters_grade_full_marks_and_student_copies_zero(tmp_path):
    masters = write_masters(tmp_path / "masters")
    code = main(
        [
            "grade",
            str(tmp_path / "masters"),
            "--out",
            str(tmp_path / "out"),
            *REGISTRY,
            "--no-progress",
        ]
    )
    assert code == 0
    grades = read_grades(tmp_path / "out")
    assert {s: r["total"] for s, r in grades.items()} == {
        m.stem: t for m, t in zip(masters, ["5", "1"])
    }


def _exercise(**changes):
    import torch

    from course_lib.exercises import Case, Exercise

    settings = dict(
        id="t_double",
        chapter=1,
        title="double",
        function="double",
        reference=lambda x: x * 2,
        cases=lambda: [Case("one", (torch.ones(2),))],
    )
    settings.update(changes)
    return Exercise(**settings)


def test_prepare_names_the_exercise_and_case_that_cannot_be_graded():
    from course_lib.exercises import Case
    from course_lib.grading.cases import prepare

    assert prepare(_exercise()).case_names == ("one",)
    with pytest.raises(CourseLibError, match="exercise t_double, case 'one': the reference raised"):
        prepare(_exercise(reference=lambda x: 1 / 0))
    with pytest.raises(CourseLibError, match="t_double, case 'obj': input.*type object"):
        prepare(_exercise(cases=lambda: [Case("obj", (object(),))]))
    with pytest.raises(CourseLibError, match="reference output.*type function"):
        prepare(_exercise(reference=lambda x: lambda: x))
    with pytest.raises(CourseLibError, match="t_double: has no cases"):
        prepare(_exercise(cases=lambda: []))


def test_registry_modules_are_checked(tmp_path, monkeypatch):
    from course_lib.grading.cases import load_registry

    (tmp_path / "reg_none.py").write_text("X = 1\n")
    (tmp_path / "reg_twice.py").write_text(
        "from grading_fixture_exercises import EXERCISES as E\nEXERCISES = E + E[:1]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CourseLibError, match="reg_none.EXERCISES must be a list of Exercise"):
        load_registry("reg_none")
    with pytest.raises(CourseLibError, match="duplicate exercise id 'fx_scale'"):
        load_registry("reg_twice")
    assert list(load_registry("grading_fixture_exercises")) == [
        "fx_scale",
        "fx_softmax",
        "fx_count",
    ]


def test_grader_and_grade_all_check_their_arguments():
    from course_lib.grading.grader import Grader, grade_all
    from course_lib.grading.isolation import PROCESS_ONLY
    from course_lib.grading.jobs import Limits
    from course_lib.grading.sandbox import Sandbox

    sandbox = Sandbox(PROCESS_ONLY, Limits())
    with pytest.raises(CourseLibError, match="unknown exercise id"):
        Grader({"t_double": _exercise()}, sandbox, ["nope"])
    with pytest.raises(CourseLibError, match="jobs must be at least 1"):
        grade_all(Grader({}, sandbox), [], jobs=0)


def test_run_job_rejects_an_unknown_isolation():
    from course_lib.grading.jobs import Limits, run_job

    with pytest.raises(CourseLibError, match="unknown isolation 'docker'"):
        run_job({"exercises": []}, Limits(), "docker")


def test_gradebook_helpers():
    from course_lib.grading.gradebook import feedback_filename, format_points

    assert [format_points(p) for p in (2.0, 2 / 3, 0.0, 1.5, -0.0)] == [
        "2",
        "0.6667",
        "0",
        "1.5",
        "0",
    ]
    assert feedback_filename("../../etc/passwd") == "_.._etc_passwd.md"
    assert feedback_filename("Zoë Ng") == "Zoë Ng.md"
    assert feedback_filename("...") == "_.md"


def test_process_only_fallback_is_loud_and_recorded(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    nbformat.write(filled(["fx_count"], SOLUTIONS), tmp_path / "subs" / "ana.ipynb")
    out = tmp_path / "out"
    args = ["grade", str(tmp_path / "subs"), "--out", str(out), "--isolation", "process-only"]
    assert main([*args, *REGISTRY, "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("WARNING: no sandbox") == 2  # before and after grading
    assert "process-only isolation" in captured.out
    results = json.loads((out / "results.json").read_text())
    assert results["grader"]["isolation"] == "process-only"
    assert results["grader"]["warning"].startswith("WARNING: no sandbox")
    assert [s["isolation"] for s in results["students"]] == ["process-only"]
    assert read_grades(out)["ana"]["total"] == "1"
    assert "Isolation: process-only" in (out / "feedback" / "ana.md").read_text()
