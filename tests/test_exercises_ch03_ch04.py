"""Chapters 3 and 4 exercises: registered, references pass their own cases, the notebooks'
solutions pass in a fresh namespace, and typical wrong answers fail with a helpful message."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from exercise_helpers import run_solution_alone

from course_lib.exercises import ExerciseFailed, all_exercises, check, expected_outputs
from course_lib.exercises.ch03 import EXERCISES as CH03
from course_lib.exercises.ch04 import EXERCISES as CH04

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"
NOTEBOOKS = {3: CHAPTERS / "03_encoder.ipynb", 4: CHAPTERS / "04_decoder.ipynb"}
EXERCISES = CH03 + CH04


def test_registered_with_stable_ids():
    registry = all_exercises()
    assert [e.id for e in CH03] == ["ch03_attention", "ch03_split_heads", "ch03_masked_softmax"]
    assert [e.id for e in CH04] == ["ch04_causal_mask", "ch04_target_mask", "ch04_decoder_layer"]
    for exercise in EXERCISES:
        assert registry[exercise.id] is exercise
        assert exercise.chapter == int(exercise.id[2:4])
        assert exercise.points > 0 and exercise.hint


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_reference_passes_its_own_cases_deterministically(exercise):
    first, second = expected_outputs(exercise), expected_outputs(exercise)
    assert len(first) >= 3
    for (case, a), (_, b) in zip(first, second):
        assert not _has_nan(a), case.name
        torch.testing.assert_close(a, b, msg=case.name)
    check(exercise, exercise.reference)


def _has_nan(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.is_floating_point() and bool(torch.isnan(value).any())
    if isinstance(value, (list, tuple)):
        return any(_has_nan(v) for v in value)
    return False


def test_expected_values_by_hand():
    refs = {e.id: e.reference for e in EXERCISES}
    out, weights = refs["ch03_attention"](
        torch.tensor([[1.0, 0.0]]),
        torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
        torch.tensor([[10.0], [20.0]]),
        torch.tensor([[True, False]]),
    )
    assert weights.tolist() == [[1.0, 0.0]] and out.tolist() == [[10.0]]
    e = math.exp(1 / math.sqrt(2))
    _, weights = refs["ch03_attention"](
        torch.tensor([[1.0, 0.0]]),
        torch.tensor([[1.0, 0.0], [0.0, 1.0]]),
        torch.tensor([[10.0], [20.0]]),
        None,
    )
    torch.testing.assert_close(weights, torch.tensor([[e / (e + 1), 1 / (e + 1)]]))
    assert refs["ch03_split_heads"](torch.arange(4.0).view(1, 1, 4), 2).tolist() == [
        [[[0.0, 1.0]], [[2.0, 3.0]]]
    ]
    assert refs["ch03_masked_softmax"](
        torch.zeros(1, 3), torch.tensor([[True, True, False]])
    ).tolist() == [[0.5, 0.5, 0.0]]
    assert refs["ch04_causal_mask"](2).tolist() == [[[[True, False], [True, True]]]]
    assert refs["ch04_target_mask"](torch.tensor([[1, 0]]), 0).tolist() == [
        [[[True, False], [True, False]]]
    ]


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_the_chapter_solution_passes_in_a_fresh_namespace(exercise):
    run_solution_alone(exercise, NOTEBOOKS[exercise.chapter])


def _no_sqrt_attention(q, k, v, mask):
    scores = q @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(-1).nan_to_num(0.0)
    return weights @ v, weights


def _nan_attention(q, k, v, mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(-1)
    return weights @ v, weights


def _naive_softmax(scores, mask):
    e = scores.exp() * mask
    return e / e.sum(-1, keepdim=True).clamp_min(1e-30)


def _not_implemented(*args):
    raise NotImplementedError()


@pytest.mark.parametrize(
    ("exercise_id", "function", "message"),
    [
        ("ch03_attention", _no_sqrt_attention, "values differ.*Hint: scores = q @ k"),
        ("ch03_attention", _nan_attention, "contains NaN"),
        (
            "ch03_split_heads",
            lambda x, h: x.reshape(x.size(0), h, x.size(1), -1),
            "values differ.*mixes words between heads",
        ),
        ("ch03_masked_softmax", _naive_softmax, "large scores"),
        (
            "ch04_causal_mask",
            lambda n: torch.ones(n, n, dtype=torch.bool).tril(),
            r"expected shape \(1, 1, 1, 1\)",
        ),
        (
            "ch04_causal_mask",
            lambda n: torch.ones(1, 1, n, n, dtype=torch.bool).triu(),
            "values differ",
        ),
        (
            "ch04_target_mask",
            lambda t, p: (t != p)[:, None, None, :].expand(-1, 1, t.size(1), -1),
            "values differ.*logical AND",
        ),
        ("ch04_decoder_layer", lambda x, m, s, mm, w, h: x, "values differ.*Three sub-layers"),
        ("ch04_decoder_layer", _not_implemented, "not implemented yet"),
    ],
)
def test_wrong_answers_fail_with_a_hint(exercise_id, function, message):
    with pytest.raises(ExerciseFailed, match=f"(?s){exercise_id}.*{message}"):
        check(exercise_id, function)
