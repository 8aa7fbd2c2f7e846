"""What a sandboxed job sees: a clean environment and, with bubblewrap, an allowlist of mounts.

Every job, whatever its isolation, gets :func:`sandbox_environment` (nothing of the
grader's variables, one CPU thread, no GPU). With bubblewrap (``bwrap`` on ``PATH``) it
also gets a read-only view of only what Python needs (:func:`allowlist`), a private
``/tmp``, no network, its own PID/IPC/UTS namespaces and the ``nobody`` user with no
capabilities (:func:`bubblewrap_command`). The lists of what is shown are computed from
this interpreter (its prefixes and search path) and from where the ``course_lib`` package
lives, never from a list of file names.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from course_lib.grading.stubs import package_dir

BUBBLEWRAP = "bubblewrap"
PROCESS_ONLY = "process-only"
ISOLATIONS = (BUBBLEWRAP, PROCESS_ONLY)
NOBODY = 65534
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


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@functools.cache
def _search_path() -> tuple[str, ...]:
    """``sys.path`` of ``python -I`` with this interpreter (what the harness will see),
    asked once per process."""
    try:
        result = subprocess.run(
            [sys.executable, "-I", "-c", "import sys, json; print(json.dumps(sys.path))"],
            capture_output=True,
            text=True,
            timeout=60,
            env=sandbox_environment(Path("/")),
            cwd="/",
        )
        return tuple(json.loads(result.stdout))
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return tuple(sys.path)


def _prefixes() -> list[Path]:
    """The interpreter's prefixes (venv and base installation, as given and resolved)."""
    prefixes = []
    for text in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        for path in (Path(text), Path(text).resolve()):
            if path.is_dir() and str(path) not in TOO_BROAD:
                prefixes.append(path)
    executable = Path(sys.executable).resolve().parent
    if not any(_inside(executable, p) for p in prefixes) and str(executable) not in TOO_BROAD:
        prefixes.append(executable)
    return list(dict.fromkeys(prefixes))


def python_mounts() -> list[Path]:
    """The Python environment the harness needs, read-only: the prefixes and the
    search-path folders outside them - except any folder that holds the real
    ``course_lib`` outside the prefixes (an editable install's source tree), which the
    sandbox never sees."""
    package = package_dir()
    mounts = _prefixes()
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


def _package_is_mounted(mounts: Sequence[Path]) -> bool:
    """Whether the real package lies inside the mounted environment (a normal install),
    so that the stubbed copy must be mounted over it."""
    return any(_inside(package_dir(), p) for p in mounts)


def allowlist(stage: Path | None = None) -> list[tuple[str, str]]:
    """What bubblewrap shows, as (what, path inside) pairs, for documentation and tests:
    system folders, a few files of ``/etc``, the Python environment, the stage of stubbed
    copies (and, when the real package lies inside the environment, the stubbed copy in
    its place). The job's own work folder is added per job."""
    shown = [("system", d) for d in SYSTEM_DIRS if os.path.lexists(d)]
    shown += [("system", f) for f in ETC_FILES if os.path.exists(f)]
    mounts = python_mounts()
    shown += [("python", str(p)) for p in mounts]
    if stage is not None:
        shown.append(("course package (stubbed copies)", STAGE_MOUNT))
        if _package_is_mounted(mounts):
            shown.append(("course package (stubbed copy over the real one)", str(package_dir())))
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
        if _package_is_mounted(mounts):
            command += ["--ro-bind", str(Path(stage) / "base" / "course_lib"), str(package_dir())]
    for path in hide:
        path = Path(path).resolve()
        if (
            path.is_dir()
            and any(_inside(path, m) for m in mounts)
            and not _inside(package_dir(), path)
        ):
            command += ["--tmpfs", str(path)]
    command += ["--bind", str(workdir), str(workdir), "--chdir", str(workdir), "--"]
    return command
