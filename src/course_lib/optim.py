"""Step 6b: how the weights move - Adam and the paper's learning-rate schedule.

Adam follows the paper (Vaswani et al. 2017, section 5.3): betas (0.9, 0.98), eps 1e-9, and a
learning rate that warms up linearly, then decays as the inverse square root of the step.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.errors import CourseLibError


def noam_schedule(step: int, d_model: int, warmup_steps: int = 4000, scale: float = 1.0) -> float:
    """The paper's learning rate (Vaswani et al. 2017, eq. 3) at optimiser step ``step`` >= 1:

        lrate = scale * d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)

    It rises linearly for ``warmup_steps`` steps, peaks at
    ``scale * (d_model * warmup_steps)^-0.5``, then decays as ``1 / sqrt(step)``.
    """
    for name, value in (("step", step), ("d_model", d_model), ("warmup_steps", warmup_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CourseLibError(f"noam_schedule: {name} must be an integer >= 1, got {value!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise CourseLibError(f"noam_schedule: scale must be a positive number, got {scale!r}")
    return scale * d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)


class WarmupInverseSqrtSchedule(torch.optim.lr_scheduler.LRScheduler):
    """:func:`noam_schedule` as a PyTorch scheduler: call ``step()`` after each optimiser step.

    The first optimiser step uses the rate for step 1 (never 0). The optimiser's own
    ``lr`` is ignored: the schedule sets it. ``state_dict()`` is plain data.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        d_model: int,
        warmup_steps: int = 4000,
        scale: float = 1.0,
        last_epoch: int = -1,
    ):
        noam_schedule(1, d_model, warmup_steps, scale)  # validates the arguments
        self.d_model = d_model
        self.warmup_steps = warmup_steps
        self.scale = float(scale)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        rate = noam_schedule(self.last_epoch + 1, self.d_model, self.warmup_steps, self.scale)
        return [rate for _ in self.optimizer.param_groups]


def make_optimizer(model: nn.Module) -> torch.optim.Adam:
    """Adam with the paper's settings: betas (0.9, 0.98), eps 1e-9 (the schedule sets lr).

    Where this torch has one for the model's device, Adam's fused kernel does the update (one
    pass over each parameter instead of a dozen; torch >= 2.4 on the CPU): the same
    arithmetic, several times faster, which a CPU training step feels (issue 18). Elsewhere
    it is PyTorch's default implementation."""
    if not isinstance(model, nn.Module):
        raise CourseLibError(f"make_optimizer needs an nn.Module, got {type(model).__name__}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise CourseLibError("make_optimizer: the model has no trainable parameters")
    settings = {"lr": 1.0, "betas": (0.9, 0.98), "eps": 1e-9}
    try:
        return torch.optim.Adam(params, fused=True, **settings)
    except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device or torch
        return torch.optim.Adam(params, **settings)


def clip_gradients(model: nn.Module, max_norm: float) -> torch.Tensor:
    """Scale the gradients of ``model`` so that their global L2 norm is at most ``max_norm``
    (``nn.utils.clip_grad_norm_``); returns the norm before clipping (a 0-d tensor).

    It asks for PyTorch's multi-tensor ("foreach") kernels, which torch has on the CPU too
    but uses there only when asked: one call for all gradients instead of one norm and one
    product per tensor. A torch without them falls back to the loop: the same arithmetic."""
    if not isinstance(model, nn.Module):
        raise CourseLibError(f"clip_gradients needs an nn.Module, got {type(model).__name__}")
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)) or not max_norm > 0:
        raise CourseLibError(
            f"clip_gradients: max_norm must be a positive number, got {max_norm!r}"
        )
    params = list(model.parameters())  # a list: a fallback call reads it again
    try:
        return nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
    except RuntimeError:  # "foreach=True was passed, but can't use the foreach API"
        return nn.utils.clip_grad_norm_(params, max_norm)


__all__ = ["WarmupInverseSqrtSchedule", "clip_gradients", "make_optimizer", "noam_schedule"]
