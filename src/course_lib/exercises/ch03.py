"""Chapter 3 exercises: two checkpoints (score size as d_k grows, the shape of the heads),
a masked softmax, and local (windowed) self-attention.

Cases are seeded random tensors (plain data the grader can send into its sandbox);
``fresh_cases(seed)`` draws new ones of the same kind at grade time.
"""

from __future__ import annotations

import random

import torch

from course_lib.attention import attention_weights, masked_softmax
from course_lib.exercises.core import Case, Exercise


def _answer() -> list[Case]:
    return [Case("answer")]


def reference_score_std_checkpoint() -> float:
    """The standard deviation of an unscaled score ``q . k`` for ``d_k = 256``."""
    return 16.0


def reference_heads_shape_checkpoint() -> tuple[int, int, int, int]:
    """The shape of Q after the split: 2 sentences, 5 tokens, d_model 512, 8 heads."""
    return (2, 8, 5, 64)


def _randn(*shape: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def reference_masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension; masked entries exactly 0; fully masked rows all 0."""
    return masked_softmax(scores, mask)


def _softmax_cases() -> list[Case]:
    scores = _randn(3, 4, seed=30)
    row_mask = torch.tensor(
        [[True, True, True, True], [True, True, False, False], [False, False, False, False]]
    )
    return [
        Case("nothing masked", (scores, torch.ones(3, 4, dtype=torch.bool))),
        Case("padding, and a row with nothing to attend to", (scores, row_mask)),
        Case(
            "large scores (subtract the max, or exp overflows)",
            (torch.tensor([[1000.0, 1001.0, 999.0]]), torch.tensor([[True, True, False]])),
        ),
        Case(
            "a (batch, 1, 1, k_len) mask broadcast over heads and queries",
            (
                _randn(2, 2, 3, 5, seed=31, scale=3.0),
                torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)[:, None, None],
            ),
        ),
    ]


def _fresh_softmax_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    rows, cols = rng.randint(1, 5), rng.randint(1, 6)
    scores = _randn(2, rows, cols, seed=seed, scale=rng.choice([1.0, 5.0, 300.0]))
    mask = torch.rand(2, rows, cols, generator=torch.Generator().manual_seed(seed + 1)) < 0.6
    mask[0, 0] = False  # always one row with nothing to attend to
    return [Case(f"random scores and mask (seed {seed})", (scores, mask))]


def reference_local_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Self-attention in which position ``i`` sees only positions ``j`` with
    ``|i - j| <= window``: ``(output (..., seq, d_v), weights (..., seq, seq))``."""
    index = torch.arange(q.size(-2))
    near = (index[:, None] - index[None, :]).abs() <= window  # (seq, seq) band
    weights = attention_weights(q, k, near)  # (..., seq, seq)
    return weights @ v, weights


def _local_cases() -> list[Case]:
    return [
        Case(
            "5 positions, window 1",
            (_randn(5, 4, seed=40), _randn(5, 4, seed=41), _randn(5, 3, seed=42), 1),
        ),
        Case(
            "window 0: each position reads only itself",
            (_randn(4, 4, seed=43), _randn(4, 4, seed=44), _randn(4, 4, seed=45), 0),
        ),
        Case(
            "a window wider than the sentence: ordinary self-attention",
            (_randn(3, 8, seed=46), _randn(3, 8, seed=47), _randn(3, 8, seed=48), 10),
        ),
        Case(
            "batch 2, 2 heads, 6 positions, window 2",
            (
                _randn(2, 2, 6, 8, seed=49),
                _randn(2, 2, 6, 8, seed=50),
                _randn(2, 2, 6, 5, seed=51),
                2,
            ),
        ),
    ]


def _fresh_local_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    batch, seq, d = rng.randint(1, 3), rng.randint(2, 9), rng.choice([4, 8, 16])
    window = rng.randint(0, seq)
    return [
        Case(
            f"random batch {batch}, {seq} positions, d_k {d}, window {window} (seed {seed})",
            (
                _randn(batch, seq, d, seed=seed),
                _randn(batch, seq, d, seed=seed + 1),
                _randn(batch, seq, d, seed=seed + 2),
                window,
            ),
        )
    ]


EXERCISES = [
    Exercise(
        id="ch03_score_std_checkpoint",
        chapter=3,
        title="How large do the scores get when d_k grows?",
        function="ANSWER_CH3_SCORE_STD",
        reference=reference_score_std_checkpoint,
        cases=_answer,
        points=1,
        kind="checkpoint",
        minutes=4,
        atol=1e-3,
        rtol=1e-3,
        hint=(
            "A score is a sum of d_k independent products, each with mean 0 and variance 1. "
            "What happens to the variance of a sum of independent terms? And the standard "
            "deviation is the square root of the variance."
        ),
        explanation=(
            "16. The variances of the 256 independent products add up to 256, so the typical "
            "score is sqrt(256) = 16: a softmax of numbers that far apart gives almost all the "
            "weight to one key, and almost no gradient. Dividing by sqrt(d_k) brings the "
            "standard deviation back to 1 for every head size."
        ),
    ),
    Exercise(
        id="ch03_heads_shape",
        chapter=3,
        title="The shape of the queries once split into heads",
        function="ANSWER_CH3_HEADS_SHAPE",
        reference=reference_heads_shape_checkpoint,
        cases=_answer,
        points=1,
        kind="checkpoint",
        minutes=3,
        hint=(
            "The heads share d_model between them, and each head must see every word of every "
            "sentence. Which dimension comes right after the batch, so that attention runs "
            "per head?"
        ),
        explanation=(
            "(2, 8, 5, 64): (batch, heads, seq_len, d_head) with d_head = 512 / 8. The heads "
            "dimension comes before the positions so that the matrix product Q K^T runs over "
            "(seq_len, d_head) for every sentence and head at once."
        ),
    ),
    Exercise(
        id="ch03_masked_softmax",
        chapter=3,
        title="A softmax that ignores padding",
        function="masked_softmax",
        reference=reference_masked_softmax,
        cases=_softmax_cases,
        fresh_cases=_fresh_softmax_cases,
        points=2,
        minutes=10,
        forbidden=(
            "course_lib.attention.masked_softmax",
            "course_lib.attention.attention_weights",
            "course_lib.attention.scaled_dot_product_attention",
            "torch.nn.functional.scaled_dot_product_attention",
        ),
        hint=(
            "What value must a masked score have so that the softmax gives it exactly zero "
            "weight? Then look at what the softmax does with a row where every score has that "
            "value, and decide what such a row should be instead."
        ),
        explanation=(
            "Masked scores become -inf, so exp gives exactly 0; torch's softmax subtracts the "
            "row maximum, so scores around 1000 do not overflow. A row that is all -inf gives "
            "0/0 = NaN, which would spread through every later layer: such a query has "
            "nothing to read, so its weights are set to zero."
        ),
    ),
    Exercise(
        id="ch03_local_attention",
        chapter=3,
        title="Local self-attention: read only the nearby words",
        function="local_attention",
        reference=reference_local_attention,
        cases=_local_cases,
        fresh_cases=_fresh_local_cases,
        points=3,
        minutes=15,
        forbidden=(
            "course_lib.attention.scaled_dot_product_attention",
            "course_lib.attention.attention_weights",
            "course_lib.attention.MultiHeadAttention",
            "torch.nn.functional.scaled_dot_product_attention",
            "torch.nn.MultiheadAttention",
        ),
        hint=(
            "Local attention is ordinary scaled dot-product attention with one more mask. "
            "Which (query, key) pairs may attend? That depends only on the two positions, "
            "and the same pattern serves every sentence and head."
        ),
        explanation=(
            "A band mask (True where |i - j| <= window) turns full attention into local "
            "attention: each word reads 2 * window + 1 neighbours at most. Stacked layers "
            "widen the view by window per layer; Longformer and sliding-window attention use "
            "this to make the cost grow with seq_len * window instead of seq_len^2."
        ),
    ),
]
