"""Write (or check) the student edition: ``student/NN_*.ipynb``, one per chapter.

The student edition is what ``course-lib release`` makes of the chapters: solutions
replaced by ``raise NotImplementedError()``, hidden material removed, outputs cleared,
self-checks kept. It is committed, so that the "Open the exercises in Colab" badges of
the chapters and the README have something to open; this script keeps it in step with the
masters.

Usage::

    python scripts/student_edition.py            # course-lib release of every chapter into student/
                                                  # (checks the reference solutions in the sandbox)
    python scripts/student_edition.py --no-verify    # the same copies, without the sandbox check
    python scripts/student_edition.py --check    # change nothing; exit 1 if a committed copy
                                                  # differs from what release writes now
    python scripts/student_edition.py --root /tmp/copy   # work on a copy of the repository
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = "student"


def chapter_paths(root: Path) -> list[Path]:
    return sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb"))


def drift(root: Path = ROOT) -> list[str]:
    """What is out of date in ``root/student``: one line per problem."""
    from course_lib.grading.release import student_edition_text

    problems = []
    chapters = chapter_paths(root)
    wanted = {path.name for path in chapters}
    for path in chapters:
        copy = root / FOLDER / path.name
        if not copy.is_file():
            problems.append(f"{FOLDER}/{path.name} is missing")
        elif copy.read_text(encoding="utf-8") != student_edition_text(path):
            problems.append(f"{FOLDER}/{path.name} differs from what release writes now")
    for extra in sorted((root / FOLDER).glob("*.ipynb")):
        if extra.name not in wanted:
            problems.append(f"{FOLDER}/{extra.name} has no chapter")
    return problems


def write(root: Path = ROOT, isolation: str = "auto") -> int:
    from course_lib.grading.cases import load_registry
    from course_lib.grading.jobs import Limits
    from course_lib.grading.release import release

    chapters = chapter_paths(root)
    released = release(
        chapters,
        root / FOLDER,
        load_registry(),
        limits=Limits(timeout=300, exercise_timeout=120),
        isolation=isolation,
        warn=lambda text: print(text, file=sys.stderr),
    )
    for extra in sorted((root / FOLDER).glob("*.ipynb")):
        if extra.name not in {p.name for p in chapters}:
            extra.unlink()
            print(f"removed {FOLDER}/{extra.name}")
    for item in released:
        state = "written" if item.changed else "unchanged"
        print(f"{FOLDER}/{item.path.name}: {state} ({', '.join(item.exercises) or 'no exercises'})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on drift")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this)")
    parser.add_argument("--isolation", default="auto", help="sandbox for the reference check")
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="write the same copies without grading the reference solutions first",
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.no_verify and not args.check:
        from course_lib.grading.release import student_edition_text

        (root / FOLDER).mkdir(exist_ok=True)
        for path in chapter_paths(root):
            target = root / FOLDER / path.name
            text = student_edition_text(path)
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")
                print(f"{FOLDER}/{path.name}: written")
        return 0
    if args.check:
        problems = drift(root)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("fix: python scripts/student_edition.py", file=sys.stderr)
        print("ok: student edition up to date" if not problems else "out of date")
        return 1 if problems else 0
    return write(root, args.isolation)


if __name__ == "__main__":
    sys.exit(main())
