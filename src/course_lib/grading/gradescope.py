"""Grades for Gradescope: an autograder package and its ``results.json``.

``course-lib gradescope --out DIR`` builds an autograder package: ``setup.sh`` (installs
Python, bubblewrap when the image allows, CPU torch and this course from the package's
own copy in ``course/``), ``run_autograder`` (grades every notebook in
``/autograder/submission`` with :func:`course_lib.grading.batch.grade_submissions` and
writes ``/autograder/results/results.json``), ``config.json`` (the exercises, limits) and,
when given, the instructor's private cases. ``results.json`` follows Gradescope's
autograder format: a ``tests`` list with one entry per case (``name``, ``score``,
``max_score``, ``visibility``, ``output``), plus one per exercise that could not be run
(missing cell, forbidden function, time-out), the top-level ``score`` and ``output``.
Visibility: public cases ``visible``, fresh cases ``after_due_date``, private cases
``after_published``. Gradescope's containers usually have no user namespaces, so
bubblewrap cannot start there: the grade still runs with process-only isolation (as
``nobody``, the real package and the autograder's source made unreadable to it), and the
weaker isolation is written in the top-level output and in every test's output.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from course_lib.errors import CourseLibError
from course_lib.exercises import Exercise
from course_lib.grading.batch import grade_submissions
from course_lib.grading.cases import load_private_cases, load_registry
from course_lib.grading.gradebook import format_points
from course_lib.grading.jobs import Limits
from course_lib.grading.results import ExerciseResult, StudentResult

CONFIG_FILE = "config.json"
PRIVATE_CASES_FILE = "private_cases.py"
VISIBILITY = {"public": "visible", "fresh": "after_due_date", "private": "after_published"}

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates
# the grading sandbox; it only starts where the container allows user namespaces, else the
# grade runs with process-only isolation and says so in every result
apt-get install -y --no-install-recommends bubblewrap || true
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
/autograder/venv/bin/pip install --index-url https://download.pytorch.org/whl/cpu torch
/autograder/venv/bin/pip install /autograder/source/course
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. AUTOGRADER_ROOT and AUTOGRADER_PYTHON are
# for trying it out of Gradescope (a folder shaped like /autograder, another Python).
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-/autograder/venv/bin/python}"
# student code runs as nobody: keep the autograder's own files (private cases) and the
# real course package (with the reference solutions) out of its reach
if [ -z "${AUTOGRADER_KEEP_PERMISSIONS:-}" ]; then
  chmod -R go-rwx "$ROOT/source" 2>/dev/null || true
  PACKAGE="$("$PYTHON" -c 'import course_lib, os; print(os.path.dirname(course_lib.__file__))')"
  case "$PACKAGE" in  # an installed copy only, never a checkout's source tree
    */site-packages/*) chmod -R go-rwx "$PACKAGE" 2>/dev/null || true ;;
  esac
fi
exec "$PYTHON" -m course_lib.grading.gradescope run --root "$ROOT" --config "$ROOT/source/config.json"
"""


def _exercise_output(entry: ExerciseResult, exercise: Exercise | None) -> str:
    lines = []
    if entry.message:
        lines.append(f"{entry.outcome}: {entry.message}")
    if exercise is not None and exercise.hint and entry.points < entry.max_points:
        lines.append(f"Hint: {exercise.hint}")
    if exercise is not None and exercise.explanation and entry.outcome != "missing":
        lines.append(f"Explanation: {exercise.explanation}")
    return "\n".join(lines)


def gradescope_results(
    result: StudentResult,
    registry: Mapping[str, Exercise],
    isolation_note: str | None = None,
) -> dict[str, Any]:
    """Gradescope's ``results.json`` for one graded submission."""
    tests: list[dict[str, Any]] = []
    note = f"\n\n{isolation_note}" if isolation_note else ""
    for entry in result.exercises.values():
        exercise = registry.get(entry.id)
        general = _exercise_output(entry, exercise)
        counted = [c for c in entry.cases if c.max_points > 0]
        if entry.outcome in ("graded", "cell-error") and counted:
            for case in entry.cases:
                text = "passed" if case.passed else f"failed: {case.message}"
                if case.max_points == 0:
                    text += " (shown for feedback; the points come from the cases you did not see)"
                tests.append(
                    {
                        "name": f"{entry.id} · {case.name}",
                        "score": case.points,
                        "max_score": case.max_points,
                        "visibility": VISIBILITY.get(case.group, "visible"),
                        "output": "\n".join(t for t in (text, general) if t) + note,
                        "tags": [entry.id, case.group],
                    }
                )
        else:
            tests.append(
                {
                    "name": f"{entry.id}: {entry.title}",
                    "score": entry.points,
                    "max_score": entry.max_points,
                    "visibility": "visible",
                    "output": (general or entry.outcome) + note,
                    "tags": [entry.id],
                }
            )
    output = [
        f"Total: {format_points(result.total)} / {format_points(result.max_total)}",
        f"Status: {result.status}",
        f"Isolation: {result.isolation} (course package: {result.reference_isolation or 'n/a'})",
        *result.notes,
    ]
    if isolation_note:
        output.append(isolation_note)
    return {
        "score": result.total,
        "output": "\n".join(output),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def run_autograder(root: Path, config_path: Path) -> dict[str, Any]:
    """Grade ``root/submission`` as one student and write ``root/results/results.json``.

    Never raises for anything the submission contains; a failure of the set-up is
    written as a results.json with score 0 and the reason, then re-raised.
    """
    root = Path(root)
    results_path = root / "results" / "results.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        config = json.loads(Path(config_path).read_text(encoding="utf-8"))
        registry = load_registry(config.get("registry"))
        private = {}
        if config.get("private_cases"):
            private = load_private_cases(
                Path(config_path).parent / config["private_cases"], registry
            )
        submission = root / "submission"
        notebooks = sorted(
            p for p in submission.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
        )
        work = Path(tempfile.mkdtemp(prefix="course-lib-gradescope-"))
        try:
            student = work / "submissions" / "submission"
            student.mkdir(parents=True)
            for index, path in enumerate(notebooks):
                shutil.copyfile(path, student / f"{index:02d}_{path.name}")
            if not notebooks:
                (work / "submissions" / "submission.txt").write_text("no notebook submitted\n")
            warnings: list[str] = []
            limits = Limits(**config.get("limits", {}))
            report = grade_submissions(
                work / "submissions",
                work / "out",
                registry,
                expected=config.get("expected"),
                limits=limits,
                isolation=config.get("isolation", "auto"),
                progress=False,
                warn=warnings.append,
                private_cases=private,
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        result = report.results[0]
        note = None
        if report.warning or result.reference_isolation != "private-mount":
            note = (
                f"Weaker isolation: {report.isolation}"
                + (f" - {report.warning}" if report.warning else "")
                + f"; course package: {result.reference_isolation or 'n/a'}"
            )
        document = gradescope_results(result, registry, note)
    except Exception as error:
        document = {
            "score": 0.0,
            "output": f"The autograder failed before grading: {error}. Please tell your instructor.",
            "tests": [],
        }
        results_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        raise
    results_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


def _course_root() -> Path | None:
    """The repository this package was installed from (editable installs), if any."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "course_lib").is_dir():
            return parent
    return None


def _copy_course(target: Path) -> None:
    """A pip-installable copy of this course: pyproject.toml, README, LICENSE, src/."""
    root = _course_root()
    if root is None:
        raise CourseLibError(
            "cannot find the course's source tree (pyproject.toml and src/course_lib); "
            "build the autograder from a checkout of the repository"
        )
    target.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (root / name).is_file():
            shutil.copy2(root / name, target / name)
    shutil.copytree(
        root / "src",
        target / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )


def build_gradescope(
    out_dir: Path,
    expected: Sequence[str] | None,
    registry_module: str | None = None,
    private_cases: Path | None = None,
    limits: Mapping[str, Any] | None = None,
    make_zip: bool = True,
) -> Path:
    """Write the autograder folder ``out_dir`` (and ``out_dir.zip`` with its contents at
    the top, as Gradescope wants); return the zip's path (or the folder's)."""
    out_dir = Path(out_dir).resolve()
    if out_dir.exists():
        if any(out_dir.iterdir()):
            raise CourseLibError(f"{out_dir} exists and is not empty")
    out_dir.mkdir(parents=True, exist_ok=True)
    _copy_course(out_dir / "course")
    config: dict[str, Any] = {
        "registry": registry_module,
        "expected": list(expected) if expected is not None else None,
        "isolation": "auto",
        "limits": dict(limits or {}),
        "private_cases": None,
    }
    if private_cases is not None:
        shutil.copy2(private_cases, out_dir / PRIVATE_CASES_FILE)
        config["private_cases"] = PRIVATE_CASES_FILE
    (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    if not make_zip:
        return out_dir
    archive = out_dir.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(out_dir.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo.from_file(path, path.relative_to(out_dir).as_posix())
                info.date_time = (2020, 1, 1, 0, 0, 0)  # reproducible bytes
                bundle.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return archive


def main(argv: list[str] | None = None) -> int:
    """``python -m course_lib.grading.gradescope run --root /autograder --config CONFIG``."""
    parser = argparse.ArgumentParser(description="Gradescope autograder entry point")
    parser.add_argument("action", choices=["run"])
    parser.add_argument(
        "--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    )
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)
    document = run_autograder(args.root, args.config)
    print(f"score {document['score']}; {len(document['tests'])} tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
