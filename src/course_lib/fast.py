"""Step 6 (speed): the fast training path - the same model, run faster where that helps.

The chapters teach the eager model, one readable PyTorch operation at a time. Training
(:class:`~course_lib.trainer.Trainer`, ``course-lib train``, the benchmarks) asks
:func:`training_forward` for the function that turns ``(src, tgt_in)`` into logits. The
weights are the model's own, so the optimiser, checkpoints, evaluation and generation see
one model. Which forward it gets depends on where the model lives (``FastPathInfo.path``):

* ``"cpu"``: the eager model with two CPU levers, each where it applies:

  - *cheaper dropout masks* (a model with dropout). A profile of a CPU training step shows
    PyTorch drawing every dropout mask element by element (``aten::bernoulli_``), a large
    share of the step; matrix products are most of the rest. Here one 64-bit random word
    gives four 16-bit lanes, and a lane below ``round(p * 65536)`` drops its element
    (:func:`dropout_mask`): the drop probability is ``p`` to within 1/131072, and kept
    values are scaled by the exact inverse of the keep probability, so the expectation is
    unchanged. Masks come from PyTorch's seeded CPU generator, so runs stay reproducible.
  - *the math attention kernel for short sentences*. Up to
    :data:`MATH_ATTENTION_MAX_LEN` tokens, PyTorch's math kernel (two matrix products and
    a softmax) trains faster than its fused CPU kernel, which pays off only for longer
    sequences; the course's sentences are short. Used where this torch can choose the
    kernel (``torch.nn.attention.sdpa_kernel``, torch >= 2.3) and the math kernel gives a
    query that sees no key zeros, as the model expects (:func:`math_attention_unavailable`).

  Only the random draw and the order of the sums change: with dropout 0 the loss and
  gradients are the eager ones to float rounding (bit for bit for longer sentences).
* ``"compiled"`` (CUDA): ``torch.compile(model, dynamic=True)``; Inductor fuses dropout,
  residual and LayerNorm and draws masks in-kernel. On the course's reference CPU (2 cores)
  the compiled step measured slower than eager, even with dropout off (Inductor's CPU
  kernels, its in-kernel random numbers above all), and compiling took minutes, so the
  CPU path does not compile.
* ``"eager"``: the model itself (``fast="off"``, other devices, a CPU where neither lever
  applies, or where compiling cannot run or would not pay).

``mode`` ``"auto"`` takes the rule above; on CUDA it compiles only when torch.compile and
Triton are installed, the process is not Colab's runtime (whose live runs are shorter than
a compile) and the run is long enough to pay back the compile time: a step budget of at
least :data:`COMPILE_MIN_STEPS` or a time budget of at least :data:`COMPILE_MIN_MINUTES`.
``"on"`` takes the fast path wherever one exists (and warns where none does); ``"off"``
is the eager model. A compiled forward that fails on its first call warns once and trains
eagerly.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import sys
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from course_lib import attention
from course_lib.errors import CourseLibError

try:  # choosing PyTorch's attention kernel (torch >= 2.3)
    from torch.nn.attention import SDPBackend, sdpa_kernel
except ImportError:  # pragma: no cover - torch 2.2
    SDPBackend = sdpa_kernel = None

MODES = ("auto", "on", "off")
#: On CUDA, "auto" compiles only runs with at least this many steps ...
COMPILE_MIN_STEPS = 1000
#: ... and at least this many minutes (when the run has such a budget).
COMPILE_MIN_MINUTES = 3.0
#: Random lanes per mask element: 16 bits, four lanes per 64-bit random word.
LANES = 1 << 16
#: The CPU path uses PyTorch's math attention kernel for batches whose longest sentence
#: (source or decoder input) has at most this many tokens. Measured for issue 18 (a CPU
#: training step on 2 threads, math kernel against fused): 0.90 of the time at 9 tokens,
#: 0.96 at 20, 1.01 at 40, 1.03 at 64.
MATH_ATTENTION_MAX_LEN = 32


@dataclass(frozen=True)
class FastPathInfo:
    """Which forward :func:`training_forward` chose for ``mode``: ``path`` is ``"eager"``,
    ``"cpu"`` or ``"compiled"``; ``reason`` says why, in one sentence."""

    mode: str
    path: str
    reason: str


def check_mode(mode: object) -> str:
    """``mode`` if it is one of :data:`MODES`, else a :class:`CourseLibError`."""
    if not isinstance(mode, str) or mode not in MODES:
        raise CourseLibError(f"fast must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


# ----------------------------------------------------------------------------------------
# Cheap dropout masks (CPU)
# ----------------------------------------------------------------------------------------


def dropout_mask(shape: torch.Size | tuple[int, ...], p: float, dtype: torch.dtype) -> Tensor:
    """A dropout mask of ``shape``: 0 with probability ``round(p * 65536) / 65536``, else
    ``1 / (1 - that probability)`` (so the mean is exactly 1). Drawn on the CPU from
    PyTorch's default generator, four 16-bit lanes per 64-bit random word."""
    dropped = round(p * LANES)
    n = math.prod(shape)
    # random_ from the lowest int64 with no upper bound fills all 64 bits of each word
    # (PyTorch's full-range kernel; randint's range would cost a modulo per word).
    words = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(2**63), None)
    lanes = words.view(torch.int16)[:n].view(shape)  # uniform on [-32768, 32767]
    kept = torch.tensor(LANES / (LANES - dropped), dtype=dtype)
    return torch.where(lanes >= dropped - LANES // 2, kept, torch.zeros((), dtype=dtype))


def cheap_dropout(
    x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """``F.dropout`` with masks from :func:`dropout_mask` for CPU tensors; anything else
    (eval mode, ``p`` 0 or 1, another device) is ``F.dropout`` itself. Same shape as ``x``."""
    if not training or p <= 0.0 or p >= 1.0 or x.device.type != "cpu" or x.numel() == 0:
        return F.dropout(x, p, training, inplace)
    mask = dropout_mask(x.shape, p, x.dtype)
    return x.mul_(mask) if inplace else x * mask


def _attention_cheap_dropout(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, **kwargs):
    """``F.scaled_dot_product_attention`` whose attention-weight dropout uses
    :func:`cheap_dropout` (PyTorch's CPU kernel computes this same matrix form when dropout
    is on). Cases it does not cover go to PyTorch unchanged."""
    scale = kwargs.pop("scale", None)
    plain = dropout_p == 0.0 or is_causal or kwargs or q.device.type != "cpu"
    if plain or (attn_mask is not None and attn_mask.dtype != torch.bool):
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask, dropout_p, is_causal, scale=scale, **kwargs
        )
    scores = (q @ k.transpose(-2, -1)).mul_(1 / math.sqrt(q.size(-1)) if scale is None else scale)
    if attn_mask is not None:  # as PyTorch: masked keys get no weight ...
        scores = scores.masked_fill_(~attn_mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    if attn_mask is not None:  # ... and a row with no key gets zeros (checked on the small mask)
        sees_a_key = attn_mask.any(dim=-1, keepdim=True)
        if not bool(sees_a_key.all()):
            weights = weights.masked_fill(~sees_a_key, 0.0)
    return cheap_dropout(weights, dropout_p) @ v


class CheapDropoutMasks(TorchFunctionMode):
    """Inside ``with CheapDropoutMasks():``, ``F.dropout`` (so every ``nn.Dropout``) and the
    attention dropout of ``F.scaled_dot_product_attention`` draw :func:`dropout_mask` masks;
    every other PyTorch call runs unchanged."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.dropout:
            return cheap_dropout(*args, **kwargs)
        if func is F.scaled_dot_product_attention:
            return _attention_cheap_dropout(*args, **kwargs)
        return func(*args, **kwargs)


def _math_kernel() -> AbstractContextManager:
    return sdpa_kernel(SDPBackend.MATH)


def math_attention_unavailable() -> str:
    """Why the CPU path cannot use the math attention kernel (``""`` when it can): it needs
    ``torch.nn.attention.sdpa_kernel`` (torch >= 2.3), and a math kernel that gives a query
    that sees no key a zero output with finite gradients wherever the model leaves that to
    the kernel (the default kernel does it; see ``attention.kernel_zeroes_blind_rows``)."""
    if sdpa_kernel is None:
        return f"torch {torch.__version__} cannot choose the attention kernel (it needs >= 2.3)"
    if attention._ZEROES_BLIND_ROWS_ON_CPU and not _math_zeroes_blind_rows():
        return "this torch's math attention kernel gives NaN for a query that sees no key"
    return ""


@functools.cache
def _math_zeroes_blind_rows() -> bool:
    """Probed once, the first time a CPU path is chosen (not at import)."""
    return attention.kernel_zeroes_blind_rows(_math_kernel)


# ----------------------------------------------------------------------------------------
# Choosing the path
# ----------------------------------------------------------------------------------------


def compile_unavailable(device: torch.device | None = None) -> str:
    """Why the compiled path cannot run on ``device`` (``""`` when it can): it needs
    torch.compile on a supported Python and platform, a CUDA device and Triton."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile (it needs torch >= 2.0)"
    if not torch._dynamo.is_dynamo_supported():
        return f"torch.compile does not support Python {sys.version.split()[0]} on {sys.platform}"
    if device is None or device.type != "cuda":
        where = device.type if device is not None else "a model without parameters"
        return f"the compiled path is for CUDA, not {where}"
    if importlib.util.find_spec("triton") is None:
        return "torch.compile on CUDA needs Triton, which is not installed"
    return ""


def in_colab() -> bool:
    """Whether this process runs in Google Colab."""
    return "google.colab" in sys.modules


def _short_run(max_steps: int | None, max_minutes: float | None) -> str:
    """Which budget makes the run too short to compile for (``""`` if none does)."""
    if max_steps is not None and max_steps < COMPILE_MIN_STEPS:
        return f"a run of {max_steps} steps (< {COMPILE_MIN_STEPS})"
    if max_minutes is not None and max_minutes < COMPILE_MIN_MINUTES:
        return f"a run of {max_minutes:g} minutes (< {COMPILE_MIN_MINUTES:g})"
    return ""


def _has_dropout(model: nn.Module) -> bool:
    return any(
        (isinstance(m, nn.Dropout) and m.p > 0)
        or (isinstance(getattr(m, "dropout", None), float) and m.dropout > 0)
        for m in model.modules()
    )


def _cpu_levers(model: nn.Module) -> tuple[bool, bool]:
    """Which CPU levers apply to ``model``: ``(cheap dropout masks, math attention kernel)``."""
    return _has_dropout(model), math_attention_unavailable() == ""


def _compile_path(mode: str, device: torch.device, max_steps, max_minutes) -> FastPathInfo:
    missing = compile_unavailable(device)
    if missing:
        return FastPathInfo(mode, "eager", missing)
    if mode == "auto":
        if in_colab():
            return FastPathInfo(
                mode, "eager", "Colab's runtime: a live run is shorter than a compile"
            )
        short = _short_run(max_steps, max_minutes)
        if short:
            return FastPathInfo(mode, "eager", f"{short} would not pay back the compile time")
    return FastPathInfo(mode, "compiled", "torch.compile on CUDA (fused kernels, in-kernel masks)")


def describe(
    model: nn.Module,
    mode: str = "auto",
    *,
    max_steps: int | None = None,
    max_minutes: float | None = None,
) -> FastPathInfo:
    """The path ``training_forward(model, mode, ...)`` takes, and why (the module's rule)."""
    check_mode(mode)
    if not isinstance(model, nn.Module):
        raise CourseLibError(f"model must be a torch nn.Module, got {type(model).__name__}")
    if mode == "off":
        return FastPathInfo(mode, "eager", "fast='off' asks for the eager model")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    if device.type == "cuda":
        return _compile_path(mode, device, max_steps, max_minutes)
    if device.type != "cpu":
        return FastPathInfo(mode, "eager", f"no fast path for {device.type} devices")
    cheap_dropout, math_kernel = _cpu_levers(model)
    if not (cheap_dropout or math_kernel):
        why = math_attention_unavailable()
        return FastPathInfo(mode, "eager", f"the model has no dropout, and {why}")
    levers = ["dropout masks from 16-bit random lanes"] if cheap_dropout else []
    if math_kernel:
        levers.append(f"the math attention kernel up to {MATH_ATTENTION_MAX_LEN} tokens")
    return FastPathInfo(mode, "cpu", "CPU: " + "; ".join(levers))


class TrainingForward:
    """``forward(src, tgt_in) -> logits (batch, tgt_len, V)``: ``model(src, tgt_in)`` by the
    path :attr:`info` names. A compiled forward that fails on its first call (a compiler
    error) warns and uses the eager model from then on; an error of the input itself
    (:class:`CourseLibError`) is raised as it is."""

    def __init__(self, model: nn.Module, info: FastPathInfo):
        self.model = model
        self.info = info
        self._compiled = torch.compile(model, dynamic=True) if info.path == "compiled" else None
        self._proven = False  # the compiled forward has run once
        cpu = info.path == "cpu"
        self._cheap_dropout, self._math_attention = _cpu_levers(model) if cpu else (False, False)

    def _cpu_context(self, src: Tensor, tgt: Tensor) -> ExitStack:
        levers = ExitStack()
        if self._cheap_dropout:
            levers.enter_context(CheapDropoutMasks())
        if self._math_attention and max(src.size(-1), tgt.size(-1)) <= MATH_ATTENTION_MAX_LEN:
            levers.enter_context(_math_kernel())
        return levers

    def __call__(self, src: Tensor, tgt: Tensor) -> Tensor:
        if self.info.path == "cpu":
            with self._cpu_context(src, tgt):
                return self.model(src, tgt)
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
    tgt_len)) -> (batch, tgt_len, V)``, computing ``model(src, tgt_in)``.

    ``mode`` is ``"auto"``, ``"on"`` or ``"off"`` (the rule is in the module docstring);
    ``max_steps``/``max_minutes`` are the run's budget, which ``"auto"`` weighs against a
    compile. Returns a :class:`TrainingForward`; its ``info`` says which path and why.
    """
    info = describe(model, mode, max_steps=max_steps, max_minutes=max_minutes)
    if mode == "on" and info.path == "eager":
        warnings.warn(f"fast='on' but training the eager model: {info.reason}", stacklevel=2)
    return TrainingForward(model, info)


__all__ = [
    "COMPILE_MIN_MINUTES",
    "COMPILE_MIN_STEPS",
    "LANES",
    "MATH_ATTENTION_MAX_LEN",
    "MODES",
    "CheapDropoutMasks",
    "FastPathInfo",
    "TrainingForward",
    "check_mode",
    "cheap_dropout",
    "compile_unavailable",
    "describe",
    "dropout_mask",
    "in_colab",
    "math_attention_unavailable",
    "training_forward",
]
