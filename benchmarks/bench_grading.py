"""How long ``course-lib grade`` takes for a class of 40, hostile submissions included.

Releases the chapters that have exercises (``chapters/*.ipynb``), fills 40 copies as a
class would (20 correct, 8 with wrong answers, 2 with a missing exercise, and 10 hostile
or broken: an infinite loop, a memory bomb, ``sys.exit(0)``, ``os._exit(0)``, patched
builtins, fake "PASSED" output, writes to the grades folder, deletes its working folder,
a corrupt notebook and a text file), then grades them with ``--jobs 2`` and the default
limits (60 s per submission, 10 s per exercise, 4096 MiB).

Reported:

* ``grade_wall_seconds``: the whole ``grade`` run, including the sandbox check at start;
* ``grade_seconds_per_submission``: that divided by the number of submissions;
* ``sandbox_startup_seconds``: one empty sandboxed job (bubblewrap, Python, torch import):
  the fixed overhead every submission pays;
* ``median_submission_seconds``: the median time one submission took, start to verdict.

Run: ``.venv/bin/python benchmarks/bench_grading.py`` (prints JSON).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
import torch

from course_lib.exercises import all_exercises
from course_lib.grading.batch import grade_submissions
from course_lib.grading.jobs import Limits
from course_lib.grading.release import release

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = 40
JOBS = 2


def exercise_id(cell) -> str | None:
    return cell.metadata.get("course", {}).get("exercise") if cell.cell_type == "code" else None


def with_body(source: str, body: str) -> str:
    """``source`` with its solution region replaced by ``body``."""
    lines = source.split("\n")
    begin = next(i for i, line in enumerate(lines) if line.strip() == "### BEGIN SOLUTION")
    end = next(i for i, line in enumerate(lines) if line.strip() == "### END SOLUTION")
    indent = re.match(r"\s*", lines[begin]).group(0)
    return "\n".join(lines[:begin] + [indent + b for b in body.split("\n")] + lines[end + 1 :])


def build_class(masters: list[Path], released: list[Path], folder: Path, out: Path) -> None:
    solutions = {
        exercise_id(c): c.source
        for p in masters
        for c in nbformat.read(p, as_version=4).cells
        if exercise_id(c)
    }
    ids = list(solutions)
    first = ids[0]
    prefix_all = {
        "patcher": "import builtins, torch\nbuiltins.isinstance = lambda *a, **k: True\n"
        "torch.allclose = lambda *a, **k: True\n",
        "fake_passed": "print('PASSED')\nprint('All tests passed!')\n",
        "writer": f"try:\n    open({str(out / 'grades.csv')!r}, 'w').write('pwned')\n"
        "except Exception:\n    pass\n",
        "deleter": "import os, shutil\nshutil.rmtree(os.getcwd(), ignore_errors=True)\n",
    }
    plan: dict[str, dict[str, str]] = {}
    for n in range(20):
        plan[f"correct_{n:02d}"] = dict(solutions)
    for n in range(8):
        wrong = ids[n % len(ids)]
        plan[f"wrong_{n:02d}"] = {**solutions, wrong: with_body(solutions[wrong], "return None")}
    for n in range(2):
        plan[f"partial_{n:02d}"] = dict(list(solutions.items())[:-1])
    plan["loop"] = {**solutions, first: with_body(solutions[first], "while True:\n    pass")}
    plan["memory"] = {
        **solutions,
        first: with_body(
            solutions[first],
            "import torch\nhog = []\nwhile True:\n    hog.append(torch.empty(50_000_000))",
        ),
    }
    plan["sys_exit"] = {**solutions, first: "import sys\nsys.exit(0)\n" + solutions[first]}
    plan["os_exit"] = {**solutions, first: "import os\nos._exit(0)\n" + solutions[first]}
    for name, prefix in prefix_all.items():
        answers = {i: with_body(s, "return None") for i, s in solutions.items()}
        if name in ("writer", "deleter"):
            answers = dict(solutions)
        plan[name] = {i: prefix + s for i, s in answers.items()}
    for student, answers in plan.items():
        (folder / student).mkdir(parents=True)
        for path in released:
            notebook = nbformat.read(path, as_version=4)
            notebook.cells = [
                c for c in notebook.cells if not exercise_id(c) or exercise_id(c) in answers
            ]
            for cell in notebook.cells:
                if exercise_id(cell):
                    cell.source = answers[exercise_id(cell)]
            nbformat.write(notebook, folder / student / path.name)
    (folder / "corrupt.ipynb").write_text('{"cells": [')
    (folder / "notes.txt").write_text("no notebook, sorry\n")
    assert len(list(folder.iterdir())) == SUBMISSIONS


def run() -> dict:
    """Release, build the class, grade it; return the measurements."""
    masters = [
        p
        for p in sorted((ROOT / "chapters").glob("*.ipynb"))
        if any(exercise_id(c) for c in nbformat.read(p, as_version=4).cells)
    ]
    if not masters:
        raise SystemExit("no chapter notebook has exercise cells yet")
    registry = all_exercises()
    base = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        copies = base / "masters"
        copies.mkdir()
        masters = [Path(shutil.copy2(p, copies / p.name)) for p in masters]
        started = time.monotonic()
        released = [r.path for r in release(masters, base / "release", registry, warn=print)]
        release_seconds = time.monotonic() - started
        out = base / "grades"
        build_class(masters, released, base / "submissions", out)
        started = time.monotonic()
        report = grade_submissions(
            base / "submissions", out, registry, jobs=JOBS, limits=Limits(), progress=False
        )
        wall = time.monotonic() - started
        exercises = sum(1 for i in registry if any(i in r.exercises for r in report.results))
        return {
            "submissions": len(report.results),
            "jobs": JOBS,
            "exercises_per_submission": exercises,
            "grade_wall_seconds": round(wall, 2),
            "grade_seconds_per_submission": round(wall / len(report.results), 3),
            "sandbox_startup_seconds": round(report.startup_seconds, 3),
            "median_submission_seconds": round(
                statistics.median(r.seconds for r in report.results if r.files), 3
            ),
            "release_seconds": round(release_seconds, 2),
            "isolation": report.isolation,
            "statuses": report.status_counts(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
