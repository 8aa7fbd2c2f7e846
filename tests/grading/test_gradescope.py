"""Gradescope: the autograder package, run_autograder in an /autograder-shaped tree with a
good and a bad submission, and the weaker-isolation note in results.json."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from course_lib.cli import main
from course_lib.grading.gradescope import gradescope_results

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_hostile_class import HONEST, write_submission  # noqa: E402

GOOD_TOTAL = 6.0


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    base = tmp_path_factory.mktemp("gradescope")
    private = base / "private.py"
    private.write_text(
        "from course_lib.exercises import Case\n"
        "CASES = {'hx_count': [Case('secret', ('le chat LE chat',))]}\n"
    )
    out = base / "autograder"
    code = main([
        "gradescope", "--out", str(out), "--registry", "hostile_fixture_exercises",
        "--chapter", "1", "--private-cases", str(private), "--timeout", "120",
        "--memory", "1500",
    ])  # fmt: skip
    assert code == 0
    return base, out


def test_the_package_has_what_gradescope_needs(package):
    _, out = package
    with zipfile.ZipFile(out.with_suffix(".zip")) as bundle:
        names = set(bundle.namelist())
    assert {"setup.sh", "run_autograder", "config.json", "private_cases.py"} <= names
    assert "course/pyproject.toml" in names and "course/src/course_lib/__init__.py" in names
    assert not any("__pycache__" in n for n in names)
    assert os.access(out / "run_autograder", os.X_OK)
    assert "download.pytorch.org/whl/cpu" in (out / "setup.sh").read_text()
    config = json.loads((out / "config.json").read_text())
    assert config["expected"] == ["hx_causal", "hx_softmax", "hx_count", "hx_shape"]


def autograde(package, name: str, sources: dict[str, str]) -> dict:
    base, out = package
    root = base / name
    shutil.copytree(out, root / "source")
    write_submission(root / "tmp", "student", sources)
    (root / "submission").mkdir()
    shutil.copy(root / "tmp" / "student" / "01_chapter.ipynb", root / "submission" / "work.ipynb")
    environment = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "AUTOGRADER_PYTHON": sys.executable,
        "AUTOGRADER_KEEP_PERMISSIONS": "1",
        "PYTHONPATH": str(HERE),
    }
    result = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        capture_output=True, text=True, env=environment, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


@pytest.mark.slow
def test_run_autograder_good_and_bad_submissions(package):
    good = autograde(package, "good", HONEST)
    assert good["score"] == pytest.approx(GOOD_TOTAL)
    for test in good["tests"]:
        assert set(test) >= {"name", "score", "max_score", "visibility", "output"}
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    visibilities = {t["name"]: t["visibility"] for t in good["tests"]}
    assert visibilities["hx_count · private: secret"] == "after_published"
    assert any(v == "after_due_date" for n, v in visibilities.items() if "fresh" in n)
    assert sum(t["max_score"] for t in good["tests"]) == pytest.approx(GOOD_TOTAL)

    bad_sources = {**HONEST, "hx_count": "def count_words(s):\n    return {}\n"}
    bad_sources["hx_causal"] = (
        "import course_lib.masks as m\ndef causal(n):\n    return getattr(m, 'causal_mask')(n)\n"
    )
    bad_sources.pop("hx_shape")
    bad = autograde(package, "bad", bad_sources)
    assert bad["score"] == pytest.approx(GOOD_TOTAL - 2 - 1 - 1)
    by_name = {t["name"]: t for t in bad["tests"]}
    assert "forbidden" in by_name["hx_causal: A causal mask"]["output"]
    assert by_name["hx_shape: Shape after splitting heads"]["score"] == 0
    assert "Isolation:" in bad["output"]


def test_weaker_isolation_is_written_in_every_test():
    from course_lib.grading.results import CaseResult, ExerciseResult, StudentResult

    entry = ExerciseResult("x", "X", 1.0, 1.0, "graded", cases=[
        CaseResult("a", True, group="public", points=1.0, max_points=1.0)
    ])  # fmt: skip
    result = StudentResult("s", ["s.ipynb"], "ok", "process-only", {"x": entry})
    document = gradescope_results(result, {}, "Weaker isolation: process-only")
    assert "Weaker isolation" in document["output"]
    assert all("Weaker isolation" in t["output"] for t in document["tests"])
