"""The sub-word route: byte-pair encoding learned with Hugging Face ``tokenizers``.

Rare and unseen words are split into known pieces instead of becoming ``<unk>``. A
:class:`BPETokenizer` has the interface of :class:`~course_lib.tokenize.words.WordTokenizer`
(``encode``, ``decode``, ``vocab_size``, ``to_dict``) and the same special ids.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from typing import Any

import tokenizers
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

from course_lib.errors import CourseLibError
from course_lib.tokenize.vocab import (
    SPECIAL_TOKENS,
    UNK,
    add_specials,
    check_ids,
    strip_for_decoding,
)
from course_lib.tokenize.words import check_language, check_text

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
        self.language = check_language(language, "BPETokenizer")
        if not isinstance(tokenizer, tokenizers.Tokenizer):
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
        check_language(language, "BPETokenizer.fit")
        if isinstance(texts, str):
            raise CourseLibError("BPETokenizer.fit: expected a list of sentences, got one str")
        texts = [check_text(t, f"BPETokenizer.fit (sentence {i})") for i, t in enumerate(texts)]
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
        tokenizer = tokenizers.Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS[UNK]))
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
        return self.tokenizer.encode(check_text(text, "BPETokenizer.tokenize")).tokens

    def encode(self, text: str, add_start: bool = False, add_end: bool = False) -> list[int]:
        """Sentence -> piece ids; optional ``<start>``/``<end>`` around."""
        ids = self.tokenizer.encode(check_text(text, "BPETokenizer.encode")).ids
        return add_specials(ids, add_start, add_end)

    def decode(self, ids: Sequence[int]) -> str:
        """Ids -> text: stops at the first ``<end>``, drops ``<pad>``/``<start>``."""
        ids = strip_for_decoding(check_ids(ids, self.vocab_size, "BPETokenizer.decode"))
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "bpe", "language": self.language, "tokenizer_json": self.tokenizer.to_str()}

    @classmethod
    def from_dict(cls, data: Any) -> BPETokenizer:
        if (
            not isinstance(data, dict)
            or data.get("kind") != "bpe"
            or not isinstance(data.get("tokenizer_json"), str)
        ):
            raise CourseLibError(
                f"BPETokenizer.from_dict: expected kind 'bpe' with 'tokenizer_json', got {str(data)[:80]}"
            )
        try:
            tokenizer = tokenizers.Tokenizer.from_str(data["tokenizer_json"])
        except Exception as error:  # the Rust side raises a plain Exception
            raise CourseLibError(
                f"BPETokenizer.from_dict: corrupt tokenizer JSON ({error})"
            ) from None
        return cls(tokenizer, data.get("language"))

    def __repr__(self) -> str:
        return f"BPETokenizer(language={self.language!r}, vocab_size={self.vocab_size})"


__all__ = ["BPE_ALPHABET", "BPETokenizer"]
