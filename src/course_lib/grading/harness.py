"""The program that runs inside the sandbox: student cells in, plain data out.

Started by :mod:`course_lib.grading.sandbox` as
``python -I -m course_lib.grading.harness --job JOB --result-fd FD ...``. It

1. applies the resource limits (address space, file size, no core files) and, when it
   was started as root without bubblewrap, drops to the ``nobody`` user - all before any
   student code exists in the process;
2. imports torch once (and ``course_lib`` only from the stage's ``base`` copy, in which
   every reference and forbidden function is a stub), then for each exercise forks a
   child that switches to that exercise's own stubbed copy of ``course_lib`` (see
   :mod:`course_lib.grading.stubs` and :func:`_enter_copy`), runs only that exercise's
   cell in a fresh namespace, calls the function on each case input (decoded from plain
   data) and sends each output back, encoded as plain data;
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


_libc = None


def _c():
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1,
    2,
    4,
    32,
    4096,
    16384,
    1 << 18,
)


def _check(result: int, what: str) -> None:
    if result != 0:
        import ctypes

        raise OSError(ctypes.get_errno(), f"{what} failed")


def _drop_capabilities() -> None:
    """No capabilities left in any set, none to regain (bounding set emptied, no new
    privileges): the mounts made for this exercise cannot be undone."""
    import ctypes

    libc = _c()
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]

    header, data = Header(0x20080522, 0), (Data * 2)()
    _check(libc.capset(ctypes.byref(header), data), "capset")
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("CapEff:", "CapPrm:")) and int(line.split()[1], 16):
                raise OSError(f"capabilities remain: {line.strip()}")


def _private_view(base: str, mine: str, others: str) -> None:
    """In a new user and mount namespace of this process only: ``mine`` replaces
    ``base`` and ``others`` (every other exercise's copy) becomes an empty read-only
    folder; then every capability is dropped. Mounts inherited into a namespace a
    student could create later are locked, so nothing here can be unmounted."""
    libc = _c()
    uid, gid = os.getuid(), os.getgid()
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # so this process may write its own id maps
    _check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{uid} {uid} 1"),
        ("gid_map", f"{gid} {gid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "making mounts private")
    _check(libc.mount(mine.encode(), base.encode(), None, MS_BIND | MS_REC, None), "bind")
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
    _check(libc.mount(None, base.encode(), None, flags, None), "read-only remount")
    _check(
        libc.mount(
            b"tmpfs",
            others.encode(),
            b"tmpfs",
            MS_RDONLY | MS_NOSUID | MS_NODEV,
            b"size=4k,mode=555",
        ),
        "hiding the other copies",
    )
    _drop_capabilities()
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def _enter_copy(exercise: dict, stage: str | None, nested: bool) -> str:
    """Make ``import course_lib`` give this exercise's stubbed copy, and forget every
    ``course_lib`` module imported so far. Returns how the copy is isolated:

    * ``"private-mount"``: only this exercise's copy is visible at all (bubblewrap);
    * ``"search-path"``: this exercise's copy comes first on ``sys.path``, but other
      copies (and, without bubblewrap, the real package) can still be found on disk.
    """
    import importlib

    if not stage or exercise.get("stub_folder") is None:
        return "none"
    base = os.path.join(stage, "base")
    mine = os.path.join(stage, "ex", _str(exercise["stub_folder"]))
    mode = "search-path"
    target = mine
    if nested:
        try:
            _private_view(base, mine, os.path.join(stage, "ex"))
            mode, target = "private-mount", base
        except Exception as error:
            mode = f"search-path (private mount failed: {_describe(error)[:200]})"
            try:
                _drop_capabilities()
            except Exception:
                pass
    for name in [n for n in sys.modules if n == "course_lib" or n.startswith("course_lib.")]:
        del sys.modules[name]
    sys.path[:] = [target] + [p for p in sys.path if p not in (base, mine)]
    importlib.invalidate_caches()
    return mode


def _patch_forbidden(names: list, out_fd: int) -> list[str]:
    """Best effort, in this process only: forbidden names outside ``course_lib`` (such as
    ``torch.softmax``) are replaced by stubs. Student code can still reach the original
    through another route (``torch._C``), so the static check stays the first line."""
    import importlib

    from course_lib.exercises.core import ForbiddenUse

    patched = []
    for name in names:
        parts = _str(name).split(".")
        for cut in range(len(parts) - 1, 0, -1):
            try:
                owner = importlib.import_module(".".join(parts[:cut]))
            except Exception:
                continue
            try:
                for part in parts[cut:-1]:
                    owner = getattr(owner, part)
                getattr(owner, parts[-1])

                def stub(*args, _name=name, **kwargs):
                    raise ForbiddenUse(_name)

                setattr(owner, parts[-1], stub)
                patched.append(name)
            except Exception:
                pass
            break
    return patched


def _run_child(
    exercise: dict, out_fd: int, max_output: int, stage: str | None = None, nested: bool = False
) -> None:
    """Runs in the forked child: the student's cell and function, nothing else."""
    import builtins

    copy_mode = _enter_copy(exercise, stage, nested)
    from course_lib.exercises import core
    from course_lib.grading import plaindata

    core._forbidden_report_fd = out_fd
    _send(out_fd, {"copy": copy_mode})
    _patch_forbidden(list(exercise.get("patch", [])), out_fd)

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
    checkpoint = exercise.get("kind") == "checkpoint"
    student_function = namespace.get(function)
    if checkpoint:
        if function not in namespace:
            send({"cell_error": f"the cell does not assign an answer to {function!r}"})
            finish(0)
    elif not callable(student_function):
        send({"cell_error": f"the cell does not define a function named {function!r}"})
        finish(0)
    for index, (args, kwargs) in enumerate(inputs):
        try:
            if checkpoint:
                output = student_function
            else:
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
            _run_child(exercise, write_fd, max_output, stage, nested)
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
        _c().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except OSError:
        pass
    with open(args.job, encoding="utf-8") as handle:
        job = json.load(handle)
    try:  # the cases' inputs need not stay where student code could read them
        os.unlink(args.job)
    except OSError:
        pass
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
            exercise,
            float(job["exercise_timeout"]),
            int(job["max_output_bytes"]),
            args.memory_mb,
            args.stage,
            args.private_mounts,
        )
        _send(fd, record)
    _send(fd, {"event": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
