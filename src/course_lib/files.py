"""The files a training run writes, named once, and how every one of them is written.

A run folder (``course-lib train --out DIR``) holds :data:`CHECKPOINT_FILE` (everything
needed to translate or to resume, :mod:`course_lib.checkpoint`), :data:`METRICS_FILE`
(the final scores and the history) and, when asked for, :data:`HALF_PRECISION_FILE` (the
float16 weights for shipping, translation only). The checkpoint shipped with the package
is ``course_lib/assets/`` :data:`BUNDLED_FILE`.

Every file is written atomically (:func:`atomic_write`): to a temporary file in the same
folder, then renamed over the target with ``os.replace``, so a crash mid-write never
leaves a half-written file where a good one was.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

from course_lib.errors import CourseLibError

CHECKPOINT_FILE = "checkpoint.pt"
METRICS_FILE = "metrics.json"
HALF_PRECISION_FILE = "model.pt"
BUNDLED_FILE = "toy_model.pt"


def _temporary_file(folder: Path, name: str) -> tuple[Path, IO[bytes]]:
    """A new file next to the target, created with the usual permissions (umask applies,
    unlike ``tempfile``, which makes files private)."""
    for _attempt in range(100):
        candidate = folder / f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return candidate, os.fdopen(fd, "wb")
    raise CourseLibError(f"cannot create a temporary file in {folder}")  # pragma: no cover


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Write ``path`` atomically: ``write(handle)`` fills a temporary file in the same
    folder, which then replaces ``path`` with ``os.replace`` (readers never see half a file,
    and a failed write leaves the old file as it was). Returns ``path``.

    Raises:
        CourseLibError: the folder cannot be created or written to.
    """
    path = Path(path)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CourseLibError(f"cannot create the folder {folder}: {error.strerror}") from None
    try:
        temporary, handle = _temporary_file(folder, path.name)
    except OSError as error:
        raise CourseLibError(f"cannot write a file in {folder}: {error.strerror}") from None
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj, path)`` through a temporary file in the same folder + ``os.replace``."""
    return atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_json(path: str | Path, data: Any) -> Path:
    """``data`` as indented UTF-8 JSON (non-ASCII kept), written atomically."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def sha256_of(path: str | Path) -> str:
    """The SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
