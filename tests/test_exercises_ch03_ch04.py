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
    assert [e.id for e in CH03] == [
        "ch03_score_std_checkpoint",
        "ch03_heads_shape",
        "ch03_masked_softmax",
        "ch03_local_attention",
    ]
    assert [e.id for e in CH04] == [
        "ch04_visible_checkpoint",
        "ch04_target_mask",
        "ch04_layer_parameters",
        "ch04_decoder_layer",
    ]
    for exercise in EXERCISES:
        assert registry[exercise.id] is exercise
        assert exercise.chapter == int(exercise.id[2:4])
        assert exercise.points > 0 and exercise.hint


FUNCTIONS = [e for e in EXERCISES if e.kind != "checkpoint"]


@pytest.mark.parametrize("exercise", FUNCTIONS, ids=lambda e: e.id)
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
    assert refs["ch03_masked_softmax"](
        torch.zeros(1, 3), torch.tensor([[True, True, False]])
    ).tolist() == [[0.5, 0.5, 0.0]]
    _, weights = refs["ch03_local_attention"](
        torch.zeros(3, 2), torch.zeros(3, 2), torch.arange(3.0).view(3, 1), 1
    )
    torch.testing.assert_close(
        weights, torch.tensor([[1 / 2, 1 / 2, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.0, 1 / 2, 1 / 2]])
    )
    assert refs["ch04_target_mask"](torch.tensor([[1, 0]]), 0).tolist() == [
        [[[True, False], [True, False]]]
    ]
    d, d_ff = 512, 2048
    by_hand = 2 * (4 * d * d + 4 * d) + (2 * d * d_ff + d_ff + d) + 3 * 2 * d
    assert refs["ch04_layer_parameters"](d, 8, d_ff) == by_hand
    assert refs["ch04_layer_parameters"](d, 1, d_ff) == by_hand  # heads add no weights
    # the checkpoints' answers, from the library
    from course_lib.masks import causal_mask, combine_masks, padding_mask

    tgt = torch.tensor([[1, 46, 22, 0, 0]])
    visible = combine_masks(padding_mask(tgt), causal_mask(5))[0, 0, 4]
    assert visible.nonzero().flatten().tolist() == refs["ch04_visible_checkpoint"]()
    q = torch.randn(2, 5, 512).view(2, 5, 8, 64).transpose(1, 2)
    assert tuple(q.shape) == refs["ch03_heads_shape"]()
    scores = (torch.randn(20000, 256) * torch.randn(20000, 256)).sum(-1)
    assert abs(scores.std().item() - refs["ch03_score_std_checkpoint"]()) < 0.5


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_the_chapter_solution_passes_in_a_fresh_namespace(exercise):
    run_solution_alone(exercise, NOTEBOOKS[exercise.chapter])


def _naive_softmax(scores, mask):
    e = scores.exp() * mask
    return e / e.sum(-1, keepdim=True).clamp_min(1e-30)


def _nan_softmax(scores, mask):
    return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)


def _full_attention(q, k, v, window):
    weights = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)
    return weights @ v, weights


def _one_sided_window(q, k, v, window):
    i = torch.arange(q.size(-2))
    near = ((i[:, None] - i[None, :]) <= window) & (i[None, :] <= i[:, None])
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(~near, float("-inf"))
    weights = scores.softmax(-1)
    return weights @ v, weights


def _not_implemented(*args):
    raise NotImplementedError()


@pytest.mark.parametrize(
    ("exercise_id", "function", "message"),
    [
        ("ch03_masked_softmax", _naive_softmax, "large scores"),
        ("ch03_masked_softmax", _nan_softmax, "contains NaN"),
        ("ch03_local_attention", _full_attention, "values differ.*one more mask"),
        ("ch03_local_attention", _one_sided_window, "values differ"),
        (
            "ch04_target_mask",
            lambda t, p: (t != p)[:, None, None, :].expand(-1, 1, t.size(1), -1),
            "values differ.*broadcast",
        ),
        (
            "ch04_layer_parameters",
            lambda d, h, f: 2 * 4 * d * d + 2 * d * f,
            "expected 4204032, got 4194304.*Hint: List the",
        ),
        (
            "ch04_layer_parameters",
            lambda d, h, f: 2 * 4 * (d * d // h + d) * h // h + 2 * d * f + f + d + 6 * d - 1,
            "Hint",
        ),
        ("ch04_decoder_layer", lambda x, m, s, mm, w, h: x, "values differ.*three sub-layers"),
        ("ch04_decoder_layer", _not_implemented, "not implemented yet"),
    ],
)
def test_wrong_answers_fail_with_a_hint(exercise_id, function, message):
    with pytest.raises(ExerciseFailed, match=f"(?s){exercise_id}.*{message}"):
        check(exercise_id, function)


@pytest.mark.parametrize(
    ("exercise_id", "wrong", "right"),
    [
        ("ch03_score_std_checkpoint", 256, 16),
        ("ch03_score_std_checkpoint", 1, 16.0),
        ("ch03_heads_shape", (2, 5, 8, 64), [2, 8, 5, 64]),
        ("ch03_heads_shape", (2, 8, 5, 512), (2, 8, 5, 64)),
        ("ch04_visible_checkpoint", [0, 1, 2, 3, 4], (0, 1, 2)),
        ("ch04_visible_checkpoint", [], [0, 1, 2]),
    ],
)
def test_checkpoints(exercise_id, wrong, right):
    with pytest.raises(ExerciseFailed, match="not quite"):
        check(exercise_id, wrong)
    check(exercise_id, right)
