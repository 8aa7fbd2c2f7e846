"""The package ships as a wheel that works on its own, as Colab installs it from the repository.

The wheel is built from a copy of the project (so the working tree is not touched) with
``python -m build --wheel``. Its contents are checked against ``src/course_lib``, then it is
installed into a fresh virtual environment (no system or project site-packages) with the
pinned versions of ``constraints.txt``, where every module must import and ``course-lib``
must run. That install takes a minute or two (PyTorch is ~750 MB).
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

SRC = ROOT / "src" / "course_lib"
pytestmark = pytest.mark.slow


def run(command: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, project / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "src", project / "src", ignore=ignore)
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(project)], project)
    wheels = list(dist.glob("course_lib-*.whl"))
    assert len(wheels) == 1, wheels
    import course_lib  # the version is written once, there; the wheel must carry it

    assert wheels[0].name.startswith(f"course_lib-{course_lib.__version__}-"), wheels[0].name
    return wheels[0]


def test_wheel_contains_every_module_and_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        path.relative_to(SRC.parent).as_posix()
        for path in SRC.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix != ".pyc"
        and (path.suffix == ".py" or {"assets", "web"} & set(path.relative_to(SRC).parts))
    }
    assert expected, "no source files found"
    missing = sorted(expected - names)
    assert not missing, f"files of src/course_lib missing from the wheel: {missing}"


def test_wheel_metadata_keeps_colabs_torch_and_declares_the_command(wheel):
    archive = zipfile.ZipFile(wheel)
    info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = email.parser.Parser().parsestr(archive.read(info).decode())
    requires = [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    torch = [r for r in requires if r.replace(" ", "").startswith("torch")]
    assert torch and "==" not in torch[0], f"torch must not be pinned exactly: {torch}"
    assert metadata["Requires-Python"].startswith(">=3.10")
    entry_points = next(n for n in archive.namelist() if n.endswith("entry_points.txt"))
    assert "course-lib = course_lib.cli:main" in archive.read(entry_points).decode()


IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
import course_lib
assert "site-packages" in course_lib.__file__, course_lib.__file__
for module in pkgutil.walk_packages(course_lib.__path__, "course_lib."):
    if module.name.endswith("__main__"):
        continue
    importlib.import_module(module.name)
print("imported", len(sys.modules), "modules from", course_lib.__file__)
"""


def test_wheel_installs_into_a_fresh_venv_and_runs(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys._base_executable, "-m", "venv", str(venv)], tmp_path)  # not this .venv's packages
    python = venv / "bin" / "python"
    run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "-c",
            str(ROOT / "constraints.txt"),
            str(wheel),
        ],
        tmp_path,
        timeout=1200,
    )
    # Run from tmp_path with -I so nothing of the repository is importable.
    result = run([str(python), "-I", "-c", IMPORT_EVERYTHING], tmp_path)
    assert str(venv) in result.stdout, result.stdout
    help_text = run([str(venv / "bin" / "course-lib"), "--help"], tmp_path).stdout
    assert "usage: course-lib" in help_text
    version = run([str(venv / "bin" / "course-lib"), "--version"], tmp_path).stdout
    assert version.startswith("course-lib ")
