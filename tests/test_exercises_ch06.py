"""Hidden tests for the exercises of chapter 6 (two checkpoints, label smoothing towards a
prior, a warm-up + linear-decay schedule); see also test_exercise_design.py.

- every registered reference passes its own cases, and the cases are deterministic;
- the checkpoint answers follow from the library (``teacher_forcing``) and from the loss;
- the prior-smoothed loss with a uniform prior is the chapter's label-smoothed loss, and
  ``F.cross_entropy(label_smoothing=...)``;
- the master notebook's solution cells, run alone in a fresh namespace (as the grader runs
  them), pass the self-check; the student version says "not implemented" / "no answer yet";
- typical wrong answers fail with a message that gives the hint.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import CHAPTERS_DIR
from exercise_helpers import (
    assert_cases_deterministic,
    assert_rejected_with_hint,
    assert_solution_followed_by_its_self_check,
    assert_student_version_says_not_implemented,
    run_solution_alone,
)

from course_lib.exercises import ExerciseFailed, ch06, check
from course_lib.loss import label_smoothed_cross_entropy, teacher_forcing

EXERCISES = {exercise.id: exercise for exercise in ch06.EXERCISES}
FUNCTIONS = [i for i, e in EXERCISES.items() if e.kind != "checkpoint"]
NOTEBOOK = CHAPTERS_DIR / "06_training.ipynb"


def test_registered_with_stable_ids():
    assert list(EXERCISES) == [
        "ch06_labels_checkpoint",
        "ch06_uniform_loss_checkpoint",
        "ch06_prior_smoothed_loss",
        "ch06_warmup_linear_lr",
    ]
    assert all(e.chapter == 6 and e.id.startswith("ch06_") for e in EXERCISES.values())


@pytest.mark.parametrize("exercise_id", FUNCTIONS)
def test_reference_passes_its_own_cases(exercise_id, capsys):
    exercise = EXERCISES[exercise_id]
    check(exercise, exercise.reference)
    assert f"✓ {exercise_id}" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", FUNCTIONS)
def test_cases_are_deterministic(exercise_id):
    assert_cases_deterministic(EXERCISES[exercise_id])


def test_checkpoint_answers_follow_from_the_library():
    _, labels = teacher_forcing(torch.tensor([[11, 12, 13], [21, 0, 0]]))
    assert labels.tolist() == ch06.reference_labels_checkpoint() == [[11, 12, 13, 2], [21, 2, 0, 0]]
    uniform = torch.zeros(1, 1, 1000)
    loss = label_smoothed_cross_entropy(uniform, torch.tensor([[5]]), 0.0)
    assert math.isclose(float(loss), ch06.reference_uniform_loss_checkpoint(), rel_tol=1e-6)


@pytest.mark.parametrize(
    ("exercise_id", "wrong", "right"),
    [
        (
            "ch06_labels_checkpoint",
            [[11, 12, 13, 0], [21, 0, 0, 0]],
            [[11, 12, 13, 2], [21, 2, 0, 0]],
        ),
        (
            "ch06_labels_checkpoint",
            [[1, 11, 12, 13], [1, 21, 0, 0]],
            ((11, 12, 13, 2), (21, 2, 0, 0)),
        ),
        ("ch06_uniform_loss_checkpoint", 1000.0, math.log(1000)),
        ("ch06_uniform_loss_checkpoint", 0.001, 6.907755278982137),
    ],
)
def test_checkpoints(exercise_id, wrong, right):
    with pytest.raises(ExerciseFailed, match="not quite"):
        check(EXERCISES[exercise_id], wrong)
    check(EXERCISES[exercise_id], right)


def test_a_uniform_prior_is_the_chapters_label_smoothing():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 11, generator=g) * 4
    labels = torch.randint(1, 11, (3, 5), generator=g)
    labels[1, 3:] = 0
    uniform = torch.full((11,), 1 / 11)
    ours = ch06.reference_prior_smoothed_loss(logits, labels, 0.1, uniform)
    torch.testing.assert_close(ours, label_smoothed_cross_entropy(logits, labels, 0.1))
    torch.testing.assert_close(
        ours, F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=0, label_smoothing=0.1)
    )


def test_schedule_peaks_then_falls_to_zero():
    lr = [ch06.reference_warmup_linear_lr(s, 1e-3, 10, 50) for s in range(0, 60)]
    assert lr[0] == 0.0 and max(lr) == lr[10] == 1e-3
    assert all(a <= b for a, b in zip(lr[:10], lr[1:11]))
    assert all(a >= b for a, b in zip(lr[10:50], lr[11:51]))
    assert lr[50:] == [0.0] * 10


# --- the master notebook --------------------------------------------------------------------


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_master_notebook_solution_passes_in_a_fresh_namespace(exercise_id, capsys):
    exercise = EXERCISES[exercise_id]
    run_solution_alone(exercise, NOTEBOOK)
    assert f"✓ {exercise_id}" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_solution_cell_is_followed_by_its_self_check(exercise_id):
    assert_solution_followed_by_its_self_check(EXERCISES[exercise_id], NOTEBOOK)


@pytest.mark.parametrize("exercise_id", FUNCTIONS)
def test_student_version_says_not_implemented(exercise_id):
    assert_student_version_says_not_implemented(EXERCISES[exercise_id], NOTEBOOK)


# --- wrong answers ----------------------------------------------------------------------------


def prior_loss_with_log_of_softmax(logits, labels, smoothing, prior):
    log_probs = logits.float().softmax(-1).log()  # -inf for very unlikely tokens
    nll = -log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    per_token = (1 - smoothing) * nll - smoothing * (log_probs * prior).sum(-1)
    real = labels != 0
    return per_token[real].sum() / real.sum().clamp(min=1)


def prior_loss_counting_padding(logits, labels, smoothing, prior):
    log_probs = logits.float().log_softmax(-1)
    nll = -log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    per_token = (1 - smoothing) * nll - smoothing * (log_probs * prior).sum(-1)
    return per_token.mean()  # padding positions count too


def prior_loss_ignoring_the_prior(logits, labels, smoothing, prior):
    return F.cross_entropy(
        logits.transpose(1, 2), labels, ignore_index=0, label_smoothing=smoothing
    )


def schedule_without_decay(step, peak_lr, warmup_steps, total_steps):
    return peak_lr * min(1.0, step / warmup_steps) if warmup_steps else peak_lr


def schedule_that_goes_negative(step, peak_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return peak_lr * step / warmup_steps
    return peak_lr * (total_steps - step) / (total_steps - warmup_steps)


WRONG = [
    ("ch06_prior_smoothed_loss", prior_loss_with_log_of_softmax),
    ("ch06_prior_smoothed_loss", prior_loss_counting_padding),
    ("ch06_prior_smoothed_loss", prior_loss_ignoring_the_prior),
    ("ch06_warmup_linear_lr", schedule_without_decay),
    ("ch06_warmup_linear_lr", schedule_that_goes_negative),
]


@pytest.mark.parametrize(("exercise_id", "wrong"), WRONG, ids=[w.__name__ for _, w in WRONG])
def test_wrong_answer_fails_with_expected_and_hint(exercise_id, wrong):
    assert_rejected_with_hint(EXERCISES[exercise_id], wrong)
