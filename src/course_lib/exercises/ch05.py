"""Chapter 5 exercises: two checkpoints (the shape of a batch's output, a very low
temperature), the greedy loop stopping at ``<end>``, and top-p (nucleus) sampling.

To keep the inputs plain data (the grader only exchanges tensors and numbers with a
sandbox), the "decoder" of the greedy-loop exercise is a lookup table: in sentence ``b``,
after the word ``w``, the scores of the next word are ``table[b, w]`` (shape
``(batch, vocab, vocab)``). The loop is exactly the one :func:`course_lib.generate.decode_loop`
runs around the real model; only the ``step`` function differs.
"""

from __future__ import annotations

import random

import torch

from course_lib.errors import ShapeError
from course_lib.exercises.core import Case, Exercise
from course_lib.generate import decode_loop


def _answer() -> list[Case]:
    return [Case("answer")]


def reference_output_shape_checkpoint() -> tuple[int, int]:
    """3 sentences ending after 4, 2 and 6 tokens (``<end>`` included), max_new_tokens 10."""
    return (3, 6)


def reference_cold_checkpoint() -> list[float]:
    """The limit of softmax(logits / T) for logits [3, 1, 1, -5] as T -> 0."""
    return [1.0, 0.0, 0.0, 0.0]


def table_step(table: torch.Tensor):
    """A ``step`` function for :func:`decode_loop` from a ``(batch, vocab, vocab)`` table:
    tokens ``(batch, t)`` -> ``table[b, tokens[b, -1]]``, shape ``(batch, vocab)``."""
    if (
        not isinstance(table, torch.Tensor)
        or table.dim() != 3
        or table.size(1) != table.size(2)
        or not table.is_floating_point()
        or table.size(0) == 0
    ):
        shape = tuple(table.shape) if isinstance(table, torch.Tensor) else type(table).__name__
        raise ShapeError(
            f"table must be a non-empty float tensor of shape (batch, vocab, vocab), got {shape}"
        )
    rows = torch.arange(table.size(0))
    return lambda tokens: table[rows, tokens[:, -1]]


def reference_greedy_loop_with_end(
    table: torch.Tensor, start_id: int, end_id: int, pad_id: int, max_new_tokens: int
) -> torch.Tensor:
    """Greedy steps, each sentence stopping at its ``<end>`` (then ``<pad>``), the loop
    stopping when all have ended: ``(batch, vocab, vocab)`` -> ``(batch, n)`` int64."""
    tokens, _ = decode_loop(
        table_step(table),
        table.size(0),
        max_new_tokens=max_new_tokens,
        start_id=start_id,
        end_id=end_id,
        pad_id=pad_id,
    )
    return tokens


def chain_table(paths: list[list[int]], vocab: int, seed: int) -> torch.Tensor:
    """A ``(len(paths), vocab, vocab)`` table of small random scores in which sentence
    ``b`` follows ``paths[b]`` greedily (each step along the path gets +5)."""
    generator = torch.Generator().manual_seed(seed)
    table = torch.randn(len(paths), vocab, vocab, generator=generator)
    for b, path in enumerate(paths):
        for previous, following in zip(path, path[1:]):
            table[b, previous, following] += 5.0
    return table


def _end_cases() -> list[Case]:
    # ids: <pad>=0, <start>=1, <end>=2 unless the case says otherwise
    return [
        Case(
            "sentences end at different steps",
            (chain_table([[1, 4, 5, 2], [1, 6, 2], [1, 4, 7, 5, 8, 2]], 9, 3), 1, 2, 0, 10),
        ),
        Case(
            "one sentence never ends: stop at max_new_tokens",
            (chain_table([[1, 3, 2], [1, 4, 5, 6, 7, 8, 4]], 9, 4), 1, 2, 0, 5),
        ),
        Case("every sentence ends at once", (chain_table([[1, 2], [1, 2]], 5, 5), 1, 2, 0, 6)),
        Case(
            "other special ids (start 7, end 3, pad 9)",
            (chain_table([[7, 1, 3], [7, 4, 5, 3]], 10, 6), 7, 3, 9, 8),
        ),
    ]


def _fresh_end_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    vocab, start_id, end_id, pad_id = 10, 1, 2, 0
    words = list(range(3, vocab))
    paths = []
    for _ in range(rng.randint(1, 4)):
        middle = [rng.choice(words) for _ in range(rng.randint(0, 5))]
        ends = rng.random() < 0.8  # some sentences never reach <end>
        paths.append([start_id, *dict.fromkeys(middle), *([end_id] if ends else [])])
    max_new = rng.randint(3, 8)
    return [
        Case(
            f"random sentences, max_new_tokens {max_new} (seed {seed})",
            (chain_table(paths, vocab, seed), start_id, end_id, pad_id, max_new),
        )
    ]


def reference_top_p_distribution(
    logits: torch.Tensor, temperature: float, top_p: float
) -> torch.Tensor:
    """``(batch, vocab)`` logits -> ``(batch, vocab)`` probabilities of nucleus sampling: the
    fewest most probable tokens whose probabilities (at this temperature) sum to at least
    ``top_p``, renormalised; every other token 0."""
    probs = (logits.float() / temperature).softmax(dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    before = sorted_probs.cumsum(dim=-1) - sorted_probs  # mass of the more probable tokens
    keep_sorted = before < top_p  # the first token is always kept
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = probs.masked_fill(~keep, 0.0)
    return kept / kept.sum(dim=-1, keepdim=True)


def _top_p_cases() -> list[Case]:
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0], [0.0, 3.0, 0.5, 1.0]])
    generator = torch.Generator().manual_seed(7)
    wide = torch.randn(3, 12, generator=generator) * 2
    return [
        Case("top_p 0.5: only the most probable token", (logits, 1.0, 0.5)),
        Case("top_p 0.9: the nucleus grows until it holds 90 %", (logits, 1.0, 0.9)),
        Case("top_p 1.0 keeps every token", (logits, 1.0, 1.0)),
        Case("temperature 2 flattens first, so the nucleus is larger", (logits, 2.0, 0.9)),
        Case("a tiny top_p is greedy", (wide, 1.0, 0.01)),
        Case("12 tokens, temperature 0.7, top_p 0.8", (wide, 0.7, 0.8)),
    ]


def _fresh_top_p_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(rng.randint(1, 4), rng.randint(2, 20), generator=generator) * 3
    temperature = rng.choice([0.5, 1.0, 1.5])
    top_p = rng.choice([0.3, 0.6, 0.75, 0.9, 0.95])
    return [
        Case(
            f"random logits, T {temperature}, top_p {top_p} (seed {seed})",
            (logits, temperature, top_p),
        )
    ]


EXERCISES = [
    Exercise(
        id="ch05_output_shape",
        chapter=5,
        title="How long is a batch's output?",
        function="ANSWER_CH5_SHAPE",
        reference=reference_output_shape_checkpoint,
        cases=_answer,
        points=1,
        kind="checkpoint",
        minutes=3,
        hint=(
            "All sentences of a batch live in one tensor, so they share one number of "
            "columns. When does the loop stop, and what does an ended sentence receive while "
            "the others go on?"
        ),
        explanation=(
            "(3, 6): one row per sentence, and the loop runs until the longest sentence has "
            "written <end> (6 steps, fewer than max_new_tokens = 10). The two sentences that "
            "ended earlier receive <pad> after their <end>."
        ),
    ),
    Exercise(
        id="ch05_cold_checkpoint",
        chapter=5,
        title="Sampling at a very low temperature",
        function="ANSWER_CH5_COLD",
        reference=reference_cold_checkpoint,
        cases=_answer,
        points=1,
        kind="checkpoint",
        minutes=3,
        atol=1e-3,
        rtol=1e-3,
        hint=(
            "Dividing by a tiny T multiplies the gaps between logits by a huge number. What "
            "does a softmax do with one score far above all others?"
        ),
        explanation=(
            "[1, 0, 0, 0]. Dividing by T -> 0 stretches the gap between the best logit and "
            "the others without limit, so the softmax puts all the mass on the largest logit: "
            "sampling at a very low temperature is greedy decoding. (At a very high "
            "temperature every gap shrinks to 0 and the distribution becomes uniform.)"
        ),
    ),
    Exercise(
        id="ch05_stop_at_end",
        chapter=5,
        title="Stop each sentence at <end>",
        function="greedy_loop_with_end",
        reference=reference_greedy_loop_with_end,
        cases=_end_cases,
        fresh_cases=_fresh_end_cases,
        points=2,
        kind="practice",
        minutes=15,
        forbidden=(
            "course_lib.generate.decode_loop",
            "course_lib.generate.greedy_decode",
            "course_lib.beam.beam_search",
        ),
        hint=(
            "The loop needs to remember, per sentence, whether it has already ended. What "
            "should an ended sentence receive at later steps, and when is there nothing left "
            "to do?"
        ),
        explanation=(
            "A boolean 'finished' per sentence: ended sentences receive <pad>, and the loop "
            "stops when all have ended. The batch keeps one shape, so the output has as many "
            "columns as the longest sentence needed."
        ),
    ),
    Exercise(
        id="ch05_top_p",
        chapter=5,
        title="Nucleus (top-p) sampling probabilities",
        function="top_p_distribution",
        reference=reference_top_p_distribution,
        cases=_top_p_cases,
        fresh_cases=_fresh_top_p_cases,
        points=3,
        minutes=15,
        atol=1e-5,
        rtol=1e-4,
        forbidden=("transformers.TopPLogitsWarper",),
        hint=(
            "The nucleus is defined on the tokens ordered from the most to the least probable: "
            "how much probability do the tokens before a given token hold? A token whose "
            "predecessors already reach top_p is not needed. Remember which token is which "
            "once you have reordered them."
        ),
        explanation=(
            "Unlike top-k, the nucleus adapts to the model's confidence: when one word is "
            "almost certain it keeps one or two tokens, when many are plausible it keeps many. "
            "Sorting, a cumulative sum and a scatter back to the original order do it for a "
            "whole batch at once (Holtzman et al., 2020)."
        ),
    ),
]
