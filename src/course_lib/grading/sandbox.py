"""Choosing a job's isolation and proving it works: :class:`Sandbox`.

With bubblewrap (``bwrap`` on ``PATH``, and user namespaces allowed) student code runs
behind the mounts and namespaces of :mod:`course_lib.grading.isolation`. Without it the
job still gets everything :mod:`course_lib.grading.jobs` gives (limits, a process group,
a clean environment, capped output) but no file-system, network or namespace isolation;
the grader then warns loudly and records ``process-only``. When that happens as root, the
harness switches to the ``nobody`` user before running student code (if ``nobody`` can
read the Python installation; the warning says when it cannot), so it cannot write to
files that only root may write.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from course_lib.errors import CourseLibError
from course_lib.grading.folders import remove_tree, temporary_folder
from course_lib.grading.isolation import BUBBLEWRAP, ISOLATIONS, PROCESS_ONLY, bubblewrap_command
from course_lib.grading.jobs import Limits, SandboxRun, run_job

_FALLBACK_WARNING = (
    "WARNING: no sandbox: {why}. Falling back to process-only isolation: student code runs "
    "with time and memory limits only; it can read the file system{write} and use the "
    "network. Install bubblewrap (apt-get install bubblewrap) for real isolation."
)


@functools.cache
def bubblewrap_problem() -> str | None:
    """``None`` if bubblewrap works here, else why not (asked once per process)."""
    if shutil.which("bwrap") is None:
        return "bwrap is not on PATH (install the 'bubblewrap' package)"
    workdir = temporary_folder("course-lib-probe-")
    try:
        result = subprocess.run(
            [*bubblewrap_command(workdir), "/bin/sh", "-c", "echo ok > probe"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if result.returncode != 0 or not (workdir / "probe").exists():
            return f"bwrap does not start here: {result.stderr.strip()[:300]}"
        return None
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap does not start here: {error}"
    finally:
        remove_tree(workdir)


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
            limits: resource limits (defaults: :class:`~course_lib.grading.jobs.Limits`).
            hide: folders to cover with an empty mount inside the sandbox.

        Within one process the outcome is remembered per (isolation asked for, memory
        limit), so later calls skip the empty job.

        Raises:
            CourseLibError: the requested isolation is unavailable, or even an empty job
                fails (for example torch does not import within the memory limit).
        """
        if requested not in ("auto", *ISOLATIONS):
            raise CourseLibError(
                f"isolation must be 'auto', 'bubblewrap' or 'process-only', got {requested!r}"
            )
        limits = limits or Limits()
        hide = tuple(Path(p).resolve() for p in hide)
        key = (requested, limits.memory_mb)
        if key not in _started:  # this process has not yet proved this set-up works
            _started[key] = cls._first_that_works(requested, limits)
        return replace(_started[key], limits=limits, hide=hide)

    @classmethod
    def _first_that_works(cls, requested: str, limits: Limits) -> Sandbox:
        """Bubblewrap, else process-only (as ``nobody`` first when root): the first whose
        empty job starts; with the fallback warning when it is not bubblewrap."""
        why = bubblewrap_problem() if requested != PROCESS_ONLY else "disabled on request"
        attempts: list[Sandbox] = []
        if why is None:
            attempts.append(cls(BUBBLEWRAP, limits))
        elif requested == BUBBLEWRAP:
            raise CourseLibError(f"--isolation bubblewrap requested but {why}")
        root = os.geteuid() == 0
        if requested != BUBBLEWRAP:
            attempts += [cls(PROCESS_ONLY, limits, run_as_nobody=True)] if root else []
            attempts += [cls(PROCESS_ONLY, limits)]
        failures = []
        for sandbox in attempts:
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
        """Run one job (see :func:`~course_lib.grading.jobs.run_job`)."""
        return run_job(job, self.limits, self.isolation, self.hide, self.run_as_nobody, stage)


_started: dict[tuple[str, int], Sandbox] = {}
