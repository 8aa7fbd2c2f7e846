"""``course-lib doctor``: what it prints on a working install, and that a broken one fails.

The broken installs are made on purpose: a fake ``numpy-1.0.0.dist-info`` put first on the
path (an install older than the minimum), a dependency reported missing, and a corrupt
checkpoint file. Each must exit non-zero with a line that names the problem.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

import course_lib
from course_lib.cli import main
from course_lib.commands import doctor

COURSE_LIB = Path(sys.executable).with_name("course-lib")


def run_doctor(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment.update(env or {})
    return subprocess.run(
        [str(COURSE_LIB), "doctor", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


def test_a_working_install_is_ok(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    expected = [
        rf"^  course-lib   {re.escape(course_lib.__version__)} \(",
        r"^  python       3\.\d+\.\d+ \(",
        r"^  torch        \d+\.\d+\S*  CUDA: (yes|no).*  MPS: (yes|no)$",
        r"^  threads      \d+ \(PyTorch\), \d+ CPUs",
        r"^  numpy        \S+ \(needs >=\d",
        r"^  matplotlib   \S+ \(needs >=\d",
        r"^  ipywidgets   \S+ \(needs >=\d",
        r'^  checkpoint   bundled: loads; "I hate pizza" -> "\S.*" \(\d+\.\d s\)$',
        r"^  chromium     ",
        r"^  bubblewrap   ",
        r"^OK: this installation can run the course\.$",
    ]
    for pattern in expected:
        assert re.search(pattern, out, re.M), f"no line matching {pattern!r} in:\n{out}"
    assert "PROBLEM" not in out


def test_minimums_come_from_the_package_metadata():
    """The supported minimums are the installed package's own requirements, not a copy."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    block = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    declared = dict(re.findall(r'"([A-Za-z0-9_.-]+)>=([^"]+)"', block))
    assert dict(doctor.requirements()) == declared


def test_an_install_older_than_the_minimum_fails(tmp_path):
    fake = tmp_path / "numpy-1.0.0.dist-info"
    fake.mkdir()
    (fake / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 1.0.0\n")
    result = run_doctor(env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 1, result.stdout + result.stderr
    minimum = dict(doctor.requirements())["numpy"]
    line = f"PROBLEM numpy: 1.0.0 is older than supported (course-lib needs >={minimum})"
    assert line in result.stdout, result.stdout
    assert "BROKEN: 1 problem(s):" in result.stdout


def test_a_corrupt_checkpoint_fails(tmp_path):
    corrupt = tmp_path / "checkpoint.pt"
    corrupt.write_bytes(b"not a checkpoint" * 10)
    result = run_doctor("--checkpoint", str(corrupt))
    assert result.returncode == 1, result.stdout + result.stderr
    problems = [line for line in result.stdout.splitlines() if "PROBLEM checkpoint" in line]
    assert problems and str(corrupt) in problems[0], result.stdout


def test_a_missing_dependency_fails(monkeypatch, capsys):
    real = doctor.installed_version
    monkeypatch.setattr(
        doctor, "installed_version", lambda name: None if name == "sacrebleu" else real(name)
    )
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^  PROBLEM sacrebleu: not installed \(course-lib needs >=", out, re.M), out


def test_stale_metadata_is_a_problem(monkeypatch, capsys):
    real = doctor.installed_version
    monkeypatch.setattr(
        doctor, "installed_version", lambda name: "0.0.1" if name == "course-lib" else real(name)
    )
    assert main(["doctor"]) == 1
    assert "the installed metadata says 0.0.1: reinstall it" in capsys.readouterr().out


def test_missing_optional_tools_are_not_problems(monkeypatch, capsys):
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "chromium     not found (optional:" in out
    assert "bubblewrap   not found (optional:" in out


@pytest.mark.parametrize(
    ("version", "minimum", "ok"),
    [
        ("2.13.0+cpu", "2.2", True),
        ("2.2", "2.2", True),
        ("2.1.9", "2.2", False),
        ("7.7.1", "7.7", True),
        ("1.26.4", "1.24", True),
        ("1.23.5", "1.24", False),
        ("0.22.0rc1", "0.15", True),
    ],
)
def test_version_comparison(version, minimum, ok):
    assert doctor.at_least(version, minimum) is ok
