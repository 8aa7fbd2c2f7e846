"""Point every chapter, the README and the setup page at the release tag of this version.

The course's version is written once, in ``src/course_lib/__init__.py``; its release tag is
``v<version>`` (RELEASING.md). A learner who opens a chapter in Colab must get the notebook
and the library of one release, so for the current version this script rewrites:

- each chapter's Colab setup cell (the first code cell, tagged ``colab-setup``) to install
  ``course-lib @ git+<repository>@v<version>``;
- the "Open in Colab" badge in each chapter's first markdown cell, and those of the README,
  to open the notebook at that tag;
- every ``git+<repository>`` install line of ``README.md`` and ``book/setup.md`` to the tag.

The repository is the one named in ``_config.yml`` (``repository.url``). Notebooks are
rewritten as JSON in Jupyter's own layout (one-space indent, sorted keys), only where
something changes; outputs, execution counts and metadata are kept.

Usage::

    python scripts/sync_install_cells.py           # rewrite what disagrees, list the files
    python scripts/sync_install_cells.py --check   # change nothing; exit 1 if anything disagrees
    python scripts/sync_install_cells.py --root /tmp/copy   # work on a copy of the repository
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COLAB = "https://colab.research.google.com/github"
SETUP_TAG = "colab-setup"
# Text files whose `git+<repository>` install lines and Colab links follow the release.
DOCS = ("README.md", "book/setup.md")


def read_version(root: Path = ROOT) -> str:
    """``__version__`` of ``src/course_lib/__init__.py``, read without importing the package."""
    text = (root / "src" / "course_lib" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    if not match:
        raise SystemExit('src/course_lib/__init__.py must define __version__ = "X.Y.Z"')
    return match.group(1)


def release_tag(version: str) -> str:
    return f"v{version}"


def repository_url(root: Path = ROOT) -> str:
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"].rstrip("/")


def chapter_paths(root: Path = ROOT) -> list[Path]:
    return sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb"))


def setup_source(url: str, tag: str) -> str:
    """The canonical first code cell of every chapter."""
    return (
        "# Colab setup: install course_lib from the repository only when running in Google Colab.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "course-lib @ git+{url}@{tag}"'
    )


def colab_url(url: str, tag: str, relative: str) -> str:
    """Colab's address for the notebook ``relative`` (to the repository root) at ``tag``."""
    github = url.removeprefix("https://github.com/")
    return f"{COLAB}/{github}/blob/{tag}/{relative}"


def _colab_link_pattern(url: str) -> re.Pattern[str]:
    github = re.escape(url.removeprefix("https://github.com/"))
    return re.compile(rf"{re.escape(COLAB)}/{github}/blob/[^/\s)]+/(?P<path>[^\s)]+\.ipynb)")


def _install_pattern(url: str) -> re.Pattern[str]:
    return re.compile(rf"git\+{re.escape(url)}(?:@[\w.\-]+)?(?![\w/.\-])")


def sync_links(text: str, url: str, tag: str) -> str:
    """``text`` with every Colab link of this repository and every install line at ``tag``."""
    text = _colab_link_pattern(url).sub(lambda m: colab_url(url, tag, m["path"]), text)
    return _install_pattern(url).sub(f"git+{url}@{tag}", text)


@dataclass
class Report:
    changed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def sync_notebook(nb: dict, name: str, url: str, tag: str, relative: str) -> list[str]:
    """Bring ``nb`` (notebook JSON) in line in place; return the problems it cannot fix."""
    problems = []
    code = next((c for c in nb.get("cells", []) if c.get("cell_type") == "code"), None)
    if code is None or SETUP_TAG not in code.get("metadata", {}).get("tags", []):
        problems.append(f"{name}: the first code cell is not tagged {SETUP_TAG}")
    elif _source(code).strip() != setup_source(url, tag):
        code["source"] = _lines(setup_source(url, tag))
    markdown = next((c for c in nb.get("cells", []) if c.get("cell_type") == "markdown"), None)
    wanted = colab_url(url, tag, relative)
    if markdown is None or not _colab_link_pattern(url).search(_source(markdown)):
        problems.append(f"{name}: the first markdown cell has no Open in Colab badge")
    else:
        text = _colab_link_pattern(url).sub(
            # the student edition's badge (scripts/add_exercise_badges.py) keeps its path
            lambda m: (
                colab_url(url, tag, m["path"]) if m["path"].startswith("student/") else wanted
            ),
            _source(markdown),
        )
        if text != _source(markdown):
            markdown["source"] = _lines(text)
    return problems


def notebook_json(nb: dict) -> str:
    """Jupyter's layout: what nbformat writes."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def sync(root: Path = ROOT, check: bool = False) -> Report:
    """Rewrite (or with ``check``, only compare) every chapter and document for this version."""
    version = read_version(root)
    tag, url = release_tag(version), repository_url(root)
    report = Report()
    for path in chapter_paths(root):
        relative = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        report.problems += sync_notebook(nb, relative, url, tag, relative)
        if json.loads(notebook_json(nb)) != json.loads(text):
            report.changed.append(relative)
            if not check:
                path.write_text(notebook_json(nb), encoding="utf-8")
    for name in DOCS:
        path = root / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        new = sync_links(text, url, tag)
        if new != text:
            report.changed.append(name)
            if not check:
                path.write_text(new, encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on drift")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    report = sync(root, check=args.check)
    tag = release_tag(read_version(root))
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    if args.check:
        for name in report.changed:
            print(f"{name}: does not install/open {tag}", file=sys.stderr)
        if report.changed:
            print("fix: python scripts/sync_install_cells.py", file=sys.stderr)
        ok = not report.changed and not report.problems
        print(f"{'ok' if ok else 'out of date'}: chapters and docs for {tag}")
        return 0 if ok else 1
    for name in report.changed:
        print(f"updated {name} -> {tag}")
    if not report.changed:
        print(f"nothing to change: everything already uses {tag}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
