"""Chapter 6 exercises: two checkpoints (the teacher-forcing labels, the loss of a uniform
guess), label smoothing towards a prior distribution, and a warm-up + linear-decay
learning-rate schedule.

Cases are small tensors and numbers built from a fixed generator, so they are the same on
every machine; ``fresh_cases(seed)`` draws new ones of the same kind at grade time
(``<pad>`` = 0, ``<start>`` = 1, ``<end>`` = 2).
"""

from __future__ import annotations

import math
import random

import torch

from course_lib.exercises.core import Case, Exercise
from course_lib.loss import teacher_forcing


def _answer() -> list[Case]:
    return [Case("answer")]


def reference_labels_checkpoint() -> list[list[int]]:
    """The labels of ``tgt = [[11, 12, 13], [21, 0, 0]]`` under teacher forcing."""
    return teacher_forcing(torch.tensor([[11, 12, 13], [21, 0, 0]]))[1].tolist()


def reference_uniform_loss_checkpoint() -> float:
    """The cross-entropy of a uniform guess over 1000 tokens: log 1000."""
    return math.log(1000)


# --- label smoothing towards a prior ----------------------------------------------------------


def reference_prior_smoothed_loss(
    logits: torch.Tensor, labels: torch.Tensor, smoothing: float, prior: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy against the target ``(1 - smoothing) * one_hot(label) + smoothing *
    prior``, averaged over the positions whose label is not ``<pad>`` (0 if there are none)."""
    log_probs = logits.float().log_softmax(dim=-1)  # (batch, seq, V)
    nll = -log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # (batch, seq)
    towards_prior = -(log_probs * prior.float()).sum(dim=-1)  # (batch, seq)
    per_token = (1.0 - smoothing) * nll + smoothing * towards_prior
    kept = per_token[labels != 0]  # (number of real tokens,)
    return kept.sum() / max(kept.numel(), 1)


def _prior(weights: list[float]) -> torch.Tensor:
    prior = torch.tensor(weights)
    return prior / prior.sum()


def _prior_cases() -> list[Case]:
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(2, 4, 6, generator=g) * 2
    labels = torch.tensor([[3, 4, 2, 0], [5, 2, 0, 0]])
    unigram = _prior([0.0, 0.0, 4.0, 3.0, 2.0, 1.0])  # never <pad> or <start>
    return [
        Case("smoothing 0: plain cross-entropy", (logits, labels, 0.0, unigram)),
        Case("smoothing 0.1 towards word frequencies", (logits, labels, 0.1, unigram)),
        Case(
            "a uniform prior over all six tokens",
            (logits, labels, 0.1, torch.full((6,), 1 / 6)),
        ),
        Case("smoothing 1: the prior is the whole target", (logits, labels, 1.0, unigram)),
        Case(
            "a batch of padding only: 0, not nan",
            (logits, torch.zeros(2, 4, dtype=torch.long), 0.1, unigram),
        ),
        Case(
            "huge logits: nothing overflows",
            (
                torch.tensor([[[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]]]),
                torch.tensor([[1, 2]]),
                0.2,
                _prior([0.0, 1.0, 1.0]),
            ),
        ),
    ]


def _fresh_prior_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    batch, seq, vocab = rng.randint(1, 3), rng.randint(1, 5), rng.randint(3, 9)
    logits = torch.randn(batch, seq, vocab, generator=g) * 3
    labels = torch.randint(2, vocab, (batch, seq), generator=g)
    for row in range(batch):
        labels[row, rng.randint(1, seq) :] = 0  # padding at the end of each row
    weights = torch.rand(vocab, generator=g)
    weights[:2] = 0.0  # no mass on <pad> and <start>
    smoothing = rng.choice([0.05, 0.1, 0.2, 0.5])
    return [
        Case(
            f"random batch, smoothing {smoothing} (seed {seed})",
            (logits, labels, smoothing, weights / weights.sum()),
        )
    ]


# --- warm-up, then linear decay ---------------------------------------------------------------


def reference_warmup_linear_lr(
    step: int, peak_lr: float, warmup_steps: int, total_steps: int
) -> float:
    """0 at step 0, rising in a straight line to ``peak_lr`` at ``warmup_steps``, falling in a
    straight line to 0 at ``total_steps``, and 0 afterwards."""
    if step < warmup_steps:
        return peak_lr * step / warmup_steps
    if step >= total_steps:
        return 0.0
    return peak_lr * (total_steps - step) / (total_steps - warmup_steps)


def _schedule_cases() -> list[Case]:
    return [
        Case("step 0", (0, 1e-3, 100, 1000)),
        Case("half-way through warm-up", (50, 1e-3, 100, 1000)),
        Case("the peak", (100, 1e-3, 100, 1000)),
        Case("during the decay", (550, 1e-3, 100, 1000)),
        Case("the last step", (1000, 1e-3, 100, 1000)),
        Case("after the end", (1500, 1e-3, 100, 1000)),
        Case("no warm-up at all", (10, 5e-4, 0, 40)),
    ]


def _fresh_schedule_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    warmup = rng.randint(1, 50)
    total = warmup + rng.randint(1, 200)
    peak = rng.choice([1e-4, 5e-4, 1e-3, 3e-3])
    steps = [
        rng.randint(0, warmup),
        rng.randint(warmup, total),
        rng.randint(total, total + 50),
    ]
    return [
        Case(
            f"step {s}, warm-up {warmup}, total {total} (seed {seed})",
            (s, peak, warmup, total),
        )
        for s in steps
    ]


EXERCISES = [
    Exercise(
        id="ch06_labels_checkpoint",
        chapter=6,
        title="What must the decoder predict?",
        function="ANSWER_CH6_LABELS",
        reference=reference_labels_checkpoint,
        cases=_answer,
        points=1,
        kind="checkpoint",
        minutes=4,
        hint=(
            "At every position the decoder predicts the word that comes next. What comes "
            "after the last word of a sentence, and where is that for the shorter row?"
        ),
        explanation=(
            "[[11, 12, 13, 2], [21, 2, 0, 0]]: the labels are the target followed by <end>, "
            "written right after each row's last real word (so not in the same column for "
            "every row), and padding stays padding, which the loss skips."
        ),
    ),
    Exercise(
        id="ch06_uniform_loss_checkpoint",
        chapter=6,
        title="The loss of a model that knows nothing",
        function="ANSWER_CH6_UNIFORM_LOSS",
        reference=reference_uniform_loss_checkpoint,
        cases=_answer,
        points=1,
        kind="checkpoint",
        minutes=3,
        atol=0.01,
        rtol=0.0,
        hint=(
            "Cross-entropy is minus the log of the probability given to the correct word. "
            "What probability does a uniform guess give to any word?"
        ),
        explanation=(
            "log 1000, about 6.91: a uniform guess gives each word probability 1/1000, and "
            "-log(1/1000) = log 1000, whatever the correct word. A fresh model should start "
            "near log V; a first loss far above it points at a bug in the loss or the labels."
        ),
    ),
    Exercise(
        id="ch06_prior_smoothed_loss",
        chapter=6,
        title="Label smoothing towards a prior distribution",
        function="prior_smoothed_loss",
        reference=reference_prior_smoothed_loss,
        cases=_prior_cases,
        fresh_cases=_fresh_prior_cases,
        points=3,
        minutes=15,
        atol=1e-4,
        rtol=1e-4,
        forbidden=(
            "course_lib.loss.label_smoothed_cross_entropy",
            "course_lib.loss.LabelSmoothingLoss",
            "torch.nn.functional.cross_entropy",
            "torch.nn.CrossEntropyLoss",
            "torch.nn.functional.kl_div",
            "torch.nn.KLDivLoss",
        ),
        hint=(
            "Cross-entropy against a soft target is a weighted sum of -log p over the "
            "vocabulary; the target here has two parts. Which log-probabilities can you "
            "compute without ever taking the log of a probability that underflowed? "
            "Padding positions count neither in the sum nor in the number you divide by."
        ),
        explanation=(
            "The target (1 - eps) one_hot + eps prior splits the loss into (1 - eps) "
            "(-log p_y) and eps (-sum prior * log p). With log_softmax nothing overflows; "
            "with a prior such as word frequencies, the model is pulled towards common words "
            "rather than towards every word equally (Pereyra et al., 2017)."
        ),
    ),
    Exercise(
        id="ch06_warmup_linear_lr",
        chapter=6,
        title="Warm-up, then linear decay",
        function="warmup_linear_lr",
        reference=reference_warmup_linear_lr,
        cases=_schedule_cases,
        fresh_cases=_fresh_schedule_cases,
        points=2,
        minutes=10,
        atol=1e-12,
        rtol=1e-9,
        forbidden=(
            "course_lib.optim.noam_schedule",
            "course_lib.optim.WarmupInverseSqrtSchedule",
            "torch.optim.lr_scheduler",
            "transformers.get_linear_schedule_with_warmup",
        ),
        hint=(
            "Three phases, each a straight line or a constant: find, for each, the two points "
            "it joins. Which phase does a given step fall in, and what about a warm-up of "
            "zero steps?"
        ),
        explanation=(
            "A linear warm-up protects Adam's first steps, whose moment estimates are still "
            "noisy; the linear decay to 0 (used by BERT) replaces the paper's 1/sqrt(step) "
            "tail and ends training at a known step with a learning rate of 0."
        ),
    ),
]
