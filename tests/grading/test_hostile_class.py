"""Grade a class that tries to earn points without writing the code (issue 16's matrix).

Besides the hostile kinds of ``test_end_to_end.py``: students who call the reference
(``import``, ``importlib`` with built strings, ``getattr`` on another module, ``exec`` of
the module's file, ``reload``), one who calls the library function the exercise asks them
to write, one who hard-codes the public cases' outputs, and one who looks for another
class's notebooks and the instructor's private cases (in a sibling folder, under the home
folder, under ``/tmp``) and answers only if it finds them. Graded twice: with this
environment, and with a Python environment under ``/tmp`` (where the old sandbox had to
leave all of ``/tmp`` visible). Each attack earns 0 on the exercises it touches; the
honest student keeps full marks, on public, private and fresh cases.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import site
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest

from course_lib.cli import main
from course_lib.grading.cases import load_registry, prepare

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
REGISTRY = "hostile_fixture_exercises"
FULL = {"hx_causal": 2.0, "hx_softmax": 2.0, "hx_count": 1.0, "hx_shape": 1.0}

HONEST = {
    "hx_causal": "import torch\ndef causal(n):\n    return torch.ones(n, n, dtype=torch.bool).tril()[None, None]\n",
    "hx_softmax": (
        "import torch\ndef masked(scores, mask):\n"
        "    w = scores.masked_fill(~mask, float('-inf')).softmax(dim=-1)\n"
        "    return w.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)\n"
    ),
    "hx_count": (
        "def count_words(sentence):\n    counts = {}\n    for w in sentence.lower().split():\n"
        "        counts[w] = counts.get(w, 0) + 1\n    return counts\n"
    ),
    "hx_shape": "ANSWER = (2, 8, 5, 64)\n",
}

ATTACKS = {
    "ref_import": {
        "hx_causal": "from course_lib.masks import causal_mask as cm\ndef causal(n):\n    return cm(n)\n"
    },
    "ref_importlib": {
        "hx_causal": (
            "import importlib\ndef causal(n):\n"
            "    module = importlib.import_module('course_lib.' + 'ma' + 'sks')\n"
            "    return getattr(module, 'causal' + '_mask')(n)\n"
        )
    },
    "ref_getattr": {  # read from another module that imported it
        "hx_causal": (
            "import course_lib.model as m\ndef causal(n):\n"
            "    return getattr(m, ''.join(['cau', 'sal_', 'mask']))(n)\n"
        )
    },
    "ref_exec_reload": {
        "hx_causal": (
            "import importlib, course_lib.masks as mk\ndef causal(n):\n"
            "    namespace = {}\n"
            "    exec(compile(open(mk.__file__).read(), 'copy', 'exec'), namespace)\n"
            "    try:\n        return namespace['causal_mask'](n)\n"
            "    except Exception:\n        return importlib.reload(mk).causal_mask(n)\n"
        )
    },
    "library": {
        "hx_softmax": (
            "import importlib\ndef masked(scores, mask):\n"
            "    lib = importlib.import_module('course_lib.att' + 'ention')\n"
            "    return getattr(lib, 'masked_' + 'softmax')(scores, mask)\n"
        )
    },
}


def hardcoded_sources() -> dict[str, str]:
    """Cells that return the public cases' outputs from a table, and None otherwise."""
    registry = load_registry(REGISTRY)
    sources = {}
    for exercise_id in ("hx_causal", "hx_softmax", "hx_count"):
        exercise = registry[exercise_id]
        table = {}
        for case in exercise.cases():
            output = exercise.reference(*case.args)
            if hasattr(output, "tolist"):
                output = ("tensor", output.tolist(), str(output.dtype).split(".")[-1])
            table[repr([a.tolist() if hasattr(a, "tolist") else a for a in case.args])] = output
        sources[exercise_id] = (
            f"import torch\nTABLE = {table!r}\n"
            f"def {exercise.function}(*args):\n"
            "    key = repr([a.tolist() if hasattr(a, 'tolist') else a for a in args])\n"
            "    out = TABLE.get(key)\n"
            "    if isinstance(out, tuple) and out[0] == 'tensor':\n"
            "        return torch.tensor(out[1], dtype=getattr(torch, out[2]))\n"
            "    return out\n"
        )
    return sources


def searcher_prefix(targets: list[Path]) -> str:
    return (
        "import os, glob\n"
        f"TARGETS = {[str(t) for t in targets]!r}\n"
        "def _found():\n"
        "    for target in TARGETS:\n"
        "        for folder in (target, os.path.dirname(target), os.path.dirname(os.path.dirname(target))):\n"
        "            try:\n"
        "                if any('SECRET-ANSWERS' in open(p, errors='ignore').read() or 'CASES' in open(p, errors='ignore').read()\n"
        "                       for p in glob.glob(os.path.join(folder, '**', '*.*'), recursive=True)[:200]):\n"
        "                    return True\n"
        "            except OSError:\n"
        "                pass\n"
        "    home = os.path.expanduser('~')\n"
        "    return bool(glob.glob(os.path.join(home, '*', '*.ipynb')) + glob.glob('/tmp/*/*.ipynb'))\n"
        "FOUND = _found()\n"
    )


def searcher_sources(targets: list[Path]) -> dict[str, str]:
    prefix = searcher_prefix(targets)
    sources = {}
    for exercise_id, honest in HONEST.items():
        if exercise_id == "hx_shape":
            sources[exercise_id] = prefix + "ANSWER = (2, 8, 5, 64) if FOUND else None\n"
            continue
        name = honest.split("def ")[1].split("(")[0]
        sources[exercise_id] = (
            prefix
            + honest.replace(f"def {name}(", f"def _{name}(")
            + f"def {name}(*args):\n    return _{name}(*args) if FOUND else None\n"
        )
    return sources


def write_submission(folder: Path, student: str, sources: dict[str, str]) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Chapter 1 exercises")]
    for exercise_id, source in sources.items():
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["course"] = {"exercise": exercise_id}
        notebook.cells.append(cell)
    (folder / student).mkdir(parents=True)
    nbformat.write(notebook, folder / student / "01_chapter.ipynb")


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    if shutil.which("bwrap") is None:
        pytest.skip("HOSTILE-CLASS GRADING TEST DID NOT RUN: bubblewrap is not installed")
    base = tmp_path_factory.mktemp("hostile")
    tag = uuid.uuid4().hex[:10]
    secrets_at = {
        "sibling": base / "other-class" / "alice" / "01_chapter.ipynb",
        "home": Path.home() / f".course-lib-e2e-{tag}" / "answers.ipynb",
        "tmp": Path("/tmp") / f"course-lib-e2e-other-{tag}" / "answers.ipynb",
    }
    for path in secrets_at.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('{"cells": [], "note": "SECRET-ANSWERS"}')
    private = base / "instructor" / "private_cases.py"
    private.parent.mkdir()
    private.write_text(
        "from course_lib.exercises import Case\n"
        "CASES = {'hx_count': [Case('secret', ('le chat mange la pizza le CHAT',))]}\n"
    )
    targets = [*secrets_at.values(), private]
    # the searcher really finds them when nothing stands in its way
    namespace: dict = {}
    exec(searcher_prefix(targets), namespace)
    assert namespace["FOUND"] is True

    subs = base / "submissions"
    subs.mkdir()
    expected = {"honest": (FULL, "ok")}
    write_submission(subs, "honest", HONEST)
    for student, changes in ATTACKS.items():
        write_submission(subs, student, {**HONEST, **changes})
        expected[student] = ({**FULL, **dict.fromkeys(changes, 0.0)}, "ok")
    hardcoded = hardcoded_sources()
    write_submission(subs, "hardcode", {**HONEST, **hardcoded})
    expected["hardcode"] = ({**FULL, **dict.fromkeys(hardcoded, 0.0)}, "ok")
    write_submission(subs, "searcher", searcher_sources(targets))
    expected["searcher"] = (dict.fromkeys(FULL, 0.0), "ok")
    try:
        yield {"base": base, "subs": subs, "private": private, "expected": expected}
    finally:
        for path in secrets_at.values():
            shutil.rmtree(path.parent, ignore_errors=True)


def grade_arguments(course, out: Path) -> list[str]:
    return [
        "grade", str(course["subs"]), "--out", str(out), "--jobs", "2",
        "--timeout", "120", "--exercise-timeout", "20", "--memory", "1500",
        "--isolation", "bubblewrap", "--no-progress", "--registry", REGISTRY,
        "--chapter", "1", "--private-cases", str(course["private"]), "--seed", "1234",
    ]  # fmt: skip


def check_gradebook(course, out: Path) -> dict:
    with open(out / "grades.csv", newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert sorted(rows) == sorted(course["expected"])
    for student, (points, status) in course["expected"].items():
        got = {i: float(rows[student][i]) for i in FULL}
        assert (got, rows[student]["status"]) == (points, status), student
    results = json.loads((out / "results.json").read_text())
    assert results["grader"]["fresh_seed"] == 1234
    assert results["grader"]["reference_isolation"] == ["private-mount"]
    by_student = {s["student"]: {e["id"]: e for e in s["exercises"]} for s in results["students"]}
    for student in ATTACKS:
        for exercise_id in ATTACKS[student]:
            assert by_student[student][exercise_id]["outcome"] == "forbidden", student
    honest_groups = {c["group"] for c in by_student["honest"]["hx_count"]["cases"]}
    assert honest_groups == {"public", "private", "fresh"}
    public = [c for c in by_student["hardcode"]["hx_count"]["cases"] if c["group"] == "public"]
    assert public and all(c["passed"] for c in public)  # it did hard-code them...
    feedback = (out / "feedback" / "honest.md").read_text()
    assert "private cases" in feedback and "fresh cases" in feedback
    assert "Explanation:" in feedback
    return results


def test_hostile_class_with_this_environment(hostile_class):
    out = hostile_class["base"] / "grades-here"
    assert main(grade_arguments(hostile_class, out)) == 0
    check_gradebook(hostile_class, out)


def make_tmp_environment(where: Path) -> Path:
    """A Python environment under /tmp: a venv whose site-packages holds a copy of
    course_lib and points (.pth) at this environment's site-packages for torch."""
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    target = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    (target / "main-env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    shutil.copytree(
        ROOT / "src" / "course_lib",
        target / "course_lib",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return python


def test_hostile_class_with_the_environment_under_tmp(hostile_class):
    env_dir = Path("/tmp") / f"course-lib-e2e-venv-{uuid.uuid4().hex[:10]}"
    try:
        python = make_tmp_environment(env_dir)
        out = hostile_class["base"] / "grades-tmp-env"
        environment = {**os.environ, "PYTHONPATH": str(HERE)}
        result = subprocess.run(
            [str(python), "-m", "course_lib", *grade_arguments(hostile_class, out)],
            capture_output=True, text=True, env=environment, cwd=hostile_class["base"],
            timeout=900,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        check_gradebook(hostile_class, out)
        where = subprocess.run(
            [str(python), "-c", "import course_lib; print(course_lib.__file__)"],
            capture_output=True, text=True, env=environment,
        ).stdout  # fmt: skip
        assert where.startswith(str(env_dir))
    finally:
        shutil.rmtree(env_dir, ignore_errors=True)


def test_the_fixture_references_pass_their_own_cases():
    registry = load_registry(REGISTRY)
    for exercise in registry.values():
        prepared = prepare(exercise, seed=7)
        assert len(prepared.case_names) >= 1
