"""Chapter 3 exercises: scaled dot-product attention, splitting into heads, a masked softmax.

The references are the ``course_lib.attention`` functions the chapter builds; the cases
are seeded random tensors (plain data the grader can send into its sandbox).
"""

from __future__ import annotations

import torch

from course_lib.attention import masked_softmax, scaled_dot_product_attention
from course_lib.exercises.core import Case, Exercise


def _randn(*shape: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def reference_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(output, weights)``: output ``(..., q_len, d_v)``, weights ``(..., q_len, k_len)``."""
    return scaled_dot_product_attention(q, k, v, mask, return_weights=True)


def _attention_cases() -> list[Case]:
    padding = torch.tensor([[True, True, True, True], [True, True, False, False]])
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    blind = torch.ones(1, 1, 3, 3, dtype=torch.bool)
    blind[0, 0, 1] = False  # query 1 may attend to no key
    return [
        Case(
            "one sentence, no mask",
            (_randn(3, 4, seed=1), _randn(3, 4, seed=2), _randn(3, 5, seed=3), None),
        ),
        Case(
            "more keys than queries",
            (_randn(2, 8, seed=4), _randn(5, 8, seed=5), _randn(5, 8, seed=6), None),
        ),
        Case(
            "batch of 2, 2 heads, padding mask (2, 1, 1, 4)",
            (
                _randn(2, 2, 4, 8, seed=7),
                _randn(2, 2, 4, 8, seed=8),
                _randn(2, 2, 4, 8, seed=9),
                padding[:, None, None, :],
            ),
        ),
        Case(
            "causal mask (1, 1, 4, 4)",
            (
                _randn(1, 2, 4, 6, seed=10),
                _randn(1, 2, 4, 6, seed=11),
                _randn(1, 2, 4, 6, seed=12),
                causal[None, None],
            ),
        ),
        Case(
            "a query that may attend to nothing gets zeros",
            (
                _randn(1, 1, 3, 4, seed=13),
                _randn(1, 1, 3, 4, seed=14),
                _randn(1, 1, 3, 4, seed=15),
                blind,
            ),
        ),
    ]


def reference_split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``(batch, seq, d_model)`` -> ``(batch, n_heads, seq, d_model // n_heads)``; head ``h``
    holds columns ``h * d_head .. (h + 1) * d_head - 1`` (as ``MultiHeadAttention.split_heads``)."""
    batch, seq, d_model = x.shape
    return x.view(batch, seq, n_heads, d_model // n_heads).transpose(1, 2)


def _split_cases() -> list[Case]:
    return [
        Case(
            "batch 1, 3 words, d_model 8, 2 heads",
            (torch.arange(24, dtype=torch.float32).view(1, 3, 8), 2),
        ),
        Case("batch 2, 5 words, d_model 12, 3 heads", (_randn(2, 5, 12, seed=20), 3)),
        Case("one head keeps everything", (_randn(2, 4, 6, seed=21), 1)),
        Case("as many heads as dimensions", (_randn(1, 2, 8, seed=22), 8)),
    ]


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


EXERCISES = [
    Exercise(
        id="ch03_attention",
        chapter=3,
        title="Scaled dot-product attention with a mask",
        function="attention",
        reference=reference_attention,
        cases=_attention_cases,
        points=3,
        forbidden=(
            "course_lib.attention.scaled_dot_product_attention",
            "course_lib.attention.attention_weights",
            "course_lib.attention.masked_softmax",
            "torch.nn.functional.scaled_dot_product_attention",
        ),
        hint=(
            "scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)); where mask is False, "
            "set the score to -inf (scores.masked_fill(~mask, float('-inf'))); softmax over the "
            "last dimension; replace the NaN of rows with no visible key by 0; return "
            "(weights @ v, weights). With mask None, skip the masking."
        ),
    ),
    Exercise(
        id="ch03_split_heads",
        chapter=3,
        title="Split d_model into heads",
        function="split_heads",
        reference=reference_split_heads,
        cases=_split_cases,
        points=1,
        forbidden=("course_lib.attention.MultiHeadAttention",),
        hint=(
            "First view (batch, seq, d_model) as (batch, seq, n_heads, d_head) so that each "
            "head gets a block of consecutive columns, then transpose(1, 2). Reshaping straight "
            "to (batch, n_heads, seq, d_head) mixes words between heads."
        ),
    ),
    Exercise(
        id="ch03_masked_softmax",
        chapter=3,
        title="A softmax that ignores padding",
        function="masked_softmax",
        reference=reference_masked_softmax,
        cases=_softmax_cases,
        points=2,
        forbidden=("course_lib.attention.masked_softmax", "course_lib.attention.attention_weights"),
        hint=(
            "Fill masked scores with -inf, then use scores.softmax(dim=-1) (it subtracts the "
            "row maximum for you, so exp never overflows). A row that is all -inf becomes NaN: "
            "set the rows where mask.any(dim=-1) is False to 0. The mask broadcasts like "
            "scores + mask would."
        ),
    ),
]
