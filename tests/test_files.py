"""Tests for course_lib.files: atomic writes keep the old file on failure, leave no
temporary file, create files with the usual permissions; bad folders are clear errors."""

from __future__ import annotations

import json
import os

import pytest
import torch

from course_lib.errors import CourseLibError
from course_lib.files import (
    BUNDLED_FILE,
    CHECKPOINT_FILE,
    HALF_PRECISION_FILE,
    METRICS_FILE,
    atomic_torch_save,
    atomic_write,
    atomic_write_json,
)


def test_file_names_are_distinct():
    names = [CHECKPOINT_FILE, METRICS_FILE, HALF_PRECISION_FILE, BUNDLED_FILE]
    assert len(set(names)) == len(names)
    assert CHECKPOINT_FILE == "checkpoint.pt" and METRICS_FILE == "metrics.json"


def test_atomic_torch_save_round_trip(tmp_path):
    path = atomic_torch_save({"w": torch.arange(3)}, tmp_path / "sub" / "x.pt")
    assert path == tmp_path / "sub" / "x.pt"
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(3))


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    path = atomic_write(tmp_path / "c.bin", lambda handle: handle.write(b"old"))

    class Exploding:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_torch_save({"x": Exploding()}, path)  # fails in the middle of writing
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not private like tempfile's


def test_atomic_write_json_keeps_non_ascii(tmp_path):
    path = atomic_write_json(tmp_path / METRICS_FILE, {"hyp": "J'aime la pizza à Noël", "n": 2})
    text = path.read_text(encoding="utf-8")
    assert "à Noël" in text and text.endswith("\n")
    assert json.loads(text) == {"hyp": "J'aime la pizza à Noël", "n": 2}


def test_bad_folder_and_bad_data_are_clear_errors(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CourseLibError, match="cannot create the folder"):
        atomic_write(blocker / "sub" / "x.pt", lambda handle: handle.write(b"x"))
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "bad.json", {"x": object()})
    assert not (tmp_path / "bad.json").exists()
