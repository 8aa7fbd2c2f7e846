"""Step 6 (speed): the fast training path - the same model, compiled where that pays.

The chapters teach the eager model, one readable PyTorch operation at a time. Training
(:class:`~course_lib.trainer.Trainer`, ``course-lib train``, the benchmarks) asks
:func:`training_forward` for the function that turns ``(src, tgt_in)`` into logits. With
the fast path that function is ``torch.compile(model, dynamic=True)``: TorchDynamo captures
the whole forward (the model does no value read-back under compilation, so there are no
graph breaks), AOTAutograd derives the backward, and Inductor fuses the elementwise work
around the matrix products into generated C++ loops - dropout + residual + LayerNorm in
one pass, and dropout masks drawn in-kernel from a counter-based (Philox) generator
instead of ``bernoulli_``, the single largest cost of an eager CPU step. One graph serves
every batch shape (``dynamic=True``), so length-bucketed batches do not recompile.

The weights are the model's own: the compiled function and ``model`` share parameters,
so the optimiser, checkpoints, evaluation and generation see the same model.

``mode``:

* ``"off"``: the eager model.
* ``"on"``: compiled; if compilation fails (no compiler, an unsupported operation), a
  warning says why and training continues eagerly.
* ``"auto"`` (default): compiled only where it helps, by this rule - torch.compile
  exists and supports this Python and platform, a C++ compiler is installed (CPU) or
  Triton (CUDA), the model is not wrapped for distributed training, the process is not
  Colab's runtime (its 2 slow CPUs compile for longer than chapter 6's live training
  runs) and the run is long enough to pay back the compile time: a step budget of at
  least :data:`COMPILE_MIN_STEPS` or a time budget of at least
  :data:`COMPILE_MIN_MINUTES` (an unknown budget counts as long).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from course_lib.errors import CourseLibError

MODES = ("auto", "on", "off")
#: "auto" compiles only runs with at least this many steps (or no step budget): below
#: it the compile time (about half a minute on 2 CPU threads) exceeds what it saves.
COMPILE_MIN_STEPS = 1000
#: ... or with a time budget of at least this many minutes.
COMPILE_MIN_MINUTES = 3.0


@dataclass(frozen=True)
class FastPathInfo:
    """Which forward :func:`training_forward` chose (``path``: ``"eager"`` or
    ``"compiled"``) for which ``mode``, and why (``reason``, one sentence)."""

    mode: str
    path: str
    reason: str


def check_mode(mode: object) -> str:
    """``mode`` if it is one of :data:`MODES`, else a :class:`CourseLibError`."""
    if not isinstance(mode, str) or mode not in MODES:
        raise CourseLibError(f"fast must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def compile_unavailable(device: torch.device | None = None) -> str:
    """Why ``torch.compile`` cannot run here (``""`` when it can): the torch version, the
    Python version or platform, or the missing compiler (C++ for the CPU, Triton for CUDA)."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile (it needs torch >= 2.0)"
    if not torch._dynamo.is_dynamo_supported():
        return f"torch.compile does not support Python {sys.version.split()[0]} on {sys.platform}"
    if sys.platform == "win32":
        return "torch.compile on Windows needs the MSVC toolchain set up by hand"
    if device is not None and device.type == "cuda":
        if importlib.util.find_spec("triton") is None:
            return "torch.compile on CUDA needs Triton, which is not installed"
    elif device is None or device.type == "cpu":
        compilers = (os.environ.get("CXX"), "g++", "clang++", "c++")
        if not any(c and shutil.which(c) for c in compilers):
            return "no C++ compiler found (Inductor writes C++ kernels for the CPU)"
    else:
        return f"the fast path is not tuned for {device.type} devices"
    return ""


def in_colab() -> bool:
    """Whether this process runs in Google Colab."""
    return "google.colab" in sys.modules


def describe(
    model: nn.Module,
    mode: str = "auto",
    *,
    max_steps: int | None = None,
    max_minutes: float | None = None,
) -> FastPathInfo:
    """The path ``training_forward(model, mode, ...)`` takes, and why (see the module's rule)."""
    check_mode(mode)
    if not isinstance(model, nn.Module):
        raise CourseLibError(f"model must be a torch nn.Module, got {type(model).__name__}")
    if mode == "off":
        return FastPathInfo(mode, "eager", "fast='off' asks for the eager model")
    param = next(model.parameters(), None)
    missing = compile_unavailable(param.device if param is not None else None)
    if missing:
        return FastPathInfo(mode, "eager", missing)
    if mode == "on":
        return FastPathInfo(mode, "compiled", "fast='on' asks for torch.compile")
    if isinstance(model, nn.parallel.DistributedDataParallel):
        return FastPathInfo(mode, "eager", "a distributed (DDP) model: compile it with fast='on'")
    if in_colab():
        return FastPathInfo(
            mode, "eager", "Colab's runtime: compiling takes longer than a live run saves"
        )
    short = _short_run(max_steps, max_minutes)
    if short:
        return FastPathInfo(mode, "eager", f"{short} would not pay back the compile time")
    return FastPathInfo(mode, "compiled", "a long run with torch.compile available")


def _short_run(max_steps: int | None, max_minutes: float | None) -> str:
    """Which budget makes the run too short to compile for (``""`` if none does)."""
    if max_steps is not None and max_steps < COMPILE_MIN_STEPS:
        return f"a run of {max_steps} steps (< {COMPILE_MIN_STEPS})"
    if max_minutes is not None and max_minutes < COMPILE_MIN_MINUTES:
        return f"a run of {max_minutes} minutes (< {COMPILE_MIN_MINUTES})"
    return ""


class TrainingForward:
    """``forward(src, tgt_in) -> logits (batch, tgt_len, V)``: ``model(src, tgt_in)``,
    compiled or eager as :attr:`info` says.

    A compiled forward that fails on its first call (a compiler error) warns once and
    switches to the eager model for good (:attr:`info` then says so); an error of the
    input itself (:class:`CourseLibError`) is raised as it is.
    """

    def __init__(self, model: nn.Module, info: FastPathInfo):
        self.model = model
        self.info = info
        self._compiled = torch.compile(model, dynamic=True) if info.path == "compiled" else None
        self._proven = False  # the compiled forward has run once

    def __call__(self, src: Tensor, tgt: Tensor) -> Tensor:
        if self._compiled is None:
            return self.model(src, tgt)
        if self._proven:
            return self._compiled(src, tgt)
        try:
            logits = self._compiled(src, tgt)
        except CourseLibError:
            raise
        except Exception as error:  # the compiler failed: train eagerly instead
            self.fall_back(f"torch.compile failed ({type(error).__name__}: {error})")
            return self.model(src, tgt)
        self._proven = True
        return logits

    def fall_back(self, why: str) -> None:
        """Use the eager model from now on, with a warning saying ``why``."""
        warnings.warn(f"fast path off, training the eager model: {why}", stacklevel=3)
        self._compiled = None
        self.info = FastPathInfo(self.info.mode, "eager", why)


def training_forward(
    model: nn.Module,
    mode: str = "auto",
    *,
    max_steps: int | None = None,
    max_minutes: float | None = None,
) -> Callable[[Tensor, Tensor], Tensor]:
    """The function the trainer calls for logits: ``(src (batch, src_len), tgt_in (batch,
    tgt_len)) -> (batch, tgt_len, V)``, equal to ``model(src, tgt_in)``.

    ``mode`` is ``"auto"``, ``"on"`` or ``"off"`` (see the module docstring for the rule);
    ``max_steps``/``max_minutes`` are the run's budget, which ``"auto"`` weighs against the
    compile time. The result is a :class:`TrainingForward`; its ``info`` says which path
    was taken and why.
    """
    info = describe(model, mode, max_steps=max_steps, max_minutes=max_minutes)
    if mode == "on" and info.path == "eager":
        warnings.warn(f"fast='on' but training the eager model: {info.reason}", stacklevel=2)
    return TrainingForward(model, info)


__all__ = [
    "COMPILE_MIN_MINUTES",
    "COMPILE_MIN_STEPS",
    "MODES",
    "FastPathInfo",
    "TrainingForward",
    "check_mode",
    "compile_unavailable",
    "describe",
    "in_colab",
    "training_forward",
]
