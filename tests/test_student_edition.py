"""The student edition (``student/``) and the badges that open it.

- ``student/NN_*.ipynb`` is exactly what ``course-lib release`` writes for each chapter
  now (drift test; fix with ``python scripts/student_edition.py``);
- a student copy has no solution and no output, and keeps every self-check;
- ``scripts/add_exercise_badges.py`` adds the "Open the exercises in Colab" badge beside
  the chapter's own, and ``scripts/sync_install_cells.py`` keeps it (tested on a copy).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import add_exercise_badges  # noqa: E402
import student_edition  # noqa: E402
import sync_install_cells  # noqa: E402

CHAPTERS = student_edition.chapter_paths(ROOT)


def test_committed_student_edition_is_what_release_writes_now():
    problems = student_edition.drift(ROOT)
    assert not problems, "\n".join(problems) + "\nfix: python scripts/student_edition.py"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_student_copy_has_no_solution_and_keeps_the_self_checks(chapter):
    copy = nbformat.read(ROOT / "student" / chapter.name, as_version=4)
    master = nbformat.read(chapter, as_version=4)
    for cell in copy.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    exercise_cells = [c for c in copy.cells if c.metadata.get("course", {}).get("exercise")]
    master_exercises = [c for c in master.cells if c.metadata.get("course", {}).get("exercise")]
    assert len(exercise_cells) == len(master_exercises)
    for cell in exercise_cells:
        # a function to write raises; a checkpoint's answer starts empty (None)
        assert (
            "raise NotImplementedError()" in cell.source or "= None  # your answer" in cell.source
        )
        assert "### BEGIN SOLUTION" not in cell.source
    checks = [c.source for c in copy.cells if "from course_lib.exercises import check" in c.source]
    master_checks = [
        c.source for c in master.cells if "from course_lib.exercises import check" in c.source
    ]
    assert checks == master_checks


def test_exercise_badges_are_added_once_and_survive_the_version_sync(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "chapters", root / "chapters")
    for name in ("_config.yml", "README.md", "book/setup.md", "src/course_lib/__init__.py"):
        if (ROOT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, root / name)
    sync_install_cells.sync(root)  # as after the release engineer's sync
    add_exercise_badges.run(root, check=False)
    assert add_exercise_badges.run(root, check=True) == ([], [])
    assert sync_install_cells.sync(root, check=True).changed == []
    url = sync_install_cells.repository_url(root)
    tag = sync_install_cells.release_tag(sync_install_cells.read_version(root))
    for path in sync_install_cells.chapter_paths(root):
        first = next(
            c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"
        )
        text = "".join(first["source"])
        assert sync_install_cells.colab_url(url, tag, f"chapters/{path.name}") in text
        assert sync_install_cells.colab_url(url, tag, f"student/{path.name}") in text
        assert text.count("Open the exercises in Colab") == 1


def test_instructor_guide_exercise_table_is_up_to_date():
    import exercise_table

    assert exercise_table.TABLE.read_text(encoding="utf-8") == exercise_table.table_text(), (
        "fix: python scripts/exercise_table.py"
    )
    guide = (ROOT / "book" / "instructor-guide.md").read_text(encoding="utf-8")
    assert "_generated/exercise-table.md" in guide
