"""Step 2a: from a sentence to a list of token ids, and back.

Two routes, with the same interface (``encode``, ``decode``, ``vocab_size``,
``to_dict``) and the same special ids, so the model and the training loop do not care
which one they get:

* :class:`WordTokenizer` - the tokenizer the reader builds: lower-cased words,
  punctuation split off, French elision split (``"J'aime"`` -> ``["j'", "aime"]``), a
  :class:`Vocab` of the words seen in training; unknown words become ``<unk>``.
* :class:`BPETokenizer` - sub-word pieces learned with Hugging Face ``tokenizers``
  (byte-pair encoding): rare and unseen words are split into known pieces instead of
  becoming ``<unk>``.

Special tokens have fixed ids in both: ``<pad>`` = 0, ``<start>`` = 1, ``<end>`` = 2,
``<unk>`` = 3.

Bad input: a non-string sentence raises :class:`CourseLibError`. ``tokenize_en("")`` and
``tokenize_fr("")`` return ``[]`` (there are no tokens), but ``encode`` refuses an empty or
blank sentence with a :class:`CourseLibError`, because a model cannot translate nothing
and an empty line in a data set is almost always a bug.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from course_lib.errors import CourseLibError

PAD, START, END, UNK = 0, 1, 2, 3
SPECIAL_TOKENS = ["<pad>", "<start>", "<end>", "<unk>"]
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


def _check_tokens(tokens: Any, who: str) -> list[str]:
    if isinstance(tokens, str) or not isinstance(tokens, Sequence):
        raise CourseLibError(
            f"{who}: expected a list of tokens, got {type(tokens).__name__}"
            + (" (tokenize the sentence first)" if isinstance(tokens, str) else "")
        )
    for i, token in enumerate(tokens):
        if not isinstance(token, str):
            raise CourseLibError(f"{who}: token {i} must be a str, got {type(token).__name__}")
    return list(tokens)


def detokenize_fr(tokens: Sequence[str]) -> str:
    """French tokens -> text: elisions glued (``"J'aime"``), a space before ``! ? : ;``
    (French typography, as in Tatoeba), none before ``. ,``, first letter capitalised.

    Inverse of :func:`tokenize_fr` for lower-case-only words:
    ``detokenize_fr(tokenize_fr("J'aime la pizza")) == "J'aime la pizza"``.
    """
    tokens = _check_tokens(tokens, "detokenize_fr")
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
    tokens = _check_tokens(tokens, "detokenize_en")
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


def _check_language(language: Any, who: str) -> str:
    if language not in LANGUAGES:
        raise CourseLibError(f"{who}: language must be 'en' or 'fr', got {language!r}")
    return language


def _check_ids(ids: Any, size: int, who: str) -> list[int]:
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


def _strip_for_decoding(ids: list[int]) -> list[int]:
    """Cut at the first <end>, drop <pad> and <start>."""
    if END in ids:
        ids = ids[: ids.index(END)]
    return [i for i in ids if i not in (PAD, START)]


class Vocab:
    """A two-way map between tokens and ids; ids 0-3 are the special tokens.

    Build it from tokenized sentences with :meth:`build`; words are numbered by
    decreasing frequency (ties alphabetical), so the same data always gives the same ids.
    """

    def __init__(self, tokens: Sequence[str]):
        tokens = _check_tokens(tokens, "Vocab")
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
            counts.update(_check_tokens(tokens, f"Vocab.build (sentence {i})"))
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
        return [self.stoi.get(t, UNK) for t in _check_tokens(tokens, "Vocab.encode")]

    def decode(self, ids: Sequence[int], strip_special: bool = True) -> list[str]:
        """Ids -> tokens. ``strip_special`` drops ``<pad>``, ``<start>`` and ``<end>`` (but
        keeps ``<unk>``, which says something). An id outside the vocabulary raises
        :class:`CourseLibError` naming the id and the vocabulary size."""
        ids = _check_ids(ids, len(self), "Vocab.decode")
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
        return cls.from_dict(_load_json(path, "vocabulary"))


def _load_json(path: str | Path, what: str) -> Any:
    path = Path(path)
    if not path.is_file():
        raise CourseLibError(f"{what} file not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CourseLibError(f"corrupt {what} file {path}: not valid JSON ({error})") from None


def _check_text(text: Any, who: str) -> str:
    if not isinstance(text, str):
        raise CourseLibError(f"{who}: expected a sentence (str), got {type(text).__name__}")
    if not text.strip():
        raise CourseLibError(f"{who}: cannot encode an empty sentence")
    return text


def _add_specials(ids: list[int], add_start: bool, add_end: bool) -> list[int]:
    return ([START] if add_start else []) + ids + ([END] if add_end else [])


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
        self.language = _check_language(language, "WordTokenizer")
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
        _check_language(language, "WordTokenizer.fit")
        if isinstance(texts, str):
            raise CourseLibError("WordTokenizer.fit: expected a list of sentences, got one str")
        tokenize = TOKENIZE[language]
        token_lists = [
            tokenize(_check_text(t, f"WordTokenizer.fit (sentence {i})"))
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
        tokens = self.tokenize(_check_text(text, "WordTokenizer.encode"))
        return _add_specials(self.vocab.encode(tokens), add_start, add_end)

    def decode(self, ids: Sequence[int]) -> str:
        """Ids -> sentence: stops at the first ``<end>``, drops ``<pad>``/``<start>``."""
        ids = _strip_for_decoding(_check_ids(ids, len(self.vocab), "WordTokenizer.decode"))
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


# Every BPE tokenizer knows these characters even if its training text lacks some of them,
# so ordinary English and French text never produces <unk>.
BPE_ALPHABET = (
    string.ascii_letters
    + string.digits
    + string.punctuation
    + "àâäçéèêëîïôöùûüÿœæÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ«»’…€▁"
)


class BPETokenizer:
    """Byte-pair-encoding tokenizer trained with Hugging Face ``tokenizers``.

    Text is NFC-normalised, split on spaces (kept as ``▁``, so decoding restores the
    exact text, case included) and punctuation, then into learned sub-word pieces:
    an unseen word is spelled with known pieces; only a character that is neither in the
    training text nor in :data:`BPE_ALPHABET` (ASCII and French letters, punctuation)
    becomes ``<unk>``.
    """

    kind = "bpe"

    def __init__(self, tokenizer: Any, language: str):
        from tokenizers import Tokenizer

        self.language = _check_language(language, "BPETokenizer")
        if not isinstance(tokenizer, Tokenizer):
            raise CourseLibError(
                f"BPETokenizer: expected a tokenizers.Tokenizer, got {type(tokenizer).__name__}"
            )
        for expected_id, token in enumerate(SPECIAL_TOKENS):
            if tokenizer.token_to_id(token) != expected_id:
                raise CourseLibError(
                    f"BPETokenizer: special token {token} must have id {expected_id}, "
                    f"got {tokenizer.token_to_id(token)}"
                )
        self.tokenizer = tokenizer

    @classmethod
    def fit(
        cls,
        texts: Iterable[str],
        vocab_size: int = 1000,
        language: str = "fr",
        min_frequency: int = 2,
    ) -> BPETokenizer:
        """Learn ``vocab_size`` pieces (special tokens included) from ``texts``."""
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

        _check_language(language, "BPETokenizer.fit")
        if isinstance(texts, str):
            raise CourseLibError("BPETokenizer.fit: expected a list of sentences, got one str")
        texts = [_check_text(t, f"BPETokenizer.fit (sentence {i})") for i, t in enumerate(texts)]
        if not texts:
            raise CourseLibError("BPETokenizer.fit: no sentences to learn from")
        if (
            isinstance(vocab_size, bool)
            or not isinstance(vocab_size, int)
            or vocab_size <= len(SPECIAL_TOKENS)
        ):
            raise CourseLibError(
                f"BPETokenizer.fit: vocab_size must be an int > 4, got {vocab_size!r}"
            )
        tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
        tokenizer.normalizer = normalizers.NFC()
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()]
        )
        tokenizer.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=SPECIAL_TOKENS,
            show_progress=False,
            initial_alphabet=list(BPE_ALPHABET),
        )
        tokenizer.train_from_iterator(texts, trainer)
        return cls(tokenizer, language)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def tokenize(self, text: str) -> list[str]:
        """The sub-word pieces of ``text`` (``▁`` marks the start of a word)."""
        return self.tokenizer.encode(_check_text(text, "BPETokenizer.tokenize")).tokens

    def encode(self, text: str, add_start: bool = False, add_end: bool = False) -> list[int]:
        """Sentence -> piece ids; optional ``<start>``/``<end>`` around."""
        ids = self.tokenizer.encode(_check_text(text, "BPETokenizer.encode")).ids
        return _add_specials(ids, add_start, add_end)

    def decode(self, ids: Sequence[int]) -> str:
        """Ids -> text: stops at the first ``<end>``, drops ``<pad>``/``<start>``."""
        ids = _strip_for_decoding(_check_ids(ids, self.vocab_size, "BPETokenizer.decode"))
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "bpe", "language": self.language, "tokenizer_json": self.tokenizer.to_str()}

    @classmethod
    def from_dict(cls, data: Any) -> BPETokenizer:
        from tokenizers import Tokenizer

        if (
            not isinstance(data, dict)
            or data.get("kind") != "bpe"
            or not isinstance(data.get("tokenizer_json"), str)
        ):
            raise CourseLibError(
                f"BPETokenizer.from_dict: expected kind 'bpe' with 'tokenizer_json', got {str(data)[:80]}"
            )
        try:
            tokenizer = Tokenizer.from_str(data["tokenizer_json"])
        except Exception as error:  # the Rust side raises a plain Exception
            raise CourseLibError(
                f"BPETokenizer.from_dict: corrupt tokenizer JSON ({error})"
            ) from None
        return cls(tokenizer, data.get("language"))

    def __repr__(self) -> str:
        return f"BPETokenizer(language={self.language!r}, vocab_size={self.vocab_size})"


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


def save_tokenizer(tokenizer: Tokenizer, path: str | Path) -> None:
    """Write a tokenizer's ``to_dict()`` as JSON."""
    Path(path).write_text(json.dumps(tokenizer.to_dict(), ensure_ascii=False), encoding="utf-8")


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Read a tokenizer written by :func:`save_tokenizer` (clear error naming a missing or
    corrupt file)."""
    data = _load_json(path, "tokenizer")
    try:
        return tokenizer_from_dict(data)
    except CourseLibError as error:
        raise CourseLibError(f"corrupt tokenizer file {path}: {error}") from None


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


__all__ = [
    "END",
    "PAD",
    "SPECIAL_TOKENS",
    "START",
    "UNK",
    "BPETokenizer",
    "Tokenizer",
    "Vocab",
    "WordTokenizer",
    "detokenize_en",
    "detokenize_fr",
    "load_tokenizer",
    "save_tokenizer",
    "tokenize_en",
    "tokenize_fr",
    "tokenizer_from_dict",
    "unknown_rate",
]
