"""The oldest versions course-lib claims to support, as pip constraints (`make oldest`).

Every ``name>=X`` of ``[project].dependencies`` in ``pyproject.toml`` becomes ``name==X``,
so the second test environment runs the unit tests on exactly the claimed minimums. The one
exception is torch: the only PyTorch builds this machine can install are the CPU wheels of
the pinned version (older ones exist only as multi-gigabyte CUDA builds), so torch is the
version of ``constraints.txt`` and its claimed minimum stays untested (book/setup.md says so).

    python scripts/oldest_constraints.py > _build/oldest-constraints.txt
    python scripts/oldest_constraints.py --verify _build/oldest-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
UNTESTABLE = {"torch": "no CPU wheel of the claimed minimum installs here"}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def release(version: str) -> tuple[int, ...]:
    """``"2.13.0+cpu"`` -> ``(2, 13)``, ``"5.7.0"`` and ``"5.7"`` -> ``(5, 7)``."""
    parts = [int(p) for p in re.match(r"\d+(?:\.\d+)*", version or "0").group(0).split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def minimums(root: Path = ROOT) -> dict[str, str]:
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", requirement.strip())
        if not match:
            raise SystemExit(f"pyproject.toml: {requirement!r} has no plain '>=' minimum")
        found[normalize(match.group(1))] = match.group(2)
    return found


def pinned(name: str, root: Path = ROOT) -> str:
    for line in (root / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and normalize(line.split("==")[0]) == name:
            return line.split("==")[1].strip()
    raise SystemExit(f"constraints.txt pins no {name}")


def constraints(root: Path = ROOT) -> dict[str, str]:
    result = {}
    for name, minimum in minimums(root).items():
        result[name] = pinned(name, root) if name in UNTESTABLE else minimum
    return result


def verify(python: str) -> int:
    listing = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    )
    installed = {normalize(p["name"]): p["version"] for p in json.loads(listing.stdout)}
    wrong = []
    for name, version in constraints().items():
        have = installed.get(name, "missing")
        ok = release(have) == release(version)
        note = (
            f"  (claimed minimum {minimums()[name]} untested: {UNTESTABLE[name]})"
            if name in UNTESTABLE
            else ""
        )
        print(f"{name:12} {have:14} {'ok' if ok else 'EXPECTED ' + version}{note}")
        if not ok:
            wrong.append(name)
    return 1 if wrong else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verify", metavar="PYTHON", help="check that PYTHON has these versions")
    args = parser.parse_args(argv)
    if args.verify:
        return verify(args.verify)
    for name, version in constraints().items():
        print(f"{name}=={version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
