"""The dataset format of step 1: a translation data set is a list of ``(English, French)`` pairs.

Every loader of :mod:`course_lib.data` returns this format, and every function that takes
pairs checks it once with :func:`check_pairs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from course_lib.errors import CourseLibError

Pair = tuple[str, str]


def check_pairs(pairs: Any, who: str) -> None:
    """Raise :class:`CourseLibError`, naming ``who``, unless ``pairs`` is a sequence of
    ``(english, french)`` string pairs."""
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise CourseLibError(
            f"{who}: pairs must be a list of (english, french) tuples, got {type(pairs).__name__}"
        )
    for i, pair in enumerate(pairs):
        if (
            not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or not all(isinstance(s, str) for s in pair)
        ):
            raise CourseLibError(
                f"{who}: pair {i} must be (english, french) strings, got {pair!r:.80}"
            )


__all__ = ["Pair", "check_pairs"]
