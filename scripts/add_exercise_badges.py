"""Add the "Open the exercises in Colab" badge beside each chapter's Colab badge.

Each chapter's first markdown cell holds the "Open In Colab" badge of the chapter itself
(with solutions, see ``scripts/sync_install_cells.py``). This script adds, right after it,
a second badge that opens the chapter's student edition (``student/NN_*.ipynb``, written
by ``scripts/student_edition.py``) at the same release tag, and labels both. Only the first
markdown cell changes; notebooks are written in Jupyter's layout, only when something
changes. Run it once, then ``scripts/student_edition.py`` (the student copies carry the
badges too).

Usage::

    python scripts/add_exercise_badges.py           # add what is missing, list the files
    python scripts/add_exercise_badges.py --check   # change nothing; exit 1 if a badge is missing
    python scripts/add_exercise_badges.py --root /tmp/copy
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sync_install_cells as sync  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
STUDENT_ALT = "Open the exercises in Colab"


def solutions_badge(url: str, tag: str, relative: str) -> str:
    return f"[![Open In Colab]({BADGE})]({sync.colab_url(url, tag, relative)})"


def exercises_badge(url: str, tag: str, chapter_name: str) -> str:
    return f"[![{STUDENT_ALT}]({BADGE})]({sync.colab_url(url, tag, f'student/{chapter_name}')})"


def badge_line(url: str, tag: str, relative: str, chapter_name: str) -> str:
    return (
        f"{solutions_badge(url, tag, relative)} with solutions · "
        f"{exercises_badge(url, tag, chapter_name)} exercises only"
    )


def add_badge(text: str, url: str, tag: str, relative: str, chapter_name: str) -> str | None:
    """``text`` (a first markdown cell) with both badges; ``None`` if it has no Colab badge."""
    if STUDENT_ALT in text:
        return text
    single = re.compile(rf"\[!\[Open In Colab\]\({re.escape(BADGE)}\)\]\([^)\s]+\)")
    if not single.search(text):
        return None
    return single.sub(lambda _: badge_line(url, tag, relative, chapter_name), text, count=1)


def run(root: Path, check: bool) -> tuple[list[str], list[str]]:
    url = sync.repository_url(root)
    tag = sync.release_tag(sync.read_version(root))
    changed, problems = [], []
    for path in sync.chapter_paths(root):
        relative = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        cell = next((c for c in nb.get("cells", []) if c.get("cell_type") == "markdown"), None)
        if cell is None:
            problems.append(f"{relative}: no markdown cell")
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        new = add_badge(source, url, tag, relative, path.name)
        if new is None:
            problems.append(f"{relative}: the first markdown cell has no Open in Colab badge")
            continue
        if new != source:
            changed.append(relative)
            if not check:
                cell["source"] = new.splitlines(keepends=True)
                path.write_text(sync.notebook_json(nb), encoding="utf-8")
    return changed, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if missing")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    changed, problems = run(args.root.resolve(), args.check)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    for name in changed:
        print(
            f"{'missing the exercises badge' if args.check else 'added the exercises badge'}: {name}"
        )
    if args.check:
        return 1 if changed or problems else 0
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
