"""Step 2a: from a sentence to a list of token ids, and back.

Two routes, with the same interface (``encode``, ``decode``, ``vocab_size``,
``to_dict``) and the same special ids, so the model and the training loop do not care
which one they get:

* :mod:`~course_lib.tokenize.words`: :class:`WordTokenizer`, the tokenizer the reader
  builds - lower-cased words, punctuation split off, French elision split (``"J'aime"`` ->
  ``["j'", "aime"]``), a :class:`Vocab` of the words seen in training; unknown words become
  ``<unk>``.
* :mod:`~course_lib.tokenize.bpe`: :class:`BPETokenizer`, sub-word pieces learned with
  Hugging Face ``tokenizers`` (byte-pair encoding): rare and unseen words are split into
  known pieces instead of becoming ``<unk>``.

:mod:`~course_lib.tokenize.vocab` is the one home of the special tokens: ``<pad>`` = 0
(:data:`PAD`), ``<start>`` = 1 (:data:`START`), ``<end>`` = 2 (:data:`END`), ``<unk>`` = 3
(:data:`UNK`), in both routes. :mod:`~course_lib.tokenize.common` rebuilds either kind from
its ``to_dict()`` and measures :func:`unknown_rate`.

Chapters write ``from course_lib.tokenize import WordTokenizer, PAD, ...``: every public
name of the modules above is available here.
"""

from course_lib.tokenize.bpe import BPE_ALPHABET, BPETokenizer
from course_lib.tokenize.common import Tokenizer, tokenizer_from_dict, unknown_rate
from course_lib.tokenize.vocab import END, PAD, SPECIAL_TOKENS, START, UNK, Vocab
from course_lib.tokenize.words import (
    LANGUAGES,
    WordTokenizer,
    detokenize_en,
    detokenize_fr,
    tokenize_en,
    tokenize_fr,
)

__all__ = [
    "BPE_ALPHABET",
    "END",
    "LANGUAGES",
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
    "tokenize_en",
    "tokenize_fr",
    "tokenizer_from_dict",
    "unknown_rate",
]
