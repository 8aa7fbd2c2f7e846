"""Chapter 2 exercises: a checkpoint on the positional encoding, a vocabulary, a padded
batch, and a padding-aware mean.

Cases are plain data (lists of strings and ints, numbers, seeded tensors);
``fresh_cases(seed)`` draws new inputs of the same kind at grade time.
"""

from __future__ import annotations

import random

import torch

from course_lib.batching import pad_sequences
from course_lib.exercises.core import Case, Exercise
from course_lib.masks import padding_mask
from course_lib.tokenize import Vocab, WordTokenizer, tokenize_en, tokenize_fr


def _answer() -> list[Case]:
    return [Case("answer")]


# --- checkpoint: the dot product of a position's encoding with itself ----------------------


def reference_pe_checkpoint() -> float:
    """``PE_p . PE_p`` for ``d_model = 64``: one ``sin^2 + cos^2 = 1`` per frequency."""
    return 32.0


# --- build a vocabulary -----------------------------------------------------------------------


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


def _fresh_vocab_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    words = ["je", "la", "pizza", "aime", "l'", "eau", "<end>", "chat", "b", "a", "é"]
    lists = [
        [rng.choice(words) for _ in range(rng.randint(0, 6))] for _ in range(rng.randint(2, 6))
    ]
    return [
        Case(f"random tokens, min_freq 1 (seed {seed})", (lists, 1)),
        Case(f"random tokens, min_freq {2 + seed % 2} (seed {seed})", (lists, 2 + seed % 2)),
    ]


# --- pad a batch ------------------------------------------------------------------------------


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


def _fresh_pad_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    pad_id = rng.choice([0, 0, 1, 7])
    seqs = [[rng.randint(0, 9) for _ in range(rng.randint(1, 7))] for _ in range(rng.randint(1, 5))]
    return [Case(f"random batch, pad id {pad_id} (seed {seed})", (seqs, pad_id))]


# --- a padding-aware mean ---------------------------------------------------------------------


def reference_masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(batch, seq, d)`` and ``(batch, seq)`` bool -> ``(batch, d)``: the mean of the vectors
    at real positions, zeros for a row without any."""
    weights = mask.to(x.dtype).unsqueeze(-1)  # (batch, seq, 1)
    total = (x * weights).sum(dim=1)
    count = weights.sum(dim=1).clamp(min=1.0)
    return total / count


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _lengths_mask(lengths: list[int], seq: int) -> torch.Tensor:
    return torch.arange(seq)[None, :] < torch.tensor(lengths)[:, None]


def _mean_cases() -> list[Case]:
    return [
        Case(
            "no padding: the plain mean",
            (_randn(2, 3, 4, seed=1), torch.ones(2, 3, dtype=torch.bool)),
        ),
        Case("padded rows", (_randn(3, 5, 4, seed=2), _lengths_mask([5, 2, 3], 5))),
        Case(
            "large values at padded positions change nothing",
            (
                torch.tensor([[[1.0, 2.0], [3.0, 4.0], [1e6, -1e6]]]),
                torch.tensor([[True, True, False]]),
            ),
        ),
        Case(
            "a row of padding only gives zeros", (_randn(2, 4, 3, seed=3), _lengths_mask([4, 0], 4))
        ),
    ]


def _fresh_mean_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    batch, seq, d = rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 8)
    lengths = [rng.randint(0, seq) for _ in range(batch)]
    return [
        Case(
            f"random batch (seed {seed})",
            (_randn(batch, seq, d, seed=seed), _lengths_mask(lengths, seq)),
        )
    ]


EXERCISES = [
    Exercise(
        id="ch02_pe_checkpoint",
        chapter=2,
        title="How alike is a position to itself?",
        function="ANSWER_CH2_SELF_DOT",
        reference=reference_pe_checkpoint,
        cases=_answer,
        points=1,
        kind="checkpoint",
        minutes=4,
        atol=1e-3,
        rtol=1e-4,
        hint=(
            "Look at one even/odd pair of dimensions of the table: one sine and one cosine of "
            "the same angle. What is the sum of their squares, whatever the angle?"
        ),
        explanation=(
            "32. The 64 dimensions form 32 pairs (sin, cos) of the same angle, and "
            "sin^2 + cos^2 = 1 for every angle, so every position's encoding has squared length "
            "d_model / 2, whatever the position: the encoding adds the same amount of signal "
            "at the first word and at the fiftieth."
        ),
    ),
    Exercise(
        id="ch02_build_vocab",
        chapter=2,
        title="Build a vocabulary with special tokens",
        function="build_vocab",
        reference=reference_build_vocab,
        cases=_vocab_cases,
        fresh_cases=_fresh_vocab_cases,
        points=2,
        kind="practice",
        minutes=10,
        forbidden=(Vocab, WordTokenizer),
        hint=(
            "Two orders at once: by decreasing count, and alphabetically among equal counts. "
            "A single sort key can express both. The special tokens come first, exactly once."
        ),
        explanation=(
            "A deterministic order (count, then alphabet) makes the vocabulary, and so every "
            "token id, the same on every machine; min_freq sends rare words to <unk>."
        ),
    ),
    Exercise(
        id="ch02_pad_batch",
        chapter=2,
        title="Pad a batch and build its mask",
        function="pad_batch",
        reference=reference_pad_batch,
        cases=_pad_cases,
        fresh_cases=_fresh_pad_cases,
        points=1,
        minutes=8,
        forbidden=(
            pad_sequences,
            padding_mask,  # also reachable as course_lib.batching.padding_mask: one object
            "torch.nn.utils.rnn.pad_sequence",
        ),
        hint=(
            "Where do the real tokens of a row end? The lengths of the sequences know it; the "
            "token values do not, since a real token may carry the pad id."
        ),
        explanation=(
            "The mask must come from the lengths: a token whose id happens to equal pad_id is "
            "still a word. The ids are torch.long (embedding lookups need integer ids) and the "
            "mask torch.bool (True = may attend)."
        ),
    ),
    Exercise(
        id="ch02_masked_mean",
        chapter=2,
        title="A sentence vector that padding cannot change",
        function="masked_mean",
        reference=reference_masked_mean,
        cases=_mean_cases,
        fresh_cases=_fresh_mean_cases,
        points=2,
        minutes=12,
        hint=(
            "A mean is a sum divided by a count. Which positions should take part in the sum, "
            "and how many are there in each row? A row with none must not divide by zero."
        ),
        explanation=(
            "x.mean(dim=1) would average the <pad> vectors in, so the same sentence would get "
            "a different vector in a different batch. Weighting by the mask and dividing by "
            "the number of real tokens (at least 1) gives a vector that depends on the "
            "sentence only; the padding mask plays the same role inside attention."
        ),
    ),
]
