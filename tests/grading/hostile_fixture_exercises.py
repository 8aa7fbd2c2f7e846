"""A small exercise registry for the hostile-class grading test (independent of chapters).

* ``hx_causal``: the reference *is* a library function (``course_lib.masks.causal_mask``),
  so the grader stubs it in the sandbox; it lists nothing as forbidden, so only the
  run-time defence can catch a student who calls it.
* ``hx_softmax``: the student writes a masked softmax; ``course_lib.attention.masked_softmax``
  is forbidden.
* ``hx_count``: fresh and (in the test) private cases.
* ``hx_shape``: a checkpoint question.
"""

from __future__ import annotations

import random

import torch

from course_lib.exercises import Case, Exercise
from course_lib.masks import causal_mask


def causal_cases() -> list[Case]:
    return [Case("one", (1,)), Case("three", (3,))]


def causal_fresh(seed: int) -> list[Case]:
    rng = random.Random(seed)
    return [Case(f"size {n}", (n,)) for n in rng.sample(range(4, 12), 3)]


def reference_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    return weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)


def _softmax_case(name: str, generator: torch.Generator, rows: int, cols: int) -> Case:
    scores = torch.randn(rows, cols, generator=generator)
    mask = torch.rand(rows, cols, generator=generator) > 0.3
    mask[0] = False
    return Case(name, (scores, mask))


def softmax_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(0)
    return [_softmax_case("small", generator, 2, 3), _softmax_case("wide", generator, 3, 6)]


def softmax_fresh(seed: int) -> list[Case]:
    generator = torch.Generator().manual_seed(seed)
    return [_softmax_case(f"random {i}", generator, 2 + i, 4 + i) for i in range(3)]


def reference_count(sentence: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in sentence.lower().split():
        counts[word] = counts.get(word, 0) + 1
    return counts


WORDS = ["la", "pizza", "le", "chat", "I", "love", "the", "CAT", "mange"]


def count_cases() -> list[Case]:
    return [Case("pizza", ("I love pizza",)), Case("repeats", ("la pizza la pizza LA",))]


def count_fresh(seed: int) -> list[Case]:
    rng = random.Random(seed)
    return [
        Case(f"sentence {i}", (" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))),))
        for i in range(3)
    ]


def reference_shape() -> tuple[int, ...]:
    return (2, 8, 5, 64)


EXERCISES = [
    Exercise(
        id="hx_causal",
        chapter=1,
        title="A causal mask",
        function="causal",
        reference=causal_mask,
        cases=causal_cases,
        fresh_cases=causal_fresh,
        points=2,
        hint="query i may see keys 0..i",
    ),
    Exercise(
        id="hx_softmax",
        chapter=1,
        title="Masked softmax",
        function="masked",
        reference=reference_softmax,
        cases=softmax_cases,
        fresh_cases=softmax_fresh,
        points=2,
        hint="masked entries get no weight; a fully masked row is zeros",
        forbidden=("course_lib.attention.masked_softmax",),
    ),
    Exercise(
        id="hx_count",
        chapter=1,
        title="Count words",
        function="count_words",
        reference=reference_count,
        cases=count_cases,
        fresh_cases=count_fresh,
        points=1,
        kind="practice",
        hint="lower-case, split on spaces",
    ),
    Exercise(
        id="hx_shape",
        chapter=1,
        title="Shape after splitting heads",
        function="ANSWER",
        reference=reference_shape,
        cases=lambda: [Case("answer")],
        points=1,
        kind="checkpoint",
        hint="(batch, heads, seq_len, d_head)",
        explanation="d_model 512 split into 8 heads gives d_head 64; batch 2, 5 tokens.",
    ),
]
