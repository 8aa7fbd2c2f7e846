"""Step 6f: the training loop - settings, history, and a Trainer that takes the steps.

One step: take the next length-bucketed batch, teacher-force it through the model, compute
the label-smoothed loss per real token, backpropagate, clip the gradients, let Adam move
the weights and the schedule set the next learning rate. :class:`Trainer` repeats that
until a step or time budget is spent; validation, checkpoints, the progress bar, the live
plot and Ctrl-C are callbacks (:mod:`course_lib.callbacks`).

Deterministic for a seed on one machine, and resumable: a checkpoint holds the weights,
the optimiser, the schedule, the random-number generators and the position in the data,
so N steps + resume + N steps equals 2N steps. Under ``torchrun`` each process takes its
share of every batch (:mod:`course_lib.distributed`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from course_lib.batching import BatchStream, EncodedPairs, encode_pairs
from course_lib.callbacks import Callback, default_callbacks, save_training
from course_lib.checkpoint import load_checkpoint, restore_training_state
from course_lib.checks import check_int, check_number
from course_lib.distributed import DistributedContext, shard
from course_lib.errors import CourseLibError
from course_lib.fast import MODES, training_forward
from course_lib.loss import label_smoothed_cross_entropy, teacher_forcing
from course_lib.model import Transformer
from course_lib.optim import WarmupInverseSqrtSchedule, clip_gradients, make_optimizer
from course_lib.runtime import (
    mixed_precision,
    resolve_precision,
    seed_everything,
    select_device,
    set_rng_state,
)
from course_lib.tokenize import PAD
from course_lib.viz import plot_history


@dataclass
class TrainSettings:
    """Everything about *how* to train (the model's sizes live in ``TransformerConfig``).

    The defaults are the course's recipe for a d_model-128 pre-norm model (warm-up 100
    steps, ``lr_scale`` 0.5 on the paper's schedule, label smoothing 0.1, clipping at 1).

    Budgets: training stops at ``max_steps`` optimiser steps or after ``max_minutes`` of
    training time (validation time not counted), whichever comes first; at least one must
    be set. ``target_exact_match`` (0-1) also stops once validation reaches it.

    Validation (loss, greedy exact match, BLEU, chrF on up to ``eval_sentences`` pairs)
    runs every ``eval_every`` steps and at the end. A trainer with an ``out_dir`` writes
    ``checkpoint.pt`` every ``checkpoint_every`` steps (None: after each validation), at the
    end and on Ctrl-C. ``precision`` ``"auto"`` uses bfloat16 (or float16 with loss scaling)
    autocast on CUDA, bfloat16 on a CPU with bfloat16 instructions and float32 elsewhere
    (:func:`course_lib.runtime.resolve_precision`); ``device`` ``"auto"`` picks CUDA, MPS or
    the CPU.
    ``fast`` chooses the forward pass used for training (:func:`course_lib.fast.training_forward`:
    ``"auto"`` the fast path where it helps, ``"on"``, ``"off"`` the eager model).
    """

    batch_size: int = 64
    max_steps: int | None = None
    max_minutes: float | None = None
    warmup_steps: int = 100
    lr_scale: float = 0.5
    label_smoothing: float = 0.1
    clip_norm: float | None = 1.0
    eval_every: int = 100
    eval_sentences: int | None = 500
    target_exact_match: float | None = None
    log_every: int = 10
    checkpoint_every: int | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    progress: bool = True
    live_plot: bool = False
    fast: str = "auto"

    def __post_init__(self) -> None:
        for name in ("batch_size", "warmup_steps", "eval_every", "log_every"):
            check_int(getattr(self, name), f"training setting {name}", 1)
        for name in ("max_steps", "checkpoint_every", "eval_sentences"):
            if getattr(self, name) is not None:
                check_int(getattr(self, name), f"training setting {name} (or None)", 1)
        if self.max_minutes is not None:
            check_number(self.max_minutes, "max_minutes", 0, low_inclusive=False)
        if self.max_steps is None and self.max_minutes is None:
            raise CourseLibError("set a training budget: max_steps, max_minutes or both")
        check_number(self.lr_scale, "lr_scale", 0, low_inclusive=False)
        check_number(self.label_smoothing, "label_smoothing", 0, 1)
        if self.clip_norm is not None:
            check_number(self.clip_norm, "clip_norm (or None)", 0, low_inclusive=False)
        if self.target_exact_match is not None:
            check_number(self.target_exact_match, "target_exact_match", 0, 1, low_inclusive=False)
        check_int(self.seed, "seed")
        if self.fast not in MODES:
            raise CourseLibError(f"fast must be one of {', '.join(MODES)}, got {self.fast!r}")

    def budget_spent(self, step: int, train_seconds: float) -> str:
        """Which budget ``step`` steps and ``train_seconds`` of training have spent: ``""``,
        ``"max_steps"`` or ``"max_minutes"``."""
        if self.max_steps is not None and step >= self.max_steps:
            return "max_steps"
        if self.max_minutes is not None and train_seconds >= 60 * self.max_minutes:
            return "max_minutes"
        return ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSettings:
        if not isinstance(data, dict):
            raise CourseLibError(f"training settings must be a dict, got {type(data).__name__}")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise CourseLibError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**data)


@dataclass
class History:
    """What happened: training loss per logged step, validation results, and why it stopped."""

    train: list[dict[str, float]] = field(default_factory=list)
    valid: list[dict[str, Any]] = field(default_factory=list)
    stopped: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"train": list(self.train), "valid": list(self.valid), "stopped": self.stopped}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(
            list(data.get("train", [])), list(data.get("valid", [])), data.get("stopped", "")
        )

    def plot(self, ax: Any = None) -> Any:
        """Training and validation loss against the step (:func:`course_lib.viz.plot_history`)."""
        return plot_history(self, ax)


def _checked(model: Any, settings: Any) -> TrainSettings:
    if not isinstance(model, Transformer):
        raise CourseLibError(f"Trainer needs a course_lib Transformer, got {type(model).__name__}")
    settings = settings if settings is not None else TrainSettings(max_steps=1000)
    if not isinstance(settings, TrainSettings):
        raise CourseLibError(f"settings must be TrainSettings, got {type(settings).__name__}")
    return settings


def _context(settings: TrainSettings, context: DistributedContext | None) -> DistributedContext:
    context = context or DistributedContext.single(select_device(settings.device))
    if settings.batch_size % context.world_size != 0:
        raise CourseLibError(
            f"batch_size {settings.batch_size} must be divisible by the number of processes "
            f"({context.world_size})"
        )
    return context


def _encoded(pairs: Any, src_tok: Any, tgt_tok: Any, positions: int, name: str) -> EncodedPairs:
    if pairs is None or isinstance(pairs, EncodedPairs):
        return pairs
    return encode_pairs(pairs, src_tok, tgt_tok, positions, name)


class Trainer:
    """Trains a :class:`~course_lib.model.Transformer` on ``(english, french)`` pairs (or
    :class:`EncodedPairs`): ``fit()`` steps until a budget is spent -> the :class:`History`.

    Validation needs ``valid_pairs``, checkpoints an ``out_dir``; ``context`` is a
    :class:`~course_lib.distributed.DistributedContext` (None: one process); ``callbacks`` run
    after those the settings ask for (:func:`course_lib.callbacks.default_callbacks`);
    ``metadata`` goes into every checkpoint. ``Trainer.resume(path, ...)`` continues a run.
    """

    #: Batches per length-sorted pool in :func:`bucketed_batches`; 1 = random batches.
    pool_batches: int = 50

    def __init__(
        self,
        model: Transformer,
        src_tokenizer: Any,
        tgt_tokenizer: Any,
        train_pairs: Sequence[tuple[str, str]] | EncodedPairs,
        valid_pairs: Sequence[tuple[str, str]] | EncodedPairs | None = None,
        settings: TrainSettings | None = None,
        out_dir: str | Path | None = None,
        *,
        context: DistributedContext | None = None,
        callbacks: Sequence[Callback] = (),
        metadata: dict[str, Any] | None = None,
    ):
        self.settings = s = _checked(model, settings)
        self.context = _context(s, context)
        self.device = self.context.device
        self.model = model.to(self.device)
        self.src_tokenizer, self.tgt_tokenizer = src_tokenizer, tgt_tokenizer
        encode = (src_tokenizer, tgt_tokenizer, model.config.max_len)
        self.train_data = _encoded(train_pairs, *encode, "train_pairs")
        self.valid_data = _encoded(valid_pairs, *encode, "valid_pairs")
        lengths = ([len(x) for x in self.train_data.src], [len(y) for y in self.train_data.tgt])
        self.batches = BatchStream(*lengths, s.batch_size, s.seed, self.pool_batches)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.metadata = dict(metadata or {})
        self.optimizer = make_optimizer(self.model)
        self.scheduler = WarmupInverseSqrtSchedule(
            self.optimizer, model.config.d_model, s.warmup_steps, s.lr_scale
        )
        self.autocast_dtype = resolve_precision(s.precision, self.device)
        fp16_on_cuda = self.autocast_dtype == torch.float16 and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=fp16_on_cuda)  # loss scaling for fp16
        self.forward = training_forward(
            self.context.wrap(self.model), s.fast, max_steps=s.max_steps, max_minutes=s.max_minutes
        )
        defaults = default_callbacks(s, self.valid_data, self.out_dir, self.context.is_main)
        self.callbacks = defaults + list(callbacks)
        self.step, self.train_seconds, self.history, self.stop_reason = 0, 0.0, History(), ""
        self._rng_to_restore: dict[str, Any] | None = None

    def save(self, path: str | Path | None = None) -> Path | None:
        """A full checkpoint (:func:`course_lib.callbacks.save_training`)."""
        return save_training(self, path)

    def load_state(self, checkpoint: Any) -> None:
        """Continue from a loaded checkpoint (``load_checkpoint(path)``): weights, optimiser,
        schedule, data position and random-number generator states."""
        self.model.load_state_dict(checkpoint.model.state_dict())
        training = restore_training_state(checkpoint, self.optimizer, self.scheduler, self.scaler)
        self.step = int(training.get("step", 0))
        self.batches.seek(int(training.get("epoch", 0)), int(training.get("batch_index", 0)))
        self.train_seconds = float(training.get("train_seconds", 0.0))
        self.history = History.from_dict(training.get("history", {}))
        self._rng_to_restore = checkpoint.rng

    @classmethod
    def resume(cls, path: str | Path, *args: Any, **kwargs: Any) -> Trainer:
        """``Trainer.resume(path, train_pairs, valid_pairs, settings, ...)``: the model and
        tokenizers come from the checkpoint at ``path``, then :meth:`load_state`."""
        saved = load_checkpoint(path, device="cpu")
        trainer = cls(
            saved.model.train(), saved.src_tokenizer, saved.tgt_tokenizer, *args, **kwargs
        )
        trainer.load_state(saved)
        return trainer

    def train_step(self, indices: Sequence[int]) -> float:
        """One optimiser step on the pairs ``indices`` (the global batch; each process takes
        its share). Returns the batch's mean loss per real token (over all processes)."""
        context = self.context
        src, tgt = self.train_data.batch(shard(list(indices), context.rank, context.world_size))
        src, tgt = src.to(self.device), tgt.to(self.device)  # (batch, src_len), (batch, tgt_len)
        decoder_input, labels = teacher_forcing(tgt)  # (batch, tgt_len + 1) each
        global_tokens = context.all_reduce_sum((labels != PAD).sum().double())
        self.optimizer.zero_grad(set_to_none=True)
        with mixed_precision(self.device.type, self.autocast_dtype):
            logits = self.forward(src, decoder_input)  # (batch, tgt_len + 1, V)
        loss_sum = label_smoothed_cross_entropy(
            logits, labels, self.settings.label_smoothing, reduction="sum"
        )
        # Each process divides by the GLOBAL token count; DDP averages gradients over the
        # processes, so multiplying by world_size gives exactly the one-process gradient.
        loss = loss_sum * (context.world_size / global_tokens.clamp(min=1).to(loss_sum.dtype))
        self.scaler.scale(loss).backward()
        if self.settings.clip_norm is not None:
            self.scaler.unscale_(self.optimizer)
            clip_gradients(self.model, self.settings.clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        total = context.all_reduce_sum(loss_sum.detach().double())
        value = float(total / global_tokens.clamp(min=1))
        if not math.isfinite(value):
            raise CourseLibError(
                f"the training loss became {value} at step {self.step}; lower the learning "
                f"rate (lr_scale) or check the data"
            )
        return value

    def stop(self, reason: str) -> None:
        """End the loop after the current step (the first reason given is kept)."""
        self.stop_reason = self.stop_reason or reason

    def fit(self) -> History:
        """Train until the budget is spent or a callback stops the run (validation target,
        Ctrl-C). Returns the :class:`History` (``stopped`` says why; "error" after an
        exception)."""
        if self._rng_to_restore is not None:
            set_rng_state(self._rng_to_restore)
            self._rng_to_restore = None
        elif self.step == 0:
            seed_everything(self.settings.seed)
        self.model.train()
        self.batches.pool_batches = self.pool_batches
        self.stop_reason = ""
        try:
            for callback in self.callbacks:
                callback.on_start(self)
            while not self.stop_reason:
                self.stop(self.settings.budget_spent(self.step, self.train_seconds))
                if self.stop_reason:
                    break
                began = time.perf_counter()
                loss = self.train_step(next(self.batches))
                self.train_seconds += self.context.agree_max(time.perf_counter() - began)
                for callback in self.callbacks:
                    callback.on_step(self, loss)
        finally:
            self.history.stopped = self.stop_reason or "error"
            for callback in self.callbacks:
                callback.on_end(self)
        return self.history


__all__ = ["History", "TrainSettings", "Trainer"]
