"""Running one grading job: the harness process, its limits, its pipes and its clean-up.

Each job gets

* its own temporary working directory (the only place it can write, besides a private
  ``/tmp``), removed afterwards;
* its own session and process group, killed as a group at the wall-clock limit;
* an address-space limit, a file-size limit and no core files (set by the harness before
  any student code exists);
* capped stdout and stderr (the rest is read and thrown away, so it cannot block);
* the clean environment and, with bubblewrap, the mounts of
  :mod:`course_lib.grading.isolation`.

Results come back on a pipe (not a file the job could delete), size-capped, one JSON
object per line; anything that does not parse is ignored.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_lib.errors import CourseLibError
from course_lib.grading.folders import remove_tree, temporary_folder
from course_lib.grading.isolation import (
    BUBBLEWRAP,
    NOBODY,
    PROCESS_ONLY,
    STAGE_MOUNT,
    bubblewrap_command,
    sandbox_environment,
)
from course_lib.grading.stubs import default_stage


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed job.

    Attributes:
        timeout: wall-clock seconds for the whole job (grader-enforced).
        exercise_timeout: wall-clock seconds for each exercise (harness-enforced).
        memory_mb: address-space limit (``RLIMIT_AS``) of every sandboxed process, in MiB.
            Importing CPU torch needs about 600 MiB of address space.
        file_mb: largest file the job may write, in MiB.
        log_bytes: how much of stdout and of stderr is kept.
        result_bytes: how much result data the grader reads at most.
        case_output_bytes: largest encoded output of a single case.
    """

    timeout: float = 60.0
    exercise_timeout: float = 10.0
    memory_mb: int = 4096
    file_mb: int = 64
    log_bytes: int = 65_536
    result_bytes: int = 64_000_000
    case_output_bytes: int = 8_000_000

    def __post_init__(self) -> None:
        if not self.timeout > 0 or not self.exercise_timeout > 0:
            raise CourseLibError(
                f"time limits must be positive, got timeout={self.timeout!r}, "
                f"exercise_timeout={self.exercise_timeout!r}"
            )
        if self.memory_mb < 256:
            raise CourseLibError(f"memory limit must be at least 256 MB, got {self.memory_mb}")
        if self.file_mb < 1:
            raise CourseLibError(f"file size limit must be at least 1 MB, got {self.file_mb}")


@dataclass
class SandboxRun:
    """What came back from one job. ``records`` are the parsed result lines (untrusted)."""

    isolation: str
    returncode: int | None
    timed_out: bool
    seconds: float
    records: list[dict[str, Any]] = field(default_factory=list)
    result_truncated: bool = False
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False


def _kill_group(pid: int) -> None:
    """Kill the job's process group and, on Linux, every process left in its session
    (the harness puts each exercise in a process group of its own)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for other in _session_members(pid):
        try:
            os.kill(other, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _session_members(session: int) -> list[int]:
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat_line = handle.read()
        except OSError:
            continue
        fields = stat_line[stat_line.rfind(b")") + 2 :].split()
        if len(fields) > 3 and int(fields[3]) == session:
            members.append(int(entry))
    return members


HARNESS_BOOT = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from course_lib.grading.harness import main; sys.exit(main(sys.argv[1:]))"
)


def harness_command(stage: Path, isolation: str) -> list[str]:
    """``python -I`` importing ``course_lib`` from the stage's ``base`` copy first."""
    where = STAGE_MOUNT if isolation == BUBBLEWRAP else str(stage)
    command = [sys.executable, "-I", "-c", HARNESS_BOOT, f"{where}/base", "--stage", where]
    if isolation == BUBBLEWRAP:
        command.append("--private-mounts")
    return command


def run_job(
    job: dict[str, Any],
    limits: Limits,
    isolation: str,
    hide: Sequence[Path] = (),
    run_as_nobody: bool = False,
    stage: Path | None = None,
) -> SandboxRun:
    """Run the harness on ``job`` (see :mod:`course_lib.grading.harness`) and collect results.

    Args:
        job: ``{"exercises": [{"id", "function", "source", "cases": [{"args", "kwargs"}],
            "stub_folder", "patch", "kind"}]}`` with inputs already encoded as plain data.
        limits: the resource limits.
        isolation: ``"bubblewrap"`` or ``"process-only"`` (see
            :meth:`course_lib.grading.sandbox.Sandbox.start`).
        hide: folders to cover with an empty mount inside the sandbox (bubblewrap only;
            only needed for folders inside the Python environment).
        run_as_nobody: process-only isolation started as root: switch to ``nobody``.
        stage: the stubbed copies of ``course_lib`` (:mod:`course_lib.grading.stubs`);
            default: :func:`default_stage`.

    Raises:
        CourseLibError: an unknown isolation.
    """
    if isolation not in (BUBBLEWRAP, PROCESS_ONLY):
        raise CourseLibError(f"unknown isolation {isolation!r}")
    stage = Path(stage or default_stage())
    workdir = temporary_folder("course-lib-job-")
    job = {
        **job,
        "exercise_timeout": limits.exercise_timeout,
        "max_output_bytes": limits.case_output_bytes,
    }
    job_path = workdir / "job.json"
    job_path.write_text(json.dumps(job), encoding="utf-8")
    job_path.chmod(0o644)
    read_fd, write_fd = os.pipe()
    # fmt: off
    command = [
        *harness_command(stage, isolation),
        "--job", str(job_path), "--result-fd", str(write_fd),
        "--memory-mb", str(limits.memory_mb), "--file-mb", str(limits.file_mb),
    ]
    # fmt: on
    if isolation == BUBBLEWRAP:
        command = bubblewrap_command(workdir, hide, stage) + command
    elif run_as_nobody and os.geteuid() == 0:
        os.chown(workdir, NOBODY, NOBODY)
        command += ["--drop-to-uid", str(NOBODY)]
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(write_fd,),
            cwd=workdir,
            env=sandbox_environment(workdir),
            start_new_session=True,
        )
    except OSError:
        os.close(read_fd)
        remove_tree(workdir)
        raise
    finally:
        os.close(write_fd)
    try:
        run = _collect(process, read_fd, limits, started)
    finally:
        _kill_group(process.pid)
        if process.poll() is None:
            process.kill()
        process.wait()
        os.close(read_fd)
        remove_tree(workdir)
    run.isolation = isolation
    run.returncode = process.returncode
    return run


def _collect(
    process: subprocess.Popen, result_fd: int, limits: Limits, started: float
) -> SandboxRun:
    """Read stdout, stderr and results (each capped) until the job ends or time is up."""
    assert process.stdout is not None and process.stderr is not None
    caps = {"stdout": limits.log_bytes, "stderr": limits.log_bytes, "result": limits.result_bytes}
    kept: dict[str, bytearray] = {name: bytearray() for name in caps}
    overflow = {name: False for name in caps}
    selector = selectors.DefaultSelector()
    for name, fd in (
        ("stdout", process.stdout.fileno()),
        ("stderr", process.stderr.fileno()),
        ("result", result_fd),
    ):
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ, name)
    deadline = started + limits.timeout
    timed_out = False
    exited_at: float | None = None
    while selector.get_map():
        now = time.monotonic()
        if now >= deadline:
            timed_out = process.poll() is None
            break
        if exited_at is None and process.poll() is not None:
            exited_at = now
            _kill_group(process.pid)  # stragglers left in the group
        if exited_at is not None and now - exited_at > 2.0:
            break  # something outside the group still holds a pipe open
        for key, _ in selector.select(timeout=min(0.2, deadline - now)):
            try:
                chunk = os.read(key.fd, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                selector.unregister(key.fd)
                continue
            name = key.data
            room = caps[name] - len(kept[name])
            if len(chunk) > room:
                overflow[name] = True
            kept[name] += chunk[: max(room, 0)]
    selector.close()
    if timed_out:
        _kill_group(process.pid)
    return SandboxRun(
        isolation="",
        returncode=None,
        timed_out=timed_out,
        seconds=time.monotonic() - started,
        records=_parse_records(bytes(kept["result"])),
        result_truncated=overflow["result"],
        stdout=bytes(kept["stdout"]).decode("utf-8", "replace"),
        stderr=bytes(kept["stderr"]).decode("utf-8", "replace"),
        stdout_truncated=overflow["stdout"],
        stderr_truncated=overflow["stderr"],
    )


def _parse_records(data: bytes) -> list[dict[str, Any]]:
    """The JSON objects among the result lines; anything else is ignored."""
    records = []
    for line in data.split(b"\n"):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
