"""The special tokens and the vocabulary: the one place where ``<pad>`` = 0, ``<start>`` = 1,
``<end>`` = 2 and ``<unk>`` = 3 are defined.

Every other module (masks, generation, the loss, checkpoints, the export) imports
:data:`PAD`, :data:`START`, :data:`END`, :data:`UNK` and :data:`SPECIAL_TOKENS` from
:mod:`course_lib.tokenize`. A :class:`Vocab` numbers words after the special tokens; the
helpers below check tokens and ids once for both tokenizers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from course_lib.errors import CourseLibError

PAD, START, END, UNK = 0, 1, 2, 3
SPECIAL_TOKENS = ["<pad>", "<start>", "<end>", "<unk>"]


def check_tokens(tokens: Any, who: str) -> list[str]:
    """``tokens`` as a list after checking it is a sequence of strings (not one string)."""
    if isinstance(tokens, str) or not isinstance(tokens, Sequence):
        raise CourseLibError(
            f"{who}: expected a list of tokens, got {type(tokens).__name__}"
            + (" (tokenize the sentence first)" if isinstance(tokens, str) else "")
        )
    for i, token in enumerate(tokens):
        if not isinstance(token, str):
            raise CourseLibError(f"{who}: token {i} must be a str, got {type(token).__name__}")
    return list(tokens)


def check_ids(ids: Any, size: int, who: str) -> list[int]:
    """Token ids (list of ints or a 1-D integer tensor) as a list, each checked in range."""
    if hasattr(ids, "tolist") and hasattr(ids, "dim"):  # a torch tensor
        if ids.dim() != 1 or ids.is_floating_point():
            raise CourseLibError(
                f"{who}: expected a 1-D integer tensor of ids, got shape {tuple(ids.shape)} "
                f"and dtype {ids.dtype}"
            )
        ids = ids.tolist()
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
        raise CourseLibError(f"{who}: expected a list of token ids, got {type(ids).__name__}")
    for i, value in enumerate(ids):
        if isinstance(value, bool) or not isinstance(value, int):
            raise CourseLibError(f"{who}: id {i} must be an int, got {type(value).__name__}")
        if not 0 <= value < size:
            raise CourseLibError(
                f"{who}: id {value} is outside the vocabulary (size {size}, valid ids 0-{size - 1})"
            )
    return list(ids)


def add_specials(ids: list[int], add_start: bool, add_end: bool) -> list[int]:
    """``ids`` with ``<start>`` before and/or ``<end>`` after."""
    return ([START] if add_start else []) + ids + ([END] if add_end else [])


def strip_for_decoding(ids: list[int]) -> list[int]:
    """Cut at the first ``<end>``, drop ``<pad>`` and ``<start>``."""
    if END in ids:
        ids = ids[: ids.index(END)]
    return [i for i in ids if i not in (PAD, START)]


class Vocab:
    """A two-way map between tokens and ids; ids 0-3 are the special tokens.

    Build it from tokenized sentences with :meth:`build`; words are numbered by
    decreasing frequency (ties alphabetical), so the same data always gives the same ids.
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = check_tokens(tokens, "Vocab")
        if tokens[: len(SPECIAL_TOKENS)] != SPECIAL_TOKENS:
            raise CourseLibError(
                f"Vocab: the first tokens must be {SPECIAL_TOKENS}, got {tokens[:4]}"
            )
        if len(set(tokens)) != len(tokens):
            repeated = sorted(t for t, c in Counter(tokens).items() if c > 1)
            raise CourseLibError(f"Vocab: tokens must be unique, repeated: {repeated[:10]}")
        self.itos: list[str] = tokens
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(
        cls, token_lists: Iterable[Sequence[str]], min_freq: int = 1, max_size: int | None = None
    ) -> Vocab:
        """Count tokens; keep those seen at least ``min_freq`` times, at most ``max_size``
        tokens in total (special tokens included), most frequent first."""
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise CourseLibError(f"Vocab.build: min_freq must be an int >= 1, got {min_freq!r}")
        if max_size is not None and (
            not isinstance(max_size, int) or max_size < len(SPECIAL_TOKENS)
        ):
            raise CourseLibError(
                f"Vocab.build: max_size must be None or an int >= {len(SPECIAL_TOKENS)} "
                f"(it counts the special tokens), got {max_size!r}"
            )
        counts: Counter[str] = Counter()
        for i, tokens in enumerate(token_lists):
            counts.update(check_tokens(tokens, f"Vocab.build (sentence {i})"))
        words = sorted(
            (w for w, c in counts.items() if c >= min_freq and w not in SPECIAL_TOKENS),
            key=lambda w: (-counts[w], w),
        )
        if max_size is not None:
            words = words[: max_size - len(SPECIAL_TOKENS)]
        return cls(SPECIAL_TOKENS + words)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and other.itos == self.itos

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, first={self.itos[4:10]})"

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Tokens -> ids; a token not in the vocabulary becomes ``UNK`` (3), never an error."""
        return [self.stoi.get(t, UNK) for t in check_tokens(tokens, "Vocab.encode")]

    def decode(self, ids: Sequence[int], strip_special: bool = True) -> list[str]:
        """Ids -> tokens. ``strip_special`` drops ``<pad>``, ``<start>`` and ``<end>`` (but
        keeps ``<unk>``, which says something). An id outside the vocabulary raises
        :class:`CourseLibError` naming the id and the vocabulary size."""
        ids = check_ids(ids, len(self), "Vocab.decode")
        if strip_special:
            ids = [i for i in ids if i not in (PAD, START, END)]
        return [self.itos[i] for i in ids]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable data: ``{"format": "course_lib.vocab", "tokens": [...]}``."""
        return {"format": "course_lib.vocab", "version": 1, "tokens": list(self.itos)}

    @classmethod
    def from_dict(cls, data: Any) -> Vocab:
        """Inverse of :meth:`to_dict`."""
        if (
            not isinstance(data, dict)
            or data.get("format") != "course_lib.vocab"
            or not isinstance(data.get("tokens"), list)
        ):
            raise CourseLibError(
                "Vocab.from_dict: expected {'format': 'course_lib.vocab', 'tokens': [...]}, "
                f"got {str(data)[:80]}"
            )
        return cls(data["tokens"])

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON (UTF-8)."""
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        """Read a vocabulary written by :meth:`save`; a clear error names a missing or
        corrupt file."""
        return cls.from_dict(_read_json(path, "vocabulary"))


def _read_json(path: str | Path, what: str) -> Any:
    path = Path(path)
    if not path.is_file():
        raise CourseLibError(f"{what} file not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CourseLibError(f"corrupt {what} file {path}: not valid JSON ({error})") from None


__all__ = ["END", "PAD", "SPECIAL_TOKENS", "START", "UNK", "Vocab"]
