"""The word route, the tokenizer the reader builds: lower-cased words, punctuation split off,
French elision split (``"J'aime"`` -> ``["j'", "aime"]``), and back to text.

:func:`tokenize_en`/:func:`tokenize_fr` and :func:`detokenize_en`/:func:`detokenize_fr` are
the rules; :class:`WordTokenizer` adds a :class:`~course_lib.tokenize.vocab.Vocab` of the
words seen in training (unknown words become ``<unk>``).

Bad input: a non-string sentence raises :class:`CourseLibError`. ``tokenize_en("")`` and
``tokenize_fr("")`` return ``[]`` (there are no tokens), but ``encode`` refuses an empty or
blank sentence, because a model cannot translate nothing and an empty line in a data set
is almost always a bug.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from course_lib.errors import CourseLibError
from course_lib.tokenize.vocab import (
    Vocab,
    add_specials,
    check_ids,
    check_tokens,
    strip_for_decoding,
)

LANGUAGES = ("en", "fr")
# Typographic apostrophes become ASCII; non-breaking spaces (French typography) become spaces.
_NORMALISE = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "\u00a0": " ", "\u202f": " "})
# French words that lose their vowel before a vowel: j'aime, l'eau, n'aime, qu'il ...
_FR_CLITIC = r"(?:jusqu|lorsqu|puisqu|quoiqu|qu|[cdjlmnst])'"
_FR_CLITIC_RE = re.compile(_FR_CLITIC)
_NUMBER = r"\d+(?:[.,:]\d+)+"  # 3.5, 8:30, 1,000 stay one token
_FR_TOKEN_RE = re.compile(rf"\b{_FR_CLITIC}(?=\w)|{_NUMBER}|\w+(?:[-']\w+)*|[^\w\s]")
_EN_TOKEN_RE = re.compile(rf"{_NUMBER}|\w+(?:[-']\w+)*|[^\w\s]")


def _normalise(text: Any, who: str) -> str:
    if not isinstance(text, str):
        raise CourseLibError(f"{who}: expected a sentence (str), got {type(text).__name__}")
    return unicodedata.normalize("NFC", text).translate(_NORMALISE).lower()


def tokenize_en(text: str) -> list[str]:
    """English sentence -> lower-cased word and punctuation tokens.

    ``"I don't like pizza!"`` -> ``["i", "don't", "like", "pizza", "!"]``
    (contractions stay one word). ``""`` -> ``[]``.
    """
    return _EN_TOKEN_RE.findall(_normalise(text, "tokenize_en"))


def tokenize_fr(text: str) -> list[str]:
    """French sentence -> lower-cased tokens, elision split, accents kept (Unicode NFC).

    ``"J'aime l'eau !"`` -> ``["j'", "aime", "l'", "eau", "!"]``;
    ``"aujourd'hui"`` stays one token (only the elided articles and pronouns are split).
    """
    return _FR_TOKEN_RE.findall(_normalise(text, "tokenize_fr"))


_NO_SPACE_BEFORE = {".", ",", ")", "]", "}", "…", "%"}
_NO_SPACE_AFTER = {"(", "[", "{", "$", "£"}
_EN_NO_SPACE_BEFORE = _NO_SPACE_BEFORE | {"!", "?", ":", ";"}  # English: "Go!", "Why?"
_CAPITALISE_AFTER = re.compile(r"([.!?…]\s+)(\w)")


def _capitalise(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return _CAPITALISE_AFTER.sub(lambda m: m.group(1) + m.group(2).upper(), text)


def detokenize_fr(tokens: Sequence[str]) -> str:
    """French tokens -> text: elisions glued (``"J'aime"``), a space before ``! ? : ;``
    (French typography, as in Tatoeba), none before ``. ,``, first letter capitalised.

    Inverse of :func:`tokenize_fr` for lower-case-only words:
    ``detokenize_fr(tokenize_fr("J'aime la pizza")) == "J'aime la pizza"``.
    """
    tokens = check_tokens(tokens, "detokenize_fr")
    text = ""
    for i, token in enumerate(tokens):
        previous = tokens[i - 1] if i else None
        glue = (
            previous is None
            or token in _NO_SPACE_BEFORE
            or previous in _NO_SPACE_AFTER
            or _FR_CLITIC_RE.fullmatch(previous) is not None  # j' + aime -> j'aime
        )
        text += token if glue else " " + token
    return _capitalise(text)


def detokenize_en(tokens: Sequence[str]) -> str:
    """English tokens -> text: no space before punctuation, "i" -> "I", first letter capitalised.

    ``["i", "don't", "like", "pizza", "!"]`` -> ``"I don't like pizza!"``.
    """
    tokens = check_tokens(tokens, "detokenize_en")
    text = ""
    for i, token in enumerate(tokens):
        if token == "i" or token.startswith("i'"):
            token = "I" + token[1:]
        previous = tokens[i - 1] if i else None
        glue = previous is None or previous in _NO_SPACE_AFTER or token in _EN_NO_SPACE_BEFORE
        text += token if glue else " " + token
    return _capitalise(text)


TOKENIZE = {"en": tokenize_en, "fr": tokenize_fr}
DETOKENIZE = {"en": detokenize_en, "fr": detokenize_fr}


def check_language(language: Any, who: str) -> str:
    if language not in LANGUAGES:
        raise CourseLibError(f"{who}: language must be 'en' or 'fr', got {language!r}")
    return language


def check_text(text: Any, who: str) -> str:
    if not isinstance(text, str):
        raise CourseLibError(f"{who}: expected a sentence (str), got {type(text).__name__}")
    if not text.strip():
        raise CourseLibError(f"{who}: cannot encode an empty sentence")
    return text


class WordTokenizer:
    """Word-level tokenizer for one language: :func:`tokenize_en`/:func:`tokenize_fr` + a
    :class:`Vocab`.

    >>> tok = WordTokenizer.fit(["J'aime la pizza"], "fr")
    >>> tok.encode("J'aime la pizza", add_end=True)   # [j', aime, la, pizza, <end>]
    [4, 5, 6, 7, 2]
    >>> tok.decode([4, 5, 6, 7, 2, 0, 0])
    "J'aime la pizza"
    """

    kind = "word"

    def __init__(self, language: str, vocab: Vocab):
        self.language = check_language(language, "WordTokenizer")
        if not isinstance(vocab, Vocab):
            raise CourseLibError(
                f"WordTokenizer: vocab must be a Vocab, got {type(vocab).__name__}"
            )
        self.vocab = vocab

    @classmethod
    def fit(
        cls, texts: Iterable[str], language: str, min_freq: int = 1, max_size: int | None = None
    ) -> WordTokenizer:
        """Tokenize ``texts`` and build the vocabulary from them."""
        check_language(language, "WordTokenizer.fit")
        if isinstance(texts, str):
            raise CourseLibError("WordTokenizer.fit: expected a list of sentences, got one str")
        tokenize = TOKENIZE[language]
        token_lists = [
            tokenize(check_text(t, f"WordTokenizer.fit (sentence {i})"))
            for i, t in enumerate(texts)
        ]
        if not token_lists:
            raise CourseLibError("WordTokenizer.fit: no sentences to learn a vocabulary from")
        return cls(language, Vocab.build(token_lists, min_freq=min_freq, max_size=max_size))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text`` (before the vocabulary lookup)."""
        return TOKENIZE[self.language](text)

    def encode(self, text: str, add_start: bool = False, add_end: bool = False) -> list[int]:
        """Sentence -> ids, unknown words -> ``UNK``; optional ``<start>``/``<end>`` around."""
        tokens = self.tokenize(check_text(text, "WordTokenizer.encode"))
        return add_specials(self.vocab.encode(tokens), add_start, add_end)

    def decode(self, ids: Sequence[int]) -> str:
        """Ids -> sentence: stops at the first ``<end>``, drops ``<pad>``/``<start>``."""
        ids = strip_for_decoding(check_ids(ids, len(self.vocab), "WordTokenizer.decode"))
        return DETOKENIZE[self.language](self.vocab.decode(ids, strip_special=False))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "word", "language": self.language, "vocab": self.vocab.to_dict()}

    @classmethod
    def from_dict(cls, data: Any) -> WordTokenizer:
        if not isinstance(data, dict) or data.get("kind") != "word":
            raise CourseLibError(
                f"WordTokenizer.from_dict: expected kind 'word', got {str(data)[:80]}"
            )
        return cls(data.get("language"), Vocab.from_dict(data.get("vocab")))

    def __repr__(self) -> str:
        return f"WordTokenizer(language={self.language!r}, vocab_size={self.vocab_size})"


__all__ = [
    "LANGUAGES",
    "WordTokenizer",
    "detokenize_en",
    "detokenize_fr",
    "tokenize_en",
    "tokenize_fr",
]
