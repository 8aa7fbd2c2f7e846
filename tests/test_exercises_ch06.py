"""Chapter 6 exercises: registered, references pass their own cases, the notebook's solutions
pass in a fresh namespace, and typical wrong answers fail with a helpful message."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from exercise_helpers import run_solution_alone

from course_lib.exercises import ExerciseFailed, all_exercises, check, expected_outputs
from course_lib.exercises.ch06 import EXERCISES

NOTEBOOK = Path(__file__).resolve().parent.parent / "chapters" / "06_training.ipynb"


def test_registered_with_stable_ids():
    registry = all_exercises()
    assert [e.id for e in EXERCISES] == [
        "ch06_teacher_forcing",
        "ch06_smoothed_loss",
        "ch06_noam_lr",
    ]
    for exercise in EXERCISES:
        assert registry[exercise.id] is exercise
        assert exercise.chapter == 6 and exercise.points > 0 and exercise.hint


def _finite(value) -> bool:
    if isinstance(value, torch.Tensor):
        return not value.is_floating_point() or bool(torch.isfinite(value).all())
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_reference_passes_its_own_cases_deterministically(exercise):
    first, second = expected_outputs(exercise), expected_outputs(exercise)
    assert len(first) >= 4
    for (case, a), (_, b) in zip(first, second):
        assert _finite(a), f"{case.name}: the reference gave inf/nan"
        if isinstance(a, float):
            assert a == b
        else:
            torch.testing.assert_close(a, b, msg=case.name)
    check(exercise, exercise.reference)


def test_expected_values_by_hand():
    refs = {e.id: e.reference for e in EXERCISES}
    decoder_input, labels = refs["ch06_teacher_forcing"](torch.tensor([[11, 12], [21, 0]]))
    assert decoder_input.tolist() == [[1, 11, 12], [1, 21, 0]]
    assert labels.tolist() == [[11, 12, 2], [21, 2, 0]]
    logits = torch.tensor([[0.0, 0.0, math.log(2.0)]])
    assert refs["ch06_smoothed_loss"](logits, torch.tensor([2]), 0.0).item() == pytest.approx(
        -math.log(0.5)
    )
    assert refs["ch06_smoothed_loss"](logits, torch.tensor([0]), 0.1).item() == 0.0
    extreme = torch.tensor([[0.0, 1e4, -1e4, 5.0]])  # -log p_y = 20,000: no floor at -100
    assert refs["ch06_smoothed_loss"](extreme, torch.tensor([2]), 0.1).item() == pytest.approx(
        F.cross_entropy(extreme, torch.tensor([2]), label_smoothing=0.1).item(), rel=1e-6
    )
    assert refs["ch06_noam_lr"](4000, 512, 4000) == pytest.approx((512 * 4000) ** -0.5)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_the_chapter_solution_passes_in_a_fresh_namespace(exercise):
    run_solution_alone(exercise, NOTEBOOK)


def _shift_without_per_row_end(tgt):
    start = torch.ones(tgt.size(0), 1, dtype=tgt.dtype)
    end = torch.full((tgt.size(0), 1), 2, dtype=tgt.dtype)
    return torch.cat([start, tgt], 1), torch.cat([tgt, end], 1)  # <end> after the padding


def _loss_with_log_of_softmax(logits, labels, smoothing):
    log_probs = logits.softmax(-1).log()  # -inf for tiny probabilities
    keep = labels != 0
    nll = -log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    loss = (1 - smoothing) * nll + smoothing * -log_probs.mean(-1)
    return loss[keep].sum() / keep.sum().clamp(min=1)


def _loss_clamped_at_minus_100(logits, labels, smoothing):
    log_probs = logits.float().log_softmax(-1).clamp(min=-100.0)  # the old, wrong floor
    keep = labels != 0
    nll = -log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    loss = (1 - smoothing) * nll + smoothing * -log_probs.mean(-1)
    return torch.where(keep, loss, torch.zeros_like(loss)).sum() / keep.sum().clamp(min=1)


def _loss_smoothing_over_impossible_classes(logits, labels, smoothing):
    log_probs = logits.float().log_softmax(-1)  # right, but -inf classes get mass eps / V
    keep = labels != 0
    nll = -log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    loss = (1 - smoothing) * nll + smoothing * -log_probs.mean(-1)
    return torch.where(keep, loss, torch.zeros_like(loss)).sum() / keep.sum().clamp(min=1)


def _loss_dividing_by_all_tokens(logits, labels, smoothing):
    return (
        F.cross_entropy(
            logits.reshape(-1, logits.size(-1)),
            labels.reshape(-1),
            ignore_index=0,
            label_smoothing=smoothing,
            reduction="sum",
        )
        / labels.numel()
    )


def _noam_without_warmup(step, d_model, warmup_steps):
    return d_model**-0.5 * step**-0.5


@pytest.mark.parametrize(
    "exercise_id, wrong, fragment",
    [
        ("ch06_teacher_forcing", _shift_without_per_row_end, "values differ"),
        ("ch06_smoothed_loss", _loss_with_log_of_softmax, "case"),
        ("ch06_smoothed_loss", _loss_dividing_by_all_tokens, "values differ"),
        ("ch06_smoothed_loss", _loss_clamped_at_minus_100, "huge logits"),
        ("ch06_smoothed_loss", _loss_smoothing_over_impossible_classes, "logit -inf"),
        ("ch06_noam_lr", _noam_without_warmup, "expected"),
    ],
)
def test_typical_mistakes_fail_with_a_hint(exercise_id, wrong, fragment):
    with pytest.raises(ExerciseFailed) as error:
        check(exercise_id, wrong)
    message = str(error.value)
    assert fragment in message and "Hint:" in message


def test_not_implemented_says_so():
    def stub(tgt):
        raise NotImplementedError()

    with pytest.raises(ExerciseFailed, match="not implemented yet"):
        check("ch06_teacher_forcing", stub)
