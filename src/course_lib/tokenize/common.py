"""What the two tokenizers share: the :data:`Tokenizer` type, rebuilding either kind from its
``to_dict()`` (checkpoints store tokenizers that way) and :func:`unknown_rate`, which
compares them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from course_lib.errors import CourseLibError
from course_lib.tokenize.bpe import BPETokenizer
from course_lib.tokenize.vocab import UNK
from course_lib.tokenize.words import WordTokenizer

Tokenizer = WordTokenizer | BPETokenizer


def tokenizer_from_dict(data: Any) -> Tokenizer:
    """Rebuild a :class:`WordTokenizer` or :class:`BPETokenizer` from its ``to_dict()``."""
    kinds = {"word": WordTokenizer, "bpe": BPETokenizer}
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in kinds:
        raise CourseLibError(
            f"tokenizer_from_dict: 'kind' must be 'word' or 'bpe', got {kind!r} in {str(data)[:80]}"
        )
    return kinds[kind].from_dict(data)


def unknown_rate(tokenizer: Tokenizer, texts: Iterable[str]) -> float:
    """The fraction of produced tokens that are ``<unk>`` over ``texts`` (0.0 to 1.0)."""
    total = unknown = 0
    for text in texts:
        ids = tokenizer.encode(text)
        total += len(ids)
        unknown += sum(i == UNK for i in ids)
    if total == 0:
        raise CourseLibError("unknown_rate: no sentences given")
    return unknown / total


__all__ = ["Tokenizer", "tokenizer_from_dict", "unknown_rate"]
