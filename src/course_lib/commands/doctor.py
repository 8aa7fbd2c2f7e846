"""Check this installation of the course and print what a problem report needs.

Prints the course version, Python, PyTorch (and whether CUDA or Apple's MPS is usable),
the version of every other dependency with the minimum course-lib supports (read from the
installed package's own requirements), the number of threads PyTorch uses, whether the
bundled checkpoint loads and translates "I hate pizza", and whether the optional tools are
there (Chromium for the website's browser tests and the PDF, bubblewrap for sandboxed
grading).

Exits 0 when the installation works, 1 when something the course needs is broken (a
missing dependency or one older than supported, a checkpoint that does not load); each
problem is named on a line starting with "PROBLEM". Missing optional tools are not
problems. Paste the whole output into a problem report.

Examples:
  course-lib doctor
  course-lib doctor --checkpoint runs/toy     # also check a checkpoint you trained
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

from course_lib import __version__

DISTRIBUTION = "course-lib"
SENTENCE = "I hate pizza"
# (name, what it is for, executables to look for)
OPTIONAL_TOOLS = [
    ("chromium", "browser tests of the website, the PDF", ("chromium", "chromium-browser")),
    ("bubblewrap", "sandboxed grading (course-lib grade)", ("bwrap",)),
]


@dataclass
class Report:
    """Lines to print and the problems found."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, label: str, text: str) -> None:
        self.lines.append(f"{label:<13}{text}")

    def problem(self, label: str, text: str) -> None:
        self.add(label, f"{text}  <-- PROBLEM")
        self.problems.append(f"{label}: {text}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--checkpoint",
        default="bundled",
        metavar="DIR|bundled",
        help="checkpoint to load and translate with (default: bundled, the one shipped)",
    )


def release(version: str) -> tuple[int, ...]:
    """The numeric release part of a version: ``"2.13.0+cpu"`` -> ``(2, 13, 0)``."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def at_least(version: str, minimum: str) -> bool:
    have, need = release(version), release(minimum)
    width = max(len(have), len(need))
    return have + (0,) * (width - len(have)) >= need + (0,) * (width - len(need))


def requirements(distribution: str = DISTRIBUTION) -> list[tuple[str, str | None]]:
    """``(name, minimum or None)`` for each requirement of the installed package (no extras)."""
    found = []
    for line in importlib.metadata.requires(distribution) or []:
        if "extra ==" in line:
            continue
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)", line)
        if not match:
            continue
        name, spec = match.group(1), match.group(2).split(";")[0]
        minimum = re.search(r">=\s*([0-9][^,\s]*)", spec)
        found.append((name, minimum.group(1) if minimum else None))
    return found


def installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_course(report: Report) -> bool:
    metadata = installed_version(DISTRIBUTION)
    where = os.path.dirname(sys.modules["course_lib"].__file__ or "")
    if metadata is None:
        report.problem(
            "course-lib",
            f"{__version__} imported from {where}, but not installed (no package metadata): "
            "pip install the course",
        )
        return False
    if metadata != __version__:
        report.problem(
            "course-lib",
            f"{__version__} imported from {where}, but the installed metadata says {metadata}: "
            "reinstall it (pip install -e .)",
        )
        return True
    report.add("course-lib", f"{__version__} ({where})")
    return True


def check_torch(report: Report) -> None:
    try:  # imported here: a broken torch must be reported, not crash the doctor
        import torch
    except Exception as error:  # a broken torch can fail in many ways
        report.problem("torch", f"does not import: {type(error).__name__}: {error}")
        return
    cuda = torch.cuda.is_available()
    gpu = f"yes ({torch.cuda.get_device_name(0)})" if cuda else "no"
    mps_backend = getattr(torch.backends, "mps", None)
    mps = "yes" if mps_backend is not None and mps_backend.is_available() else "no"
    report.add("torch", f"{torch.__version__}  CUDA: {gpu}  MPS: {mps}")
    env = ", ".join(
        f"{name}={os.environ[name]}"
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
        if name in os.environ
    )
    report.add(
        "threads",
        f"{torch.get_num_threads()} (PyTorch), {os.cpu_count()} CPUs" + (f"; {env}" if env else ""),
    )


def check_dependencies(report: Report) -> None:
    for name, minimum in requirements():
        version = installed_version(name)
        label = name.lower()
        wanted = f">={minimum}" if minimum else "any version"
        if version is None:
            report.problem(label, f"not installed (course-lib needs {wanted})")
        elif minimum and not at_least(version, minimum):
            report.problem(label, f"{version} is older than supported (course-lib needs {wanted})")
        elif label != "torch":  # torch has its own line
            report.add(label, f"{version} (needs {wanted})")


def check_checkpoint(report: Report, where: str) -> None:
    try:  # imported here: a broken install (torch, a module) must be reported, not crash
        from course_lib.translate import Translator

        start = time.perf_counter()
        translator = Translator.load(where)
        french = translator(SENTENCE)
        seconds = time.perf_counter() - start
    except Exception as error:
        report.problem("checkpoint", f"{where}: {type(error).__name__}: {error}")
        return
    if not isinstance(french, str) or not french.strip():
        report.problem("checkpoint", f"{where}: translated {SENTENCE!r} to nothing")
        return
    report.add("checkpoint", f'{where}: loads; "{SENTENCE}" -> "{french}" ({seconds:.1f} s)')


def tool_version(path: str) -> str:
    try:
        result = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    text = (result.stdout or result.stderr).strip().splitlines()
    return text[0].strip() if text else ""


def check_tools(report: Report) -> None:
    for name, purpose, executables in OPTIONAL_TOOLS:
        path = next((shutil.which(e) for e in executables if shutil.which(e)), None)
        if path is None:
            report.add(name, f"not found (optional: {purpose})")
        else:
            version = tool_version(path)
            report.add(name, f"{path}" + (f" ({version})" if version else "") + f" - {purpose}")


def diagnose(checkpoint: str = "bundled") -> Report:
    report = Report()
    installed = check_course(report)
    report.add("python", f"{platform.python_version()} ({sys.executable})")
    report.add("platform", f"{platform.platform()}, {platform.machine()}")
    report.add("colab", "yes" if "google.colab" in sys.modules else "no")
    check_torch(report)
    if installed:
        check_dependencies(report)
    check_checkpoint(report, checkpoint)
    check_tools(report)
    return report


def run(args: argparse.Namespace) -> int:
    report = diagnose(args.checkpoint)
    print("course-lib doctor")
    for line in report.lines:
        print(f"  {line}")
    if report.problems:
        print(f"BROKEN: {len(report.problems)} problem(s):")
        for problem in report.problems:
            print(f"  PROBLEM {problem}")
        return 1
    print("OK: this installation can run the course.")
    return 0
