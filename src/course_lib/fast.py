"""The fast training path: the same model, run faster where that helps.

The chapters teach the eager model; training (``Trainer``, ``course-lib train``, the
benchmarks) asks :func:`training_forward` for the function that computes the logits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from course_lib.errors import CourseLibError

MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class FastPathInfo:
    """Which path :func:`training_forward` chose and why."""

    path: str  # "eager" or "compiled"
    reason: str


def describe(mode: str = "auto") -> FastPathInfo:
    """The path ``training_forward(model, mode)`` would choose, and why."""
    _check_mode(mode)
    return FastPathInfo("eager", "the fast path is not built yet")


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise CourseLibError(f"fast must be one of {', '.join(MODES)}, got {mode!r}")


def training_forward(model: nn.Module, mode: str = "auto") -> Callable[[Tensor, Tensor], Tensor]:
    """A function ``(src, tgt_in) -> logits (batch, tgt_len, V)`` computing ``model(src, tgt_in)``."""
    _check_mode(mode)
    return model
