"""One version, written once, that the chapters, the changelog and the package agree on.

- ``src/course_lib/__init__.py`` is the only place the version is written; ``pyproject.toml``
  reads it (``dynamic = ["version"]``).
- The newest entry of ``CHANGELOG.md`` is that version, and the errata page lists no version
  the changelog does not know.
- Every chapter's Colab setup cell installs the release tag ``v<version>``, its badge opens
  the notebook at that tag, and so do the README's badges and install lines
  (``scripts/sync_install_cells.py --check``; run the script without ``--check`` to fix).
- The script itself: on a copy of the repository whose version was bumped, ``--check``
  reports every chapter, the rewrite fixes them without touching anything else, and a
  second rewrite changes nothing.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT

import course_lib
from scripts import sync_install_cells as sync

CHANGELOG = ROOT / "CHANGELOG.md"
RELEASE_HEADING = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", re.M)


def changelog_versions(text: str) -> list[str]:
    return [match.group(1) for match in RELEASE_HEADING.finditer(text)]


def as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_version_is_written_once():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = pyproject.split("[project]", 1)[1].split("\n[", 1)[0]
    assert not re.search(r"^version\s*=", project, re.M), "pyproject.toml repeats the version"
    assert re.search(r'^dynamic = \["version"\]$', project, re.M), project
    assert re.search(
        r'^\[tool\.setuptools\.dynamic\]\nversion = \{ attr = "course_lib\.__version__" \}$',
        pyproject,
        re.M,
    )
    assert re.fullmatch(r"\d+\.\d+\.\d+", course_lib.__version__), course_lib.__version__
    assert sync.read_version(ROOT) == course_lib.__version__


def test_changelog_top_entry_is_the_package_version():
    versions = changelog_versions(CHANGELOG.read_text(encoding="utf-8"))
    assert versions, "CHANGELOG.md needs entries '## [X.Y.Z] - YYYY-MM-DD'"
    assert versions[0] == course_lib.__version__, (
        f"CHANGELOG.md's newest entry is {versions[0]}, the package is "
        f"{course_lib.__version__} (RELEASING.md step 3)"
    )
    assert versions == sorted(versions, key=as_tuple, reverse=True), "newest first, no repeats"
    assert len(set(versions)) == len(versions), versions


def test_errata_versions_are_releases():
    errata = (ROOT / "book" / "errata.md").read_text(encoding="utf-8")
    listed = re.findall(r"^## (\d+\.\d+\.\d+)$", errata, re.M)
    assert listed, "book/errata.md lists corrections under '## X.Y.Z' headings"
    known = set(changelog_versions(CHANGELOG.read_text(encoding="utf-8")))
    assert set(listed) <= known, f"errata for versions not in CHANGELOG.md: {set(listed) - known}"


def test_chapters_and_docs_install_this_versions_tag():
    report = sync.sync(ROOT, check=True)
    assert not report.problems, "\n".join(report.problems)
    assert not report.changed, (
        f"not at v{course_lib.__version__}: {', '.join(report.changed)}\n"
        "fix: python scripts/sync_install_cells.py"
    )


# --- the script, on a copy of the repository -------------------------------------------------


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in ("_config.yml", "_toc.yml", "README.md", "book/setup.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "chapters", tmp_path / "chapters")
    (tmp_path / "src" / "course_lib").mkdir(parents=True)
    shutil.copy(ROOT / "src/course_lib/__init__.py", tmp_path / "src/course_lib/__init__.py")
    sync.main(["--root", str(tmp_path)])  # whatever the working tree has, start in sync
    return tmp_path


def bump(root: Path, version: str) -> None:
    init = root / "src" / "course_lib" / "__init__.py"
    text = re.sub(
        r'^__version__ = ".*"$', f'__version__ = "{version}"', init.read_text(), flags=re.M
    )
    init.write_text(text)


def test_check_reports_every_chapter_after_a_bump_and_the_rewrite_fixes_it(copy, capsys):
    assert sync.main(["--root", str(copy), "--check"]) == 0
    bump(copy, "9.8.7")
    before = {p.name: json.loads(p.read_text()) for p in sync.chapter_paths(copy)}
    assert sync.main(["--root", str(copy), "--check"]) == 1
    err = capsys.readouterr().err
    for name in before:
        assert f"chapters/{name}: does not install/open v9.8.7" in err
    assert sync.main(["--root", str(copy)]) == 0
    assert sync.main(["--root", str(copy), "--check"]) == 0
    for path in sync.chapter_paths(copy):
        nb = json.loads(path.read_text())
        old = before[path.name]
        changed = [i for i, (a, b) in enumerate(zip(old["cells"], nb["cells"])) if a != b]
        first_code = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
        first_md = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown")
        assert set(changed) == {first_code, first_md}, (path.name, changed)
        assert "course@v9.8.7" in "".join(nb["cells"][first_code]["source"])
        assert "/blob/v9.8.7/chapters/" in "".join(nb["cells"][first_md]["source"])
        assert nb["metadata"] == old["metadata"]
    assert "blob/v9.8.7/chapters/01_" in (copy / "README.md").read_text()
    assert "course@v9.8.7" in (copy / "book/setup.md").read_text()
    texts = {p: p.read_bytes() for p in sync.chapter_paths(copy)}
    assert sync.main(["--root", str(copy)]) == 0  # nothing left to change
    assert texts == {p: p.read_bytes() for p in sync.chapter_paths(copy)}


def test_check_reports_a_hand_edited_setup_cell(copy, capsys):
    path = sync.chapter_paths(copy)[2]
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    cell["source"] = ["%pip install course-lib"]
    path.write_text(sync.notebook_json(nb))
    assert sync.main(["--root", str(copy), "--check"]) == 1
    assert f"chapters/{path.name}: does not install/open" in capsys.readouterr().err


def test_a_chapter_without_its_setup_cell_is_a_problem(copy, capsys):
    path = sync.chapter_paths(copy)[0]
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    cell["metadata"]["tags"] = []
    path.write_text(sync.notebook_json(nb))
    assert sync.main(["--root", str(copy), "--check"]) == 1
    assert "is not tagged colab-setup" in capsys.readouterr().err


def test_install_lines_with_an_old_tag_or_none_are_rewritten():
    url = "https://github.com/org/repo"
    text = (
        f'pip install "course-lib @ git+{url}"\n'
        f'pip install "course-lib @ git+{url}@v0.1.0"\n'
        f"git clone {url}\n"
        f"https://colab.research.google.com/github/org/repo/blob/main/chapters/01_a.ipynb\n"
    )
    assert sync.sync_links(text, url, "v1.0.0") == (
        f'pip install "course-lib @ git+{url}@v1.0.0"\n'
        f'pip install "course-lib @ git+{url}@v1.0.0"\n'
        f"git clone {url}\n"
        f"https://colab.research.google.com/github/org/repo/blob/v1.0.0/chapters/01_a.ipynb\n"
    )
