"""A tiny exercise registry for the grading tests (independent of the chapters).

Passed explicitly to the grader (``--registry grading_fixture_exercises``), so the
grading machinery is tested even before, or apart from, the chapters' own exercises.
"""

from __future__ import annotations

import torch

from course_lib.exercises import Case, Exercise


def _scale_reference(x: torch.Tensor, factor: float) -> torch.Tensor:
    return x * factor


def _scale_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(0)
    return [
        Case("small", (torch.randn(2, 3, generator=generator), 2.0)),
        Case("negative", (torch.randn(4, generator=generator), -0.5)),
        Case("integer", (torch.arange(6).reshape(2, 3), 3)),
    ]


def _softmax_reference(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=-1)


def _softmax_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(1)
    return [
        Case("rows", (torch.randn(3, 5, generator=generator),)),
        Case("large values", (torch.tensor([[1000.0, 1001.0, 1002.0]]),)),
    ]


def _count_reference(sentence: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in sentence.lower().split():
        counts[word] = counts.get(word, 0) + 1
    return counts


def _count_cases() -> list[Case]:
    return [
        Case("pizza", ("I love pizza",)),
        Case("repeats", ("la pizza la pizza LA",)),
    ]


EXERCISES = [
    Exercise(
        id="fx_scale",
        chapter=1,
        title="Scale a tensor",
        function="scale",
        reference=_scale_reference,
        cases=_scale_cases,
        points=3,
        hint="multiply every element by factor",
    ),
    Exercise(
        id="fx_softmax",
        chapter=1,
        title="Softmax over the last dimension",
        function="row_softmax",
        reference=_softmax_reference,
        cases=_softmax_cases,
        points=2,
        hint="subtract the row maximum before exp for stability",
        forbidden=("torch.softmax", "torch.nn.functional.softmax", "torch.Tensor.softmax"),
    ),
    Exercise(
        id="fx_count",
        chapter=2,
        title="Count words",
        function="count_words",
        reference=_count_reference,
        cases=_count_cases,
        points=1,
        hint="lower-case, split on spaces",
    ),
]
