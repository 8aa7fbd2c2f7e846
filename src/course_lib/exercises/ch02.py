"""Chapter 2 exercises: a vocabulary, the sinusoidal positional encoding, a padded batch.

The references are the ``course_lib`` functions the chapter builds; cases are plain
data (lists of strings and ints, numbers).
"""

from __future__ import annotations

import torch

from course_lib.batching import pad_sequences
from course_lib.embedding import sinusoidal_encoding
from course_lib.exercises.core import Case, Exercise
from course_lib.tokenize import Vocab, tokenize_en, tokenize_fr


def reference_build_vocab(token_lists: list[list[str]], min_freq: int) -> list[str]:
    """The token list of ``Vocab.build(token_lists, min_freq)``: the four special tokens,
    then the words seen at least ``min_freq`` times, most frequent first, ties alphabetical."""
    return Vocab.build(token_lists, min_freq=min_freq).itos


def _vocab_cases() -> list[Case]:
    french = [
        tokenize_fr(s)
        for s in (
            "J'aime la pizza",
            "Je déteste la pizza",
            "Je n'aime pas la pizza",
            "Elle boit de l'eau",
        )
    ]
    english = [tokenize_en(s) for s in ("I love pizza", "I hate pizza", "She drinks water")]
    return [
        Case("French, min_freq 1", (french, 1)),
        Case("French, min_freq 2", (french, 2)),
        Case("English, ties broken alphabetically", (english, 1)),
        Case("a special token in the data is not added twice", ([["<unk>", "b", "a", "b"]], 1)),
        Case("nothing frequent enough", (english, 5)),
    ]


def reference_positional_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """``course_lib.embedding.sinusoidal_encoding``: ``(max_len, d_model)`` float32."""
    return sinusoidal_encoding(max_len, d_model)


def _encoding_cases() -> list[Case]:
    return [
        Case("4 positions, d_model 8", (4, 8)),
        Case("one position", (1, 6)),
        Case("50 positions, d_model 16", (50, 16)),
        Case("d_model 2: one frequency", (10, 2)),
    ]


def reference_pad_batch(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, mask)``: ids ``(batch, longest)`` int64 padded with ``pad_id`` on the right,
    mask ``(batch, longest)`` bool, True at real tokens."""
    ids = pad_sequences(seqs, pad_id=pad_id)
    mask = torch.zeros(ids.shape, dtype=torch.bool)
    for i, seq in enumerate(seqs):
        mask[i, : len(seq)] = True
    return ids, mask


def _pad_cases() -> list[Case]:
    return [
        Case("three sentences", ([[5, 6, 7, 2], [8, 9, 2], [4, 2]], 0)),
        Case("already the same length", ([[4, 5], [6, 7]], 0)),
        Case("pad id 9, one empty sequence", ([[1, 2, 3], []], 9)),
        Case("a real token equal to pad_id is not padding", ([[9, 5, 9], [6]], 9)),
    ]


EXERCISES = [
    Exercise(
        id="ch02_build_vocab",
        chapter=2,
        title="Build a vocabulary with special tokens",
        function="build_vocab",
        reference=reference_build_vocab,
        cases=_vocab_cases,
        points=2,
        hint=(
            "Count the tokens with collections.Counter; keep words with count >= min_freq "
            "that are not special tokens; sort them with key=lambda w: (-count[w], w); "
            "return ['<pad>', '<start>', '<end>', '<unk>'] + that list."
        ),
    ),
    Exercise(
        id="ch02_positional_encoding",
        chapter=2,
        title="The sinusoidal positional encoding",
        function="positional_encoding",
        reference=reference_positional_encoding,
        cases=_encoding_cases,
        points=2,
        atol=1e-4,
        rtol=1e-4,
        hint=(
            "PE[pos, 2i] = sin(pos / 10000**(2i/d_model)) and PE[pos, 2i+1] = cos(same angle). "
            "Build positions (max_len, 1) and 2i = torch.arange(0, d_model, 2) as float32, "
            "then fill the even columns with sin and the odd columns with cos; the result "
            "is float32 of shape (max_len, d_model)."
        ),
    ),
    Exercise(
        id="ch02_pad_batch",
        chapter=2,
        title="Pad a batch and build its mask",
        function="pad_batch",
        reference=reference_pad_batch,
        cases=_pad_cases,
        points=1,
        hint=(
            "Make a (batch, longest) tensor filled with pad_id, dtype torch.long, copy each "
            "sequence into the start of its row, and set mask[i, :len(seq)] = True. Build the "
            "mask from the lengths, not from `ids != pad_id`: a real token may have the pad id."
        ),
    ),
]
