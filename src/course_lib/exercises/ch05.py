"""Chapter 5 exercises: the greedy loop, stopping at ``<end>``, temperature and top-k.

To keep the inputs plain data (the grader only exchanges tensors and numbers with a
sandbox), the "decoder" in the first two exercises is a lookup table: in sentence ``b``,
after the word ``w``, the scores of the next word are ``table[b, w]`` (shape
``(batch, vocab, vocab)``). The loop is exactly the one :func:`course_lib.generate.decode_loop`
runs around the real model; only the ``step`` function differs.
"""

from __future__ import annotations

import torch

from course_lib.errors import ShapeError
from course_lib.exercises.core import Case, Exercise
from course_lib.generate import decode_loop, next_token_distribution


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


def reference_greedy_loop(table: torch.Tensor, start_id: int, max_new_tokens: int) -> torch.Tensor:
    """``max_new_tokens`` greedy steps, no stopping: ``(batch, vocab, vocab)`` ->
    ``(batch, max_new_tokens)`` int64 ids (``<start>`` not included)."""
    tokens, _ = decode_loop(
        table_step(table),
        table.size(0),
        max_new_tokens=max_new_tokens,
        start_id=start_id,
        end_id=-1,  # no id is -1: never stop early
    )
    return tokens


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


def reference_top_k_temperature(
    logits: torch.Tensor, temperature: float, top_k: int | None
) -> torch.Tensor:
    """``(batch, vocab)`` logits -> ``(batch, vocab)`` sampling probabilities."""
    return next_token_distribution(logits, temperature, top_k)


def chain_table(paths: list[list[int]], vocab: int, seed: int) -> torch.Tensor:
    """A ``(len(paths), vocab, vocab)`` table of small random scores in which sentence
    ``b`` follows ``paths[b]`` greedily (each step along the path gets +5)."""
    generator = torch.Generator().manual_seed(seed)
    table = torch.randn(len(paths), vocab, vocab, generator=generator)
    for b, path in enumerate(paths):
        for previous, following in zip(path, path[1:]):
            table[b, previous, following] += 5.0
    return table


def _random_table(batch: int, vocab: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, vocab, vocab, generator=generator)


def _greedy_cases() -> list[Case]:
    return [
        Case("one sentence, 4 steps", (_random_table(1, 6, 0), 1, 4)),
        Case("batch of 3, 6 steps", (_random_table(3, 8, 1), 1, 6)),
        Case("start id 5, 1 step", (_random_table(2, 7, 2), 5, 1)),
    ]


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


def _sampling_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(7)
    logits = torch.randn(3, 10, generator=generator) * 2
    return [
        Case("temperature 1, no top-k", (logits, 1.0, None)),
        Case("temperature 0.5 sharpens", (logits, 0.5, None)),
        Case("temperature 2 flattens, top-3", (logits, 2.0, 3)),
        Case("top-1 is greedy", (logits, 1.0, 1)),
        Case("top-k larger than the vocabulary", (logits, 1.0, 50)),
    ]


EXERCISES = [
    Exercise(
        id="ch05_greedy_loop",
        chapter=5,
        title="Write the greedy decoding loop",
        function="greedy_loop",
        reference=reference_greedy_loop,
        cases=_greedy_cases,
        points=2,
        hint=(
            "Start from a (batch, 1) tensor filled with start_id (dtype torch.long). At each "
            "step look up table[b, last token of sentence b] for every b, take the argmax over "
            "the vocabulary, append it as a new column, and return the columns after <start>."
        ),
    ),
    Exercise(
        id="ch05_stop_at_end",
        chapter=5,
        title="Stop each sentence at <end>",
        function="greedy_loop_with_end",
        reference=reference_greedy_loop_with_end,
        cases=_end_cases,
        points=2,
        hint=(
            "Keep a boolean `finished` of shape (batch,). After choosing the next tokens, "
            "replace them by pad_id where `finished` is already True, append them, then set "
            "finished |= (next_token == end_id). Leave the loop as soon as finished.all()."
        ),
    ),
    Exercise(
        id="ch05_top_k_temperature",
        chapter=5,
        title="Sampling probabilities with temperature and top-k",
        function="top_k_temperature",
        reference=reference_top_k_temperature,
        cases=_sampling_cases,
        points=1,
        hint=(
            "Divide the logits by the temperature; if top_k is not None, set every logit "
            "below the k-th largest of its row to -inf (torch.topk(...).values[:, -1:]); "
            "then softmax over the last dimension. A top_k as large as the vocabulary keeps "
            "every token."
        ),
    ),
]
