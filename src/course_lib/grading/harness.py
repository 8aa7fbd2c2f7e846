"""The program that runs inside the sandbox: student cells in, plain data out.

Started by :mod:`course_lib.grading.jobs` as
``python -I -m course_lib.grading.harness --job JOB --result-fd FD ...``. It

1. applies the resource limits (address space, file size, no core files) and, when it
   was started as root without bubblewrap, drops to the ``nobody`` user - all before any
   student code exists in the process;
2. imports torch once (and ``course_lib`` only from the stage's ``base`` copy, in which
   every reference and forbidden function is a stub), then for each exercise forks a
   child (:mod:`course_lib.grading.student_process`) that switches to that exercise's
   own stubbed copy of ``course_lib``, runs only that exercise's cell and sends each
   output back, encoded as plain data;
3. waits for each child with a per-exercise time limit and writes one JSON line per
   exercise to ``FD``, a pipe whose other end the grader reads.

Nothing here decides a grade. Student code runs in the children and could write
anything to anything it can reach, including that pipe; the grader only awards points
for values that equal the references it computed itself for the inputs it chose, so
forged lines earn nothing that correct code would not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import signal
import sys
import time

from course_lib.grading.namespace import PR_SET_PDEATHSIG, libc, set_dumpable
from course_lib.grading.student_process import (
    EXIT_MEMORY,
    MAX_MESSAGE,
    run_child,
    send,
)


def _apply_limits(memory_mb: int, file_mb: int) -> None:
    limits = [
        (resource.RLIMIT_AS, memory_mb * 1024 * 1024),
        (resource.RLIMIT_FSIZE, file_mb * 1024 * 1024),
        (resource.RLIMIT_CORE, 0),
    ]
    for which, value in limits:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # too-large writes fail with an OSError


def _drop_privileges(uid: int) -> None:
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel kill this process when the harness dies (a killed harness
    must not leave a student's infinite loop running outside the sandbox's group)."""
    try:
        libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the harness died before prctl took effect
        os._exit(70)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _collect(pid: int, read_fd: int, timeout: float, max_bytes: int):
    """Read the child's lines until it ends, the time limit passes or it says too much."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    status = None
    reason = None
    eof = False
    while not (eof and status is not None):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            reason = "timeout"
            break
        if not eof and select.select([read_fd], [], [], min(remaining, 0.1))[0]:
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                eof = True
            data += chunk
            if len(data) > max_bytes:
                reason = "too-much-output"
                break
        elif eof:
            time.sleep(min(remaining, 0.01))
        if status is None:
            done_pid, status_value = os.waitpid(pid, os.WNOHANG)
            if done_pid:
                status = status_value
                if not eof and not select.select([read_fd], [], [], 0)[0]:
                    break  # ended; the pipe is only held open by its stragglers
    _kill_group(pid)  # stragglers the student may have started
    if status is None:
        _, status = os.waitpid(pid, 0)
    return bytes(data), status, reason


def _run_exercise(
    exercise: dict,
    timeout: float,
    max_output: int,
    memory_mb: int,
    stage: str | None = None,
    nested: bool = False,
) -> dict:
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_fd)
            os.setpgid(0, 0)
            _die_with_parent(parent)
            run_child(exercise, write_fd, max_output, stage, nested)
        finally:
            os._exit(70)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    os.close(write_fd)
    data, status, reason = _collect(pid, read_fd, timeout, max_output * 2 + 1_000_000)
    os.close(read_fd)
    cases: list = [None] * len(exercise["cases"])
    outcome, message, done = None, "", False
    forbidden: list[str] = []
    copy_mode = "none"
    for line in data.split(b"\n"):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if record.get("done") is True:
            done = True
        elif "forbidden" in record:
            name = str(record["forbidden"])[:300]
            if name not in forbidden and len(forbidden) < 20:
                forbidden.append(name)
        elif "copy" in record and copy_mode == "none":
            copy_mode = str(record["copy"])[:300]
        elif "cell_error" in record:
            outcome, message = "cell-error", str(record["cell_error"])[:MAX_MESSAGE]
        elif "exited" in record:
            outcome, message = "exited", str(record["exited"])[:MAX_MESSAGE]
        elif isinstance(record.get("case"), int) and 0 <= record["case"] < len(cases):
            if cases[record["case"]] is None:
                cases[record["case"]] = {k: record[k] for k in ("output", "error") if k in record}
    code = os.waitstatus_to_exitcode(status)
    if reason == "timeout":
        outcome, message = "timeout", f"stopped after the exercise time limit of {timeout:g} s"
    elif reason == "too-much-output":
        outcome, message = "crashed", "sent more output than the grader accepts"
    elif code == EXIT_MEMORY:
        outcome, message = "memory", f"ran out of memory (limit {memory_mb} MB)"
    elif outcome in ("cell-error", "exited"):
        pass
    elif code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        outcome, message = "crashed", f"the process was killed by signal {name}"
    elif not done:
        outcome, message = "exited", f"the process ended early (exit status {code})"
    else:
        outcome = "completed"
    return {
        "event": "exercise",
        "id": exercise["id"],
        "outcome": outcome,
        "message": message,
        "cases": cases,
        "forbidden": forbidden,
        "copy": copy_mode,
        "seconds": round(time.monotonic() - started, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="course-lib grading harness (sandbox side)")
    parser.add_argument("--job", required=True)
    parser.add_argument("--result-fd", type=int, required=True)
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--file-mb", type=int, default=64)
    parser.add_argument("--drop-to-uid", type=int, default=None)
    parser.add_argument("--stage", default=None, help="the folder of stubbed copies")
    parser.add_argument(
        "--private-mounts",
        action="store_true",
        help="give each exercise a mount namespace showing only its own copy (bubblewrap)",
    )
    args = parser.parse_args(argv)

    _apply_limits(args.memory_mb, args.file_mb)
    if args.drop_to_uid is not None:
        _drop_privileges(args.drop_to_uid)
    # nothing running as this user may read this process's memory, files or mounts
    # through /proc (the exercises' processes run student code as the same user)
    try:
        set_dumpable(False)
    except OSError:
        pass
    with open(args.job, encoding="utf-8") as handle:
        job = json.load(handle)
    try:  # the cases' inputs need not stay where student code could read them
        os.unlink(args.job)
    except OSError:
        pass
    started = time.monotonic()
    # imported only now: after the memory limit is set (and timed, for the report)
    import torch

    torch.set_num_threads(1)
    # after torch too; imported once here so that every forked child starts with it
    from course_lib.grading import plaindata  # noqa: F401

    fd = args.result_fd
    send(
        fd,
        {
            "event": "ready",
            "torch": torch.__version__,
            "import_seconds": round(time.monotonic() - started, 3),
            "uid": os.getuid(),
        },
    )
    for exercise in job["exercises"]:
        record = _run_exercise(
            exercise,
            float(job["exercise_timeout"]),
            int(job["max_output_bytes"]),
            args.memory_mb,
            args.stage,
            args.private_mounts,
        )
        send(fd, record)
    send(fd, {"event": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
