"""Release the chapters, then grade a class full of honest, broken and hostile submissions.

Uses the real chapters when any of them has exercise cells (``chapters/*.ipynb`` with
``metadata.course.exercise``), else the fixture chapters of ``fixture_notebooks.py``.
Every submission is built from the released student copies, as a student would fill
them in, one ``<student>/<chapter>.ipynb`` per chapter. Asserted: every grade and status,
the gradebook's files, and that nothing outside the sandboxes changed (the masters, the
student copies, a sentinel folder the hostile code attacks, the output folder, ``/tmp``).
The file-system checks need bubblewrap; without it the test is skipped loudly (and fails
under ``CI=true``, see ``tests/conftest.py``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from fixture_notebooks import write_masters

from course_lib.cli import main
from course_lib.exercises import all_exercises
from course_lib.grading.cases import load_registry, prepare

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MEMORY_MB = 1500  # also a marker: no process with this limit may outlive the test
EXERCISE_TIMEOUT = 8


def exercise_id(cell) -> str | None:
    return cell.metadata.get("course", {}).get("exercise") if cell.cell_type == "code" else None


def real_chapters_with_exercises() -> list[Path]:
    chapters = []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        if any(exercise_id(cell) for cell in notebook.cells):
            chapters.append(path)
    return chapters


def file_digest(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def solution_region(source: str) -> tuple[int, int, str]:
    lines = source.split("\n")
    begin = next(i for i, line in enumerate(lines) if line.strip() == "### BEGIN SOLUTION")
    end = next(i for i, line in enumerate(lines) if line.strip() == "### END SOLUTION")
    indent = re.match(r"\s*", lines[begin]).group(0)
    return begin, end, indent


def with_body(master_source: str, body: str) -> str:
    """The master cell with its solution replaced by ``body`` (indented like the region)."""
    lines = master_source.split("\n")
    begin, end, indent = solution_region(master_source)
    new = [indent + line for line in body.split("\n")]
    return "\n".join(lines[:begin] + new + lines[end + 1 :])


WRONG = "return None"
LOOP = "while True:\n    pass"
BOMB = (  # torch.empty reserves address space at once, so the limit is hit whatever the load
    "import torch\nhog = []\nwhile True:\n    hog.append(torch.empty(50_000_000))"
)
SYS_EXIT = "import sys\nsys.exit(0)\n"
OS_EXIT = "import os\nos._exit(0)\n"
PATCHES = """import builtins
import torch
import torch.testing
torch.testing.assert_close = lambda *args, **kwargs: None
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
builtins.isinstance = lambda *args, **kwargs: True
try:
    import course_lib.exercises as exercises
    exercises.compare = lambda *args, **kwargs: None
    exercises.check = lambda *args, **kwargs: None
except Exception:
    pass
"""
FAKE_PASSED = """import sys
for line in ("PASSED", "All tests passed!", "✓ 100/100 points", "ok"):
    print(line)
    sys.stderr.write(line + "\\n")
"""
FORGER = """import json, os
def _forge():
    cmdline = open(f"/proc/{os.getppid()}/cmdline", "rb").read().split(b"\\0")
    fd = cmdline[cmdline.index(b"--result-fd") + 1].decode()
    with open(f"/proc/{os.getppid()}/fd/{fd}", "w") as pipe:
        for exercise in IDS:
            forged = {"output": {"$float": "nan"}}
            pipe.write(json.dumps({"event": "exercise", "id": exercise, "outcome": "completed",
                                   "message": "", "cases": [forged] * 50}) + "\\n")
        pipe.write(json.dumps({"event": "done"}) + "\\n")
try:
    _forge()
except Exception:
    pass
"""


def writer(targets: list[Path]) -> str:
    return "import os\n" + "".join(
        f"try:\n    open({str(t)!r}, 'w').write('pwned')\nexcept Exception:\n    pass\n"
        for t in targets
    )


def deleter(sentinel: Path) -> str:
    return f"""import os, shutil
for name in os.listdir("."):
    shutil.rmtree(name, ignore_errors=True) if os.path.isdir(name) else os.remove(name)
shutil.rmtree({str(sentinel)!r}, ignore_errors=True)
for folder, _, files in os.walk({str(sentinel)!r}):
    for name in files:
        try:
            os.remove(os.path.join(folder, name))
        except OSError:
            pass
"""


def library_copy(forbidden: tuple[str, ...]) -> str:
    """Refer to the forbidden library functions (as a student copying them would)."""
    lines = []
    for name in forbidden:
        module, _, attribute = name.rpartition(".")
        lines.append(
            f"try:\n    import {module} as _lib\n    _copy = _lib.{attribute}\n"
            f"except Exception:\n    pass\n"
        )
    return "".join(lines)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    if shutil.which("bwrap") is None:
        pytest.skip(
            "END-TO-END GRADING TEST DID NOT RUN: bubblewrap is not installed "
            "(apt-get install bubblewrap)"
        )
    base = tmp_path_factory.mktemp("e2e")
    real = real_chapters_with_exercises()
    if real:  # copied first, so that edits to chapters/ during the test do not matter
        (base / "masters").mkdir()
        masters = [Path(shutil.copy2(p, base / "masters" / p.name)) for p in real]
        registry_args, registry = [], all_exercises()
    else:
        masters = write_masters(base / "masters")
        registry_args = ["--registry", "grading_fixture_exercises"]
        registry = load_registry("grading_fixture_exercises")
    masters_before = file_digest(masters)
    release_dir = base / "release"
    started = time.monotonic()
    assert main(["release", *map(str, masters), "--out", str(release_dir), *registry_args]) == 0
    release_seconds = time.monotonic() - started
    assert file_digest(masters) == masters_before
    return {
        "base": base,
        "masters": masters,
        "masters_before": masters_before,
        "release": release_dir,
        "registry_args": registry_args,
        "registry": registry,
        "release_seconds": release_seconds,
    }


def build_class(course, sentinel: Path, out: Path):
    """Write the submissions; return {student: (points per exercise, status)} expected."""
    registry = course["registry"]
    released = sorted(course["release"].glob("*.ipynb"))
    masters = {
        exercise_id(cell): cell.source
        for path in course["masters"]
        for cell in nbformat.read(path, as_version=4).cells
        if exercise_id(cell)
    }
    ids = [
        exercise_id(c)
        for p in released
        for c in nbformat.read(p, as_version=4).cells
        if exercise_id(c)
    ]
    first, last = ids[0], ids[-1]
    wrong_ones = set(ids[1::2]) or {first}
    full = {i: float(registry[i].points) for i in ids}
    zero = dict.fromkeys(ids, 0.0)
    forbidding = {i for i in ids if registry[i].forbidden}

    def answers(changes: dict[str, str]) -> dict[str, str]:
        return {i: changes.get(i, masters[i]) for i in ids}

    # a wrong answer is None, or a string where None would be right
    wrong_body = {
        i: 'return "not the answer"'
        if any(v is None for v in prepare(registry[i]).expected)
        else WRONG
        for i in ids
    }
    all_wrong = {i: with_body(masters[i], wrong_body[i]) for i in ids}
    attack_targets = [
        out / "grades.csv",
        out / "pwned.txt",
        sentinel / "note.txt",
        sentinel / "new.txt",
        course["release"] / released[0].name,
        Path("/tmp") / f"course-lib-e2e-{sentinel.name}",
    ]
    plan = {
        "reference": (answers({}), full, "ok"),
        "wrong": (
            answers({i: all_wrong[i] for i in wrong_ones}),
            {i: 0.0 if i in wrong_ones else full[i] for i in ids},
            "ok",
        ),
        "loop": (
            answers({first: with_body(masters[first], LOOP)}),
            {**full, first: 0.0},
            "timeout",
        ),
        "memory": (
            answers({first: with_body(masters[first], BOMB)}),
            {**full, first: 0.0},
            "memory",
        ),
        "sys_exit": (answers({first: SYS_EXIT + masters[first]}), {**full, first: 0.0}, "crashed"),
        "os_exit": (answers({first: OS_EXIT + masters[first]}), {**full, first: 0.0}, "crashed"),
        "patcher": ({i: PATCHES + s for i, s in all_wrong.items()}, zero, "ok"),
        "fake_passed": (
            {i: FAKE_PASSED + s + "\n" + FAKE_PASSED for i, s in all_wrong.items()},
            zero,
            "ok",
        ),
        "forger": ({i: f"IDS = {ids!r}\n" + FORGER + s for i, s in all_wrong.items()}, zero, "ok"),
        "writer": ({i: writer(attack_targets) + s for i, s in answers({}).items()}, full, "ok"),
        "deleter": ({i: deleter(sentinel) + s for i, s in answers({}).items()}, full, "ok"),
        "library": (
            {i: s + "\n" + library_copy(registry[i].forbidden) for i, s in answers({}).items()},
            {i: 0.0 if i in forbidding else full[i] for i in ids},
            "ok",
        ),
        "partial": (answers({}), {**full, last: 0.0}, "missing-exercise"),
        "nometa": (answers({}), full, "ok"),
    }
    subs = course["base"] / "submissions"
    subs.mkdir()
    for student, (sources, _, _) in plan.items():
        (subs / student).mkdir()
        for path in released:
            notebook = nbformat.read(path, as_version=4)
            for cell in notebook.cells:
                if exercise_id(cell):
                    cell.source = sources[exercise_id(cell)]
            if student == "partial":
                notebook.cells = [c for c in notebook.cells if exercise_id(c) != last]
            if student == "nometa":
                for cell in notebook.cells:
                    cell.metadata = {}
            nbformat.write(notebook, subs / student / path.name)
    (subs / "corrupt.ipynb").write_text('{"nbformat": 4, "cells": [{"cell_type": "co')
    (subs / "notes.txt").write_text("I could not get Jupyter to work, sorry!\n")
    expected = {s: (points, status) for s, (_, points, status) in plan.items()}
    expected["corrupt"] = (zero, "not-a-notebook")
    expected["notes"] = (zero, "not-a-notebook")
    return subs, ids, expected


def processes_with(marker: bytes) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def test_release_and_grade_a_hostile_class(course, capsys, monkeypatch):
    sentinel = ROOT / "test-output" / f"e2e-sentinel-{uuid.uuid4().hex[:12]}"
    sentinel.mkdir(parents=True)
    try:
        (sentinel / "note.txt").write_text("do not touch")
        shutil.copytree(course["masters"][0].parent, sentinel / "masters")
        out = course["base"] / "grades"
        subs, ids, expected = build_class(course, sentinel, out)
        sentinel_before = digest(sentinel)
        release_before = digest(course["release"])
        chapters = sorted({course["registry"][i].chapter for i in ids})
        work = course["base"] / "work"  # the sandboxes' working folders go here
        work.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(work))
        started = time.monotonic()
        code = main(
            [
                "grade",
                str(subs),
                "--out",
                str(out),
                "--jobs",
                "2",
                "--timeout",
                "90",
                "--exercise-timeout",
                str(EXERCISE_TIMEOUT),
                "--memory",
                str(MEMORY_MB),
                "--isolation",
                "bubblewrap",
                "--no-progress",
                *course["registry_args"],
                *[arg for chapter in chapters for arg in ("--chapter", str(chapter))],
            ]
        )
        grade_seconds = time.monotonic() - started
        assert code == 0
        printed = capsys.readouterr().out

        with open(out / "grades.csv", newline="") as handle:
            rows = {row["student"]: row for row in csv.DictReader(handle)}
        assert sorted(rows) == sorted(expected)
        for student, (points, status) in expected.items():
            row = rows[student]
            got = {i: float(row[i]) for i in ids}
            assert (got, row["status"]) == (points, status), student
            assert float(row["total"]) == pytest.approx(sum(points.values())), student

        results = json.loads((out / "results.json").read_text())
        assert results["grader"]["isolation"] == "bubblewrap"
        assert results["grader"]["warning"] is None
        assert {s["isolation"] for s in results["students"]} == {"bubblewrap"}
        outcomes = {
            s["student"]: {e["id"]: e["outcome"] for e in s["exercises"]}
            for s in results["students"]
        }
        first = ids[0]
        assert outcomes["loop"][first] == "timeout"
        assert outcomes["memory"][first] == "memory"
        assert outcomes["os_exit"][first] == "crashed"
        assert outcomes["sys_exit"][first] == "crashed"
        assert outcomes["partial"][ids[-1]] == "missing"

        # nothing outside the sandboxes changed
        assert digest(sentinel) == sentinel_before
        assert digest(course["release"]) == release_before
        assert file_digest(course["masters"]) == course["masters_before"]
        assert sorted(p.name for p in out.iterdir()) == ["feedback", "grades.csv", "results.json"]
        assert sorted(p.stem for p in (out / "feedback").iterdir()) == sorted(expected)
        assert "pwned" not in (out / "grades.csv").read_text()
        assert not Path(f"/tmp/course-lib-e2e-{sentinel.name}").exists()
        time.sleep(0.5)
        assert processes_with(b"--memory-mb\0" + str(MEMORY_MB).encode()) == []
        assert list(work.iterdir()) == []  # every working folder removed
        print(
            f"\nrelease {course['release_seconds']:.1f} s; grading {len(expected)} "
            f"submissions ({len(ids)} exercises each) {grade_seconds:.1f} s; {printed}"
        )
    finally:
        shutil.rmtree(sentinel, ignore_errors=True)
