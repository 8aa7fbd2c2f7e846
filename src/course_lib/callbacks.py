"""Step 6e: what happens around the training loop, one small callback each.

:class:`~course_lib.trainer.Trainer` is only the loop (batch, step, repeat). Everything else
is a :class:`Callback` it calls at fixed moments:

* :class:`LossLog` - the mean training loss every ``log_every`` steps, into the history;
* :class:`Evaluation` - validation every ``eval_every`` steps and at the end: the held-out
  loss (:func:`course_lib.loss.heldout_loss`) and the scores of the one evaluation path
  (:func:`course_lib.evaluate.evaluate`: exact match, BLEU, chrF); stops at a target;
* :class:`Checkpointing` - ``checkpoint.pt`` after each validation (or every N steps), at
  the end and on Ctrl-C;
* :class:`ProgressBar` - a tqdm bar with the running loss;
* :class:`LivePlot` - the loss curve redrawn in a notebook (:mod:`course_lib.viz`);
* :class:`StopOnInterrupt` - the first Ctrl-C stops after the current step, a second aborts.

Write your own by overriding any of the hooks (each receives the trainer)::

    class PrintLoss(Callback):
        def on_log(self, trainer, record):
            print(record["step"], record["loss"])

    Trainer(..., callbacks=[PrintLoss()])
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from IPython import get_ipython
from tqdm.auto import tqdm

from course_lib.batching import EncodedPairs
from course_lib.checkpoint import save_checkpoint
from course_lib.evaluate import evaluate
from course_lib.files import CHECKPOINT_FILE
from course_lib.loss import heldout_loss
from course_lib.translate import Translator
from course_lib.viz import LiveLossPlot


class Callback:
    """The hooks :class:`~course_lib.trainer.Trainer` calls; each does nothing by default.

    ``trainer.stop(reason)`` from any hook ends the loop after the current step.
    """

    def on_start(self, trainer: Any) -> None:
        """The loop is about to take its first step (Ctrl-C is already handled)."""

    def on_step(self, trainer: Any, loss: float) -> None:
        """An optimiser step was taken (``trainer.step`` counts it); ``loss`` per real token."""

    def on_log(self, trainer: Any, record: dict[str, float]) -> None:
        """A training record (step, mean loss since the last one, lr, seconds) was logged."""

    def on_eval(self, trainer: Any, record: dict[str, Any]) -> None:
        """A validation record was added to ``trainer.history.valid`` (a dict you may extend)."""

    def on_end(self, trainer: Any) -> None:
        """The loop ended: ``trainer.stop_reason`` says why (``""`` after an exception)."""


class LossLog(Callback):
    """Every ``every`` steps, a training record - ``{"step", "loss" (the mean since the last
    record), "lr", "train_seconds"}`` - goes into ``trainer.history.train``, and every
    callback's :meth:`Callback.on_log` sees it."""

    def __init__(self, every: int):
        self.every = every
        self.window: list[float] = []

    def on_start(self, trainer: Any) -> None:
        self.window = []

    def on_step(self, trainer: Any, loss: float) -> None:
        self.window.append(loss)
        if trainer.step % self.every != 0:
            return
        record = {
            "step": trainer.step,
            "loss": sum(self.window) / len(self.window),
            "lr": trainer.scheduler.get_last_lr()[0],
            "train_seconds": round(trainer.train_seconds, 3),
        }
        self.window = []
        trainer.history.train.append(record)
        for callback in trainer.callbacks:
            callback.on_log(trainer, record)


class Evaluation(Callback):
    """Validate on ``data`` every ``every`` steps and once at the end (unless the run was
    interrupted or already stopped by reaching ``target_exact_match``).

    A record is ``{"step", "train_seconds", "loss", "bleu", "chrf", "exact_match", "n",
    "signature"}`` for the first ``max_sentences`` pairs of ``data`` (None: all): the loss
    teacher-forced as in training, the scores from greedy translations of the English
    sentences by :func:`course_lib.evaluate.evaluate`, the same function ``course-lib
    evaluate`` uses. Only the main process validates; every process learns whether the target
    (0-1 exact match) was reached.
    """

    def __init__(
        self,
        data: EncodedPairs,
        every: int,
        max_sentences: int | None = None,
        target_exact_match: float | None = None,
    ):
        self.data = data
        self.every = every
        self.max_sentences = max_sentences
        self.target = target_exact_match
        self.validated_at = -1

    def validate(self, trainer: Any) -> dict[str, Any]:
        """One validation of ``trainer.model`` now; returns the record (also in the history)."""
        n = (
            len(self.data)
            if self.max_sentences is None
            else min(len(self.data), self.max_sentences)
        )
        data = self.data if n == len(self.data) else _first(self.data, n)
        loss = heldout_loss(
            trainer.model, data, trainer.settings.label_smoothing, device=trainer.device
        )
        translator = Translator(trainer.model, trainer.src_tokenizer, trainer.tgt_tokenizer)
        scores = evaluate(translator, data.pairs).to_dict()
        record = {
            "step": trainer.step,
            "train_seconds": round(trainer.train_seconds, 3),
            "loss": loss,
            **scores,
        }
        trainer.history.valid.append(record)
        for callback in trainer.callbacks:
            callback.on_eval(trainer, record)
        return record

    def _validate_and_check(self, trainer: Any) -> None:
        self.validated_at = trainer.step
        record = self.validate(trainer) if trainer.context.is_main else {}
        reached = self.target is not None and record.get("exact_match", 0.0) >= self.target
        if trainer.context.agree_any(reached):
            trainer.stop("target_exact_match")

    def on_step(self, trainer: Any, loss: float) -> None:
        if trainer.step % self.every == 0:
            self._validate_and_check(trainer)

    def on_end(self, trainer: Any) -> None:
        final = trainer.stop_reason not in ("", "target_exact_match", "interrupted")
        if final and self.validated_at != trainer.step:
            self._validate_and_check(trainer)


def _first(data: EncodedPairs, n: int) -> EncodedPairs:
    return EncodedPairs(data.src[:n], data.tgt[:n], data.pairs[:n])


def save_training(trainer: Any, path: str | Path | None = None) -> Path | None:
    """A full checkpoint of ``trainer`` - weights, tokenizers, optimiser, schedule, loss
    scaler, random-number generators, the position in the data, settings, history, the last
    validation's scores and ``trainer.metadata`` - at ``path`` (default
    ``trainer.out_dir/checkpoint.pt``). Only the main process writes; returns the path or None."""
    if path is None and trainer.out_dir is not None:
        path = trainer.out_dir / CHECKPOINT_FILE
    if path is None or not trainer.context.is_main:
        return None
    training = {
        "step": trainer.step,
        "epoch": trainer.batches.epoch,
        "batch_index": trainer.batches.index,
        "train_seconds": trainer.train_seconds,
        "settings": trainer.settings.to_dict(),
        "history": trainer.history.to_dict(),
    }
    return save_checkpoint(
        path,
        trainer.model,
        src_tokenizer=trainer.src_tokenizer,
        tgt_tokenizer=trainer.tgt_tokenizer,
        optimizer=trainer.optimizer,
        scheduler=trainer.scheduler,
        scaler=trainer.scaler if trainer.scaler.is_enabled() else None,
        training=training,
        metrics=dict(trainer.history.valid[-1]) if trainer.history.valid else {},
        metadata=trainer.metadata,
    )


class Checkpointing(Callback):
    """``trainer.save()`` (``out_dir/checkpoint.pt``) every ``every`` steps (None: never
    periodically), and at the end of a run that stopped normally or by Ctrl-C (not after an
    exception). Every process calls it (only the main one writes), then waits for the others."""

    def __init__(self, every: int | None = None):
        self.every = every

    def _save(self, trainer: Any) -> None:
        trainer.save()
        trainer.context.barrier()

    def on_step(self, trainer: Any, loss: float) -> None:
        due = self.every is not None and trainer.step % self.every == 0
        if due and not trainer.stop_reason:  # a stopped run saves once, at the end
            self._save(trainer)

    def on_end(self, trainer: Any) -> None:
        if trainer.stop_reason:
            self._save(trainer)


class ProgressBar(Callback):
    """A tqdm progress bar (a widget in a notebook) with the running training loss."""

    def __init__(self) -> None:
        self.bar: Any = None

    def on_start(self, trainer: Any) -> None:
        self.bar = tqdm(
            total=trainer.settings.max_steps,
            initial=trainer.step,
            desc="training",
            unit="step",
            dynamic_ncols=True,
        )

    def on_step(self, trainer: Any, loss: float) -> None:
        self.bar.update(1)

    def on_log(self, trainer: Any, record: dict[str, float]) -> None:
        self.bar.set_postfix(loss=f"{record['loss']:.3f}", refresh=False)

    def on_end(self, trainer: Any) -> None:
        if self.bar is not None:
            self.bar.close()


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where a live plot can be redrawn)."""
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class LivePlot(Callback):
    """The loss curve (:class:`course_lib.viz.LiveLossPlot`) redrawn at each log, each
    validation and at the end. Draws nothing outside a notebook."""

    def __init__(self) -> None:
        self.plot: LiveLossPlot | None = None

    def on_start(self, trainer: Any) -> None:
        self.plot = LiveLossPlot() if in_notebook() else None

    def _update(self, trainer: Any, *_: Any) -> None:
        if self.plot is not None:
            self.plot.update(trainer.history)

    on_log = on_eval = _update

    def on_end(self, trainer: Any) -> None:
        self._update(trainer)


class StopOnInterrupt(Callback):
    """The first Ctrl-C (SIGINT) asks the loop to stop after the current step (which then
    saves a checkpoint); a second one interrupts at once. Under ``torchrun`` every process
    stops at the same step. Only in the main thread (where Python delivers signals)."""

    def __init__(self) -> None:
        self.requested = False
        self.previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def on_start(self, trainer: Any) -> None:
        self.requested = False
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)

    def on_step(self, trainer: Any, loss: float) -> None:
        if trainer.context.agree_any(self.requested):
            trainer.stop("interrupted")

    def on_end(self, trainer: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None


def default_callbacks(
    settings: Any,
    valid_data: EncodedPairs | None,
    out_dir: str | Path | None,
    is_main: bool,
) -> list[Callback]:
    """The callbacks a :class:`~course_lib.trainer.Trainer` with these settings uses, in the
    order they run: the loss log, validation, checkpoints, progress bar, live plot, Ctrl-C."""
    callbacks: list[Callback] = [LossLog(settings.log_every)]
    if valid_data is not None:
        callbacks.append(
            Evaluation(
                valid_data,
                settings.eval_every,
                settings.eval_sentences,
                settings.target_exact_match,
            )
        )
    if out_dir is not None:
        # checkpoint_every None: after each validation (so a checkpoint holds its scores)
        validating = valid_data is not None
        every = settings.checkpoint_every or (settings.eval_every if validating else None)
        callbacks.append(Checkpointing(every))
    if settings.progress and is_main:
        callbacks.append(ProgressBar())
    if settings.live_plot and is_main:
        callbacks.append(LivePlot())
    callbacks.append(StopOnInterrupt())
    return callbacks


__all__ = [
    "Callback",
    "Checkpointing",
    "Evaluation",
    "LivePlot",
    "LossLog",
    "ProgressBar",
    "StopOnInterrupt",
    "default_callbacks",
    "in_notebook",
    "save_training",
]
