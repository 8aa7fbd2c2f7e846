"""Running one grading job in a sandbox: a process group, limits, bubblewrap when present.

Each job gets

* its own temporary working directory (the only place it can write, besides a private
  ``/tmp``), removed afterwards;
* its own session and process group, killed as a group at the wall-clock limit;
* an address-space limit, a file-size limit and no core files (set by the harness before
  any student code exists);
* capped stdout and stderr (the rest is read and thrown away, so it cannot block);
* a clean environment (none of the grader's variables, one CPU thread, no GPU);
* with bubblewrap (``bwrap`` on ``PATH``): a read-only view of the file system, a private
  ``/tmp``, no network, its own PID/IPC/UTS namespaces, the ``nobody`` user with no
  capabilities, and the submissions and output folders hidden behind empty mounts.

Without bubblewrap the job still gets everything above except the file-system, network
and namespace isolation; the grader then warns loudly and records ``process-only``.
When that happens as root, the harness switches to the ``nobody`` user before running
student code (if ``nobody`` can read the Python installation; the warning says when it
cannot), so it cannot write to files that only root may write.

Results come back on a pipe (not a file the job could delete), size-capped, one JSON
object per line; anything that does not parse is ignored.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import course_lib
from course_lib.errors import CourseLibError

BUBBLEWRAP = "bubblewrap"
PROCESS_ONLY = "process-only"
NOBODY = 65534


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


STAGE_MOUNT = "/course-stage"  # where the stubbed copies appear inside bubblewrap
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
)
# never mounted whole, even if an interpreter's search path names them
TOO_BROAD = ("/", "/tmp", "/var/tmp", "/home", "/root", "/work", "/mnt", "/media", "/srv", "/opt")

_interpreter_path: list[str] = []


def _package_dir() -> Path:
    return Path(course_lib.__file__).resolve().parent


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _search_path() -> list[str]:
    """``sys.path`` of ``python -I`` with this interpreter (what the harness will see),
    asked once per process."""
    if not _interpreter_path:
        try:
            result = subprocess.run(
                [sys.executable, "-I", "-c", "import sys, json; print(json.dumps(sys.path))"],
                capture_output=True,
                text=True,
                timeout=60,
                env=sandbox_environment(Path("/")),
                cwd="/",
            )
            _interpreter_path.extend(json.loads(result.stdout))
        except (OSError, ValueError, subprocess.TimeoutExpired):
            _interpreter_path.extend(sys.path)
    return list(_interpreter_path)


def python_mounts() -> list[Path]:
    """The Python environment the harness needs, read-only: the prefixes (venv and base
    installation, as given and resolved) and the search-path folders outside them -
    except any folder that holds the real ``course_lib`` outside the prefixes (an
    editable install's source tree), which the sandbox never sees."""
    package = _package_dir()
    prefixes = []
    for text in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        for path in (Path(text), Path(text).resolve()):
            if path.is_dir() and str(path) not in TOO_BROAD:
                prefixes.append(path)
    executable = Path(sys.executable).resolve().parent
    if not any(_inside(executable, p) for p in prefixes) and str(executable) not in TOO_BROAD:
        prefixes.append(executable)
    mounts = list(dict.fromkeys(prefixes))
    for entry in _search_path():
        path = Path(entry) if entry else None
        if path is None or not path.is_absolute() or not path.exists():
            continue
        if any(_inside(path, m) or _inside(path.resolve(), m) for m in mounts):
            continue
        if str(path) in TOO_BROAD or str(path.resolve()) in TOO_BROAD:
            continue
        if _inside(package, path.resolve()):
            continue  # the real package's source folder (editable install): never shown
        mounts.append(path)
    return mounts


def allowlist(stage: Path | None = None) -> list[tuple[str, str]]:
    """What bubblewrap shows, as (what, path inside) pairs, for documentation and tests:
    system folders, a few files of ``/etc``, the Python environment, the stage of stubbed
    copies (and, when the real package lies inside the environment, the stubbed copy in
    its place). The job's own work folder is added per job."""
    shown = [("system", d) for d in SYSTEM_DIRS if os.path.lexists(d)]
    shown += [("system", f) for f in ETC_FILES if os.path.exists(f)]
    shown += [("python", str(p)) for p in python_mounts()]
    if stage is not None:
        shown.append(("course package (stubbed copies)", STAGE_MOUNT))
        package = _package_dir()
        if any(_inside(package, p) for p in python_mounts()):
            shown.append(("course package (stubbed copy over the real one)", str(package)))
    return shown


def bubblewrap_command(
    workdir: Path, hide: Sequence[Path] = (), stage: Path | None = None
) -> list[str]:
    """The ``bwrap`` prefix for a job whose only writable directory is ``workdir``.

    Nothing is shown by default: an allowlist of read-only mounts (:func:`allowlist`),
    a private ``/tmp``, ``/dev`` and ``/proc``, and ``workdir`` read-write. ``hide``
    folders that would still be visible (inside the Python environment) are covered
    with an empty mount.
    """
    # fmt: off
    command = [
        "bwrap",
        "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
        "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try", "--hostname", "sandbox",
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
    ]
    # fmt: on
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            command += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            command += ["--ro-bind", folder, folder]
    for name in ETC_FILES:
        if os.path.exists(name):
            command += ["--ro-bind", name, name]
    mounts = python_mounts()
    for path in mounts:
        command += ["--ro-bind", str(path.resolve()), str(path)]
    if stage is not None:
        command += ["--ro-bind", str(stage), STAGE_MOUNT]
        package = _package_dir()
        if any(_inside(package, p) for p in mounts):
            command += ["--ro-bind", str(Path(stage) / "base" / "course_lib"), str(package)]
    for path in hide:
        path = Path(path).resolve()
        if (
            path.is_dir()
            and any(_inside(path, m) for m in mounts)
            and not _inside(_package_dir(), path)
        ):
            command += ["--tmpfs", str(path)]
    command += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir), "--"]
    return command


def _can_hide(path: Path) -> bool:
    """Kept for compatibility: with the allowlist every folder outside it is invisible;
    the Python environment and the package are what cannot be hidden."""
    path = path.resolve()
    needed = [*python_mounts(), _package_dir()]
    return not any(n == path or path in n.parents for n in needed)


_bubblewrap_checked: dict[str, str | None] = {}


def bubblewrap_problem() -> str | None:
    """``None`` if bubblewrap works here, else why not (cached per process)."""
    if "result" in _bubblewrap_checked:
        return _bubblewrap_checked["result"]
    problem: str | None = None
    if shutil.which("bwrap") is None:
        problem = "bwrap is not on PATH (install the 'bubblewrap' package)"
    else:
        workdir = Path(tempfile.mkdtemp(prefix="course-lib-probe-"))
        try:
            result = subprocess.run(
                [*bubblewrap_command(workdir), "/bin/sh", "-c", "echo ok > probe"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            if result.returncode != 0 or not (workdir / "probe").exists():
                problem = f"bwrap does not start here: {result.stderr.strip()[:300]}"
        except (OSError, subprocess.TimeoutExpired) as error:
            problem = f"bwrap does not start here: {error}"
        finally:
            remove_tree(workdir)
    _bubblewrap_checked["result"] = problem
    return problem


def _check_requested(requested: str) -> None:
    if requested not in ("auto", BUBBLEWRAP, PROCESS_ONLY):
        raise CourseLibError(
            f"isolation must be 'auto', 'bubblewrap' or 'process-only', got {requested!r}"
        )


_FALLBACK_WARNING = (
    "WARNING: no sandbox: {why}. Falling back to process-only isolation: student code runs "
    "with time and memory limits only; it can read the file system{write} and use the "
    "network. Install bubblewrap (apt-get install bubblewrap) for real isolation."
)


@dataclass
class Sandbox:
    """How jobs are run: the isolation, the limits and the folders to hide.

    Make one with :meth:`Sandbox.start`, which checks that it works.
    """

    isolation: str
    limits: Limits
    hide: tuple[Path, ...] = ()
    run_as_nobody: bool = False
    warning: str | None = None
    startup_seconds: float = 0.0
    torch_version: str = ""

    @classmethod
    def start(
        cls, requested: str = "auto", limits: Limits | None = None, hide: Sequence[Path] = ()
    ) -> Sandbox:
        """Choose the isolation and run an empty job to prove it works.

        Args:
            requested: ``"auto"`` (bubblewrap when it works, else process-only with a loud
                warning), ``"bubblewrap"`` (an error if unavailable) or ``"process-only"``.
            limits: resource limits (defaults: :class:`Limits`).
            hide: folders to cover with an empty mount inside the sandbox.

        Within one process the outcome is remembered per (isolation asked for, memory
        limit), so later calls skip the empty job.

        Raises:
            CourseLibError: the requested isolation is unavailable, or even an empty job
                fails (for example torch does not import within the memory limit).
        """
        _check_requested(requested)
        limits = limits or Limits()
        hide = tuple(Path(p).resolve() for p in hide)
        key = (requested, limits.memory_mb)
        if key in _started:  # this process already proved this set-up works
            return replace(_started[key], limits=limits, hide=hide)
        attempts: list[Sandbox] = []
        why = bubblewrap_problem() if requested != PROCESS_ONLY else "disabled on request"
        if why is None:
            attempts.append(cls(BUBBLEWRAP, limits, hide))
        elif requested == BUBBLEWRAP:
            raise CourseLibError(f"--isolation bubblewrap requested but {why}")
        root = os.geteuid() == 0
        attempts += [cls(PROCESS_ONLY, limits, hide, run_as_nobody=True)] if root else []
        attempts += [cls(PROCESS_ONLY, limits, hide)]
        failures = []
        for sandbox in attempts:
            if requested == BUBBLEWRAP and sandbox.isolation != BUBBLEWRAP:
                break
            run = sandbox.run({"exercises": []})
            events = [r.get("event") for r in run.records]
            if events[:1] == ["ready"] and "done" in events:
                sandbox.startup_seconds = run.seconds
                sandbox.torch_version = str(run.records[0].get("torch", ""))
                if sandbox.isolation == PROCESS_ONLY:
                    if why is None:
                        why = "bubblewrap cannot run the grader: " + failures[0]
                    write = ", write wherever the grader's user can"
                    if sandbox.run_as_nobody:
                        write = ""
                    elif root:
                        write += " (root: the 'nobody' user cannot read this Python installation)"
                    sandbox.warning = _FALLBACK_WARNING.format(why=why, write=write)
                _started[key] = sandbox
                return sandbox
            tail = run.stderr.strip().splitlines()[-3:]
            failures.append(
                f"{sandbox.isolation}{' as nobody' if sandbox.run_as_nobody else ''}: "
                f"exit status {run.returncode}: {' | '.join(tail)[:500]}"
            )
        raise CourseLibError(
            "the grading sandbox does not start; an empty job failed: " + "; ".join(failures)
        )

    def run(self, job: dict[str, Any], stage: Path | None = None) -> SandboxRun:
        """Run one job (see :func:`run_job`)."""
        return run_job(job, self.limits, self.isolation, self.hide, self.run_as_nobody, stage)


_started: dict[tuple[str, int], Sandbox] = {}


def sandbox_environment(workdir: Path) -> dict[str, str]:
    """A clean environment: nothing of the grader's, one thread, no GPU."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "MPLBACKEND": "Agg",
    }


def remove_tree(path: Path) -> None:
    """Remove a job's directory even if the job made parts of it unreadable."""

    def make_writable(function: Any, failed: str, _info: Any) -> None:
        try:
            parent = os.path.dirname(failed)
            os.chmod(parent, stat.S_IRWXU)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, stat.S_IRWXU)
            function(failed)
        except OSError:
            pass

    shutil.rmtree(path, onerror=make_writable)
    if os.path.lexists(path):
        shutil.rmtree(path, ignore_errors=True)


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


_default_stage: list[Path] = []


def default_stage() -> Path:
    """A stage with every ``reference_*`` stubbed and nothing else (for jobs that name
    no exercise of a registry, such as the start-up probe); made once per process."""
    if not _default_stage:
        from course_lib.grading.stubs import build_stage

        stage = Path(tempfile.mkdtemp(prefix="course-lib-stage-"))
        build_stage(stage, {})
        atexit.register(remove_tree, stage)
        _default_stage.append(stage)
    return _default_stage[0]


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
        isolation: ``"bubblewrap"`` or ``"process-only"`` (see :meth:`Sandbox.start`).
        hide: folders to cover with an empty mount inside the sandbox (bubblewrap only;
            only needed for folders inside the Python environment).
        run_as_nobody: process-only isolation started as root: switch to ``nobody``.
        stage: the stubbed copies of ``course_lib`` (:mod:`course_lib.grading.stubs`);
            default: :func:`default_stage`.
    """
    stage = Path(stage or default_stage())
    workdir = Path(tempfile.mkdtemp(prefix="course-lib-job-")).resolve()
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
    harness = [
        *harness_command(stage, isolation),
        "--job", str(job_path), "--result-fd", str(write_fd),
        "--memory-mb", str(limits.memory_mb), "--file-mb", str(limits.file_mb),
    ]
    # fmt: on
    if isolation == BUBBLEWRAP:
        command = bubblewrap_command(workdir, hide, stage) + harness
    elif isolation == PROCESS_ONLY:
        command = harness
        if run_as_nobody and os.geteuid() == 0:
            os.chown(workdir, NOBODY, NOBODY)
            command += ["--drop-to-uid", str(NOBODY)]
    else:
        raise CourseLibError(f"unknown isolation {isolation!r}")
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
    records = []
    for line in bytes(kept["result"]).split(b"\n"):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            records.append(record)
    return SandboxRun(
        isolation="",
        returncode=None,
        timed_out=timed_out,
        seconds=time.monotonic() - started,
        records=records,
        result_truncated=overflow["result"],
        stdout=bytes(kept["stdout"]).decode("utf-8", "replace"),
        stderr=bytes(kept["stderr"]).decode("utf-8", "replace"),
        stdout_truncated=overflow["stdout"],
        stderr_truncated=overflow["stderr"],
    )
