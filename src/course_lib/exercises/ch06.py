"""Chapter 6 exercises: the teacher-forcing shift, the label-smoothed loss, the warm-up schedule.

Cases are small tensors and numbers built from a fixed generator, so they are the same on
every machine. The references are the ``course_lib.train`` functions the chapter builds
(``<pad>`` = 0, ``<start>`` = 1, ``<end>`` = 2).
"""

from __future__ import annotations

import torch

from course_lib.exercises.core import Case, Exercise
from course_lib.train import label_smoothed_cross_entropy, noam_schedule, teacher_forcing


def reference_shift_for_teacher_forcing(tgt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(decoder_input, labels)`` = ``(<start> + tgt, tgt + <end>)``, per row, padding kept."""
    return teacher_forcing(tgt)


def _shift_cases() -> list[Case]:
    return [
        Case("one sentence: J' aime la pizza", (torch.tensor([[11, 12, 13, 14]]),)),
        Case(
            "a padded batch: <end> goes after each row's last word",
            (torch.tensor([[11, 12, 13, 14], [21, 22, 0, 0], [31, 32, 33, 0]]),),
        ),
        Case("a row that is all padding", (torch.tensor([[5, 6], [0, 0]]),)),
        Case("one-word sentences", (torch.tensor([[7], [8], [9]]),)),
    ]


def reference_smoothed_loss(
    logits: torch.Tensor, labels: torch.Tensor, smoothing: float
) -> torch.Tensor:
    """Label-smoothed cross-entropy, mean over non-padding labels; equal to
    ``F.cross_entropy(label_smoothing=...)`` wherever that is finite, 0 for padding only, and
    no smoothing mass on a class whose logit is -inf."""
    return label_smoothed_cross_entropy(logits, labels, smoothing, ignore_index=0)


def _loss_cases() -> list[Case]:
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(2, 4, 7, generator=g) * 2
    labels = torch.tensor([[3, 4, 2, 0], [5, 2, 0, 0]])
    return [
        Case("no smoothing = plain cross-entropy", (logits, labels, 0.0)),
        Case("smoothing 0.1, padding ignored", (logits, labels, 0.1)),
        Case("smoothing 1: a uniform target", (logits, labels, 1.0)),
        Case(
            "a batch of padding only: 0, not nan",
            (logits, torch.zeros(2, 4, dtype=torch.long), 0.1),
        ),
        Case(
            "huge logits: the full loss (about 19,000), nothing clamped",
            (torch.tensor([[[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]]]), torch.tensor([[1, 0]]), 0.1),
        ),
        Case(
            "a class with logit -inf: finite, no smoothing mass on that class",
            (torch.tensor([[[0.0, float("-inf"), 1.0, 2.0]]]), torch.tensor([[3]]), 0.1),
        ),
        Case(
            "two classes", (torch.tensor([[[0.5, -0.5], [2.0, 1.0]]]), torch.tensor([[1, 1]]), 0.2)
        ),
    ]


def reference_noam_lr(step: int, d_model: int, warmup_steps: int) -> float:
    """The paper's learning rate: d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)."""
    return noam_schedule(step, d_model, warmup_steps)


def _noam_cases() -> list[Case]:
    return [
        Case("the first step", (1, 512, 4000)),
        Case("during warm-up", (1000, 512, 4000)),
        Case("the peak", (4000, 512, 4000)),
        Case("after warm-up: 1/sqrt(step)", (16000, 512, 4000)),
        Case("the chapter's small model", (250, 128, 100)),
    ]


EXERCISES = [
    Exercise(
        id="ch06_teacher_forcing",
        chapter=6,
        title="Shift a target batch for teacher forcing",
        function="shift_for_teacher_forcing",
        reference=reference_shift_for_teacher_forcing,
        cases=_shift_cases,
        points=2,
        hint=(
            "The decoder input is a column of <start> (1) followed by tgt. The labels are tgt "
            "followed by a column of padding (0), with <end> (2) written at position "
            "lengths[i] of row i, where lengths = (tgt != 0).sum(dim=1). Both are one longer "
            "than tgt."
        ),
    ),
    Exercise(
        id="ch06_smoothed_loss",
        chapter=6,
        title="Cross-entropy with label smoothing that ignores padding",
        function="smoothed_loss",
        reference=reference_smoothed_loss,
        cases=_loss_cases,
        points=3,
        hint=(
            "log_probs = logits.float().log_softmax(-1): never log(softmax), which gives "
            "-inf, and no clamp, which changes the loss of very wrong tokens. Per token: "
            "(1 - smoothing) * -log_probs[label] + smoothing * the mean of -log_probs over "
            "the classes that are not -inf (impossible = torch.isneginf(log_probs); sum "
            "-log_probs with those set to 0, divide by V minus their number). Keep the "
            "tokens whose label is not 0, sum them, and divide by max(number kept, 1) so "
            "that a batch of padding gives 0."
        ),
        atol=1e-4,
        rtol=1e-4,
    ),
    Exercise(
        id="ch06_noam_lr",
        chapter=6,
        title="The warm-up + inverse-square-root learning rate",
        function="noam_lr",
        reference=reference_noam_lr,
        cases=_noam_cases,
        points=1,
        hint="d_model ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5), a Python float.",
        atol=1e-12,
        rtol=1e-9,
    ),
]
