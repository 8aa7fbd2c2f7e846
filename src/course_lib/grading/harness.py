"""The program that runs inside the sandbox: student cells in, plain data out.

Started by :mod:`course_lib.grading.sandbox` as
``python -I -m course_lib.grading.harness --job JOB --result-fd FD ...``. It

1. applies the resource limits (address space, file size, no core files) and, when it
   was started as root without bubblewrap, drops to the ``nobody`` user - all before any
   student code exists in the process;
2. imports torch once, then for each exercise forks a child that runs only that
   exercise's cell in a fresh namespace, calls the function on each case input (decoded
   from plain data) and sends each output back, encoded as plain data;
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

# Student code may replace builtins in its process; these references were taken before
# any student code ran (the child also restores builtins after each piece of student code).
_isinstance, _str, _type = isinstance, str, type

EXIT_MEMORY = 86  # a child ran out of memory
EXIT_EXITED = 87  # student code called sys.exit()
MAX_MESSAGE = 2000


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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _send(fd: int, record: dict) -> None:
    _write_all(fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())


def _describe(error: BaseException) -> str:
    try:
        text = f"{_type(error).__name__}: {error}"
    except Exception:  # a student exception whose __str__ fails
        text = "an exception"
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "..."


def _is_out_of_memory(error: BaseException) -> bool:
    if _isinstance(error, MemoryError):
        return True
    try:
        text = _str(error).lower()
    except Exception:
        return False
    return any(
        phrase in text
        for phrase in ("can't allocate memory", "cannot allocate memory", "out of memory")
    )


def _run_child(exercise: dict, out_fd: int, max_output: int) -> None:
    """Runs in the forked child: the student's cell and function, nothing else."""
    import builtins

    from course_lib.grading import plaindata

    saved_builtins = dict(builtins.__dict__)

    def restore_builtins() -> None:
        """Undo changes the student's code made to builtins before the harness's own code
        (messages, encoding) runs again; patching ``isinstance`` or ``print`` then changes
        nothing but the student's own computation."""
        current = builtins.__dict__
        for name in [name for name in current if name not in saved_builtins]:
            del current[name]
        current.update(saved_builtins)

    def send(record: dict) -> None:
        _send(out_fd, record)

    def finish(code: int) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)

    source, function = exercise["source"], exercise["function"]
    # inputs are decoded before any student code runs, so that patching builtins or torch
    # in the cell cannot change what the function is called with
    inputs = [
        (
            plaindata.decode(case["args"], objects="build"),
            plaindata.decode(case["kwargs"], objects="build"),
        )
        for case in exercise["cases"]
    ]
    namespace: dict = {"__name__": "__main__"}
    try:
        exec(compile(source, f"<exercise {exercise['id']}>", "exec"), namespace)
    except SystemExit as error:
        restore_builtins()
        send({"exited": f"the cell called sys.exit({error.code!r})"})
        finish(EXIT_EXITED)
    except BaseException as error:
        restore_builtins()
        if _is_out_of_memory(error):
            namespace.clear()
            finish(EXIT_MEMORY)
        message = _describe(error)
        if _isinstance(error, SyntaxError) and any(
            line.lstrip().startswith(("%", "!")) for line in source.splitlines()
        ):
            message += " (IPython magics such as %time or !pip cannot run in the grader)"
        send({"cell_error": message})
        finish(0)
    restore_builtins()
    student_function = namespace.get(function)
    if not callable(student_function):
        send({"cell_error": f"the cell does not define a function named {function!r}"})
        finish(0)
    for index, (args, kwargs) in enumerate(inputs):
        try:
            output = student_function(*args, **kwargs)
            restore_builtins()
            text = plaindata.dumps(output, "your output")
        except SystemExit as error:
            restore_builtins()
            send({"exited": f"the function called sys.exit({error.code!r})"})
            finish(EXIT_EXITED)
        except NotImplementedError:
            restore_builtins()
            send({"case": index, "error": "not implemented yet (raise NotImplementedError())"})
            continue
        except BaseException as error:
            restore_builtins()
            if _is_out_of_memory(error):
                del error
                namespace.clear()
                finish(EXIT_MEMORY)
            send({"case": index, "error": _describe(error)})
            continue
        if len(text) > max_output:
            send({"case": index, "error": f"the output is larger than {max_output} bytes"})
            continue
        _write_all(out_fd, b'{"case":%d,"output":%s}\n' % (index, text.encode()))
    send({"done": True})
    finish(0)


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel kill this process when the harness dies (a killed harness
    must not leave a student's infinite loop running outside the sandbox's group)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
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


def _run_exercise(exercise: dict, timeout: float, max_output: int, memory_mb: int) -> dict:
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read_fd)
            os.setpgid(0, 0)
            _die_with_parent(parent)
            _run_child(exercise, write_fd, max_output)
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
    for line in data.split(b"\n"):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if record.get("done") is True:
            done = True
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
        "seconds": round(time.monotonic() - started, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="course-lib grading harness (sandbox side)")
    parser.add_argument("--job", required=True)
    parser.add_argument("--result-fd", type=int, required=True)
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--file-mb", type=int, default=64)
    parser.add_argument("--drop-to-uid", type=int, default=None)
    args = parser.parse_args(argv)

    _apply_limits(args.memory_mb, args.file_mb)
    if args.drop_to_uid is not None:
        _drop_privileges(args.drop_to_uid)
    with open(args.job, encoding="utf-8") as handle:
        job = json.load(handle)
    started = time.monotonic()
    import torch

    torch.set_num_threads(1)
    from course_lib.grading import plaindata  # noqa: F401  (imported before any fork)

    fd = args.result_fd
    _send(
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
            exercise, float(job["exercise_timeout"]), int(job["max_output_bytes"]), args.memory_mb
        )
        _send(fd, record)
    _send(fd, {"event": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
