"""The sandbox: limits in every mode, and what bubblewrap adds where it is installed."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from course_lib.errors import CourseLibError
from course_lib.grading import plaindata
from course_lib.grading.isolation import BUBBLEWRAP, PROCESS_ONLY, python_mounts
from course_lib.grading.jobs import Limits
from course_lib.grading.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
NO_ARGS = [{"args": plaindata.encode(()), "kwargs": plaindata.encode({})}]


def job(**sources: str) -> dict:
    return {
        "exercises": [
            {"id": name, "function": "f", "source": source, "cases": NO_ARGS}
            for name, source in sources.items()
        ]
    }


def records_by_id(run) -> dict:
    return {r["id"]: r for r in run.records if r.get("event") == "exercise"}


def output(record):
    return plaindata.decode(record["cases"][0]["output"])


def processes_with(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(pid)
    return found


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"timeout": 0}, "time limits must be positive"),
        ({"exercise_timeout": -1}, "time limits must be positive"),
        ({"memory_mb": 10}, "memory limit must be at least 256"),
        ({"file_mb": 0}, "file size limit"),
    ],
)
def test_bad_limits_are_named(kwargs, message):
    with pytest.raises(CourseLibError, match=message):
        Limits(**kwargs)


def test_unknown_isolation_is_named():
    with pytest.raises(CourseLibError, match="isolation must be 'auto', 'bubblewrap' or"):
        Sandbox.start("docker")


@pytest.fixture(scope="module")
def process_only() -> Sandbox:
    """A started process-only sandbox (started once: each start imports torch)."""
    return Sandbox.start(PROCESS_ONLY, Limits(timeout=60, exercise_timeout=4, memory_mb=1536))


def test_process_only_limits_and_loud_warning(process_only, monkeypatch):
    """Without bubblewrap: per-exercise time limit, memory limit, early exits, clean
    environment, and stragglers killed with the process group."""
    marker = f"straggler-{uuid.uuid4().hex}"
    monkeypatch.setenv("COURSE_LIB_TEST_SECRET", "grader-only")
    sandbox = process_only
    assert sandbox.isolation == PROCESS_ONLY
    assert sandbox.warning and sandbox.warning.startswith("WARNING: no sandbox")
    run = sandbox.run(
        job(
            ok="def f():\n    import os\n    return [os.environ.get('COURSE_LIB_TEST_SECRET'), "
            "os.environ['OMP_NUM_THREADS']]\n",
            loop=(
                "import subprocess, sys\n"
                f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{marker}'])\n"
                "def f():\n    while True:\n        pass\n"
            ),
            # torch.empty reserves address space without touching it: the bomb reaches the
            # limit at once, whatever the machine's load
            memory="import torch\ndef f():\n    hog = []\n    while True:\n"
            "        hog.append(torch.empty(50_000_000))\n",
            exit="import os\nos._exit(0)\n",
            after="def f():\n    return 'still running'\n",
        )
    )
    found = records_by_id(run)
    assert output(found["ok"]) == [None, "1"]
    assert found["loop"]["outcome"] == "timeout"
    assert found["memory"]["outcome"] == "memory"
    assert found["exit"]["outcome"] == "exited"
    assert output(found["after"]) == "still running"
    assert not run.timed_out and run.records[-1] == {"event": "done"}
    time.sleep(0.5)
    assert processes_with(marker) == []


def test_the_whole_job_is_killed_at_its_wall_clock_limit(process_only):
    """Every process of the job goes: the harness, the exercise's process (in a group of
    its own) and what the student started."""
    marker = f"straggler-{uuid.uuid4().hex}"
    limits = Limits(timeout=8, exercise_timeout=8, memory_mb=1537)
    sandbox = replace(process_only, limits=limits)
    started = time.monotonic()
    run = sandbox.run(
        job(
            loop=(
                "import subprocess, sys\n"
                f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{marker}'])\n"
                "def f():\n    while True:\n        pass\n"
            )
        )
    )
    assert run.timed_out
    assert time.monotonic() - started < 12
    assert "loop" not in records_by_id(run)
    time.sleep(0.5)
    assert processes_with(marker) == []
    assert processes_with("--memory-mb\x001537") == []


def test_output_is_capped(process_only):
    sandbox = replace(process_only, limits=Limits(log_bytes=1000))
    run = sandbox.run(job(chatty="def f():\n    print('PASSED ' * 100_000)\n    return 1\n"))
    assert len(run.stdout) <= 1000 and run.stdout_truncated
    assert output(records_by_id(run)["chatty"]) == 1


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_bubblewrap_isolation(tmp_path):
    """Read-only file system, private /tmp, hidden folders, no network, nobody user."""
    outside = ROOT / "test-output" / f"sandbox-{uuid.uuid4().hex}"
    outside.mkdir(parents=True)
    hidden = outside / "hidden"
    hidden.mkdir()
    (hidden / "grades.csv").write_text("secret")
    try:
        sandbox = Sandbox.start(BUBBLEWRAP, Limits(timeout=60), hide=(hidden,))
        assert sandbox.isolation == BUBBLEWRAP and sandbox.warning is None
        source = f"""
import os, socket
def attempt(action):
    try:
        action()
        return "allowed"
    except Exception as error:
        return type(error).__name__
def f():
    def connect():
        socket.create_connection(("1.1.1.1", 53), timeout=2)
    def write_outside():
        open({str(outside / "pwned.txt")!r}, "w").write("x")
    def write_tmp():
        open("/tmp/inside.txt", "w").write("x")
    def write_cwd():
        open("here.txt", "w").write("x")
    return {{
        "network": attempt(connect),
        "write outside": attempt(write_outside),
        "write /tmp": attempt(write_tmp),
        "write cwd": attempt(write_cwd),
        "hidden folder": attempt(lambda: os.listdir({str(hidden)!r})),
        "repository": attempt(lambda: os.listdir({str(ROOT)!r})),
        "repository listing": sorted(os.listdir({str(ROOT)!r})) if os.path.isdir({str(ROOT)!r}) else [],
        "home": attempt(lambda: os.listdir(os.path.expanduser("~root"))),
        "root": sorted(os.listdir("/")),
        "uid": os.getuid(),
    }}
"""
        run = sandbox.run(job(probe=source))
        seen = output(records_by_id(run)["probe"])
        assert seen["network"] in ("OSError", "TimeoutError")
        # the allowlist: what is outside it does not exist in the sandbox at all
        assert seen["write outside"] in ("FileNotFoundError", "PermissionError", "OSError")
        assert seen["write /tmp"] == "allowed"  # a private, empty /tmp
        assert seen["write cwd"] == "allowed"
        assert seen["hidden folder"] == "FileNotFoundError"
        # of the repository, at most the Python environment (a .venv inside it) is shown
        inside = {
            Path(m).relative_to(ROOT).parts[0] for m in python_mounts() if ROOT in Path(m).parents
        }
        assert (
            seen["repository"] == "FileNotFoundError" or set(seen["repository listing"]) <= inside
        )
        assert "src" not in inside and "chapters" not in inside
        assert seen["home"] in ("FileNotFoundError", "PermissionError") or "root" in str(
            sys.base_prefix
        )
        assert set(seen["root"]) <= {
            "bin",
            "lib",
            "lib64",
            "lib32",
            "sbin",
            "usr",
            "etc",
            "dev",
            "proc",
            "tmp",
            "course-stage",
            *{Path(p).parts[1] for p in map(str, python_mounts())},
            *{Path(p).parts[1] for p in (str(Path(tempfile.gettempdir()).resolve()),)},
        }
        assert seen["uid"] == 65534
        assert sorted(p.name for p in outside.iterdir()) == ["hidden"]
        assert not Path("/tmp/inside.txt").exists()
    finally:
        shutil.rmtree(outside)
