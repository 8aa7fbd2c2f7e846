"""The grader's temporary folders: made private to the grader, removed even if a job
made parts of them unreadable."""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any


def remove_tree(path: Path) -> None:
    """Remove a folder even if a job made parts of it unreadable."""

    def make_writable(function: Any, failed: str, _info: Any) -> None:
        try:
            parent = os.path.dirname(failed)
            os.chmod(parent, stat.S_IRWXU)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, stat.S_IRWXU)
            function(failed)
        except OSError:
            pass

    shutil.rmtree(path, onerror=make_writable)
    if os.path.lexists(path):
        shutil.rmtree(path, ignore_errors=True)


def temporary_folder(prefix: str, *, remove_at_exit: bool = False) -> Path:
    """A new, empty folder under the system's temporary directory (resolved)."""
    path = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    if remove_at_exit:
        atexit.register(remove_tree, path)
    return path
