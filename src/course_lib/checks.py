"""Input checks, written once: every public entry point validates its arguments here.

Each function raises :class:`~course_lib.errors.CourseLibError` (or
:class:`~course_lib.errors.ShapeError` for tensors) with a message that names the argument,
what was expected and what came, and returns nothing (or the checked value, where noted).

Only the public edges call them (model entry points, generation, CLI, loaders, exercises):
inner layers trust what the model already checked. :func:`check_ids_in_vocab` is the one
check that reads tensor values back to the host; it is skipped under ``torch.compile``.

Other modules may add a check by appending a function at the end of this file.
"""

from __future__ import annotations

from typing import Any

import torch

from course_lib.errors import CourseLibError, ShapeError

# torch.compiler.is_compiling arrived in torch 2.3; with an older torch the check always runs.
_is_compiling = getattr(torch.compiler, "is_compiling", lambda: False)


def describe(value: Any) -> str:
    """A short description of ``value`` for an error message: a tensor's shape, else its type."""
    if isinstance(value, torch.Tensor):
        return f"shape {tuple(value.shape)}"
    return type(value).__name__


def check_int(value: Any, name: str, minimum: int | None = None) -> int:
    """``value`` is an ``int`` (not a ``bool``), at least ``minimum`` if given; returns it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise CourseLibError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise CourseLibError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def check_flag(value: Any, name: str) -> bool:
    """``value`` is ``True`` or ``False`` (not 0/1, not None); returns it."""
    if not isinstance(value, bool):
        raise CourseLibError(f"{name} must be True or False, got {value!r}")
    return value


def check_number(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """``value`` is a real number (int or float, not bool, not NaN) within the given bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise CourseLibError(f"{name} must be a number, got {value!r}")
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        if low is None:
            expected = f"<{'=' if high_inclusive else ''} {high:g}"
        elif high is None:
            expected = f">{'=' if low_inclusive else ''} {low:g}"
        else:
            left, right = "[" if low_inclusive else "(", "]" if high_inclusive else ")"
            expected = f"in {left}{low:g}, {high:g}{right}"
        raise CourseLibError(f"{name} must be {expected}, got {value!r}")
    return float(value)


def check_probability(value: Any, name: str) -> float:
    """A dropout-like probability in ``[0, 1)``; returns it as a float."""
    return check_number(value, name, 0.0, 1.0, high_inclusive=False)


def check_token_ids(ids: Any, name: str) -> None:
    """``ids`` is a non-empty int64/int32 tensor of shape ``(batch, seq_len)``.

    Shapes and dtype only (no tensor values are read): cheap enough for every call.
    """
    if not isinstance(ids, torch.Tensor):
        raise ShapeError(f"{name} must be a tensor of token ids, got {type(ids).__name__}")
    if ids.dtype not in (torch.int64, torch.int32):
        raise ShapeError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
    if ids.dim() != 2:
        raise ShapeError(f"{name} must have shape (batch, seq_len), got {tuple(ids.shape)}")
    if ids.size(0) == 0:
        raise ShapeError(f"{name} is empty: an empty batch, shape {tuple(ids.shape)}")
    if ids.size(1) == 0:
        raise ShapeError(f"{name} is empty: empty sentences, shape {tuple(ids.shape)}")


def check_ids_in_vocab(ids: torch.Tensor, vocab_size: int, name: str) -> None:
    """Every id of ``ids`` lies in ``[0, vocab_size)``.

    This reads two numbers back from the tensor (a host-device sync on a GPU, a graph break
    under ``torch.compile``), so it runs once per model call, never per layer or per decoded
    token, and not at all while ``torch.compile`` traces the model.
    """
    if _is_compiling():
        return
    low, high = (int(v) for v in torch.aminmax(ids))
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise CourseLibError(
            f"{name} contains token id {bad}, outside the vocabulary of "
            f"size {vocab_size} (mismatched vocabulary?)"
        )


def check_activations(x: Any, d_model: int, name: str = "x") -> None:
    """``x`` is a floating-point tensor of shape ``(batch, seq_len, d_model)``."""
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.size(-1) != d_model:
        raise ShapeError(f"{name} must have shape (batch, seq_len, {d_model}), got {describe(x)}")
    if not x.is_floating_point():
        raise ShapeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")


def check_bool_mask(mask: Any, name: str = "mask") -> None:
    """``mask`` is a bool tensor (``True`` = may attend)."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ShapeError(f"{name} must be a bool tensor (True = may attend), got {got}")


def broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether a tensor of ``shape`` broadcasts to exactly ``target`` (as a mask must to the
    attention scores). Plain Python: ``torch.broadcast_shapes`` costs more than the attention
    it guards at small sizes."""
    if len(shape) > len(target):
        return False
    return all(n in (1, m) for n, m in zip(reversed(shape), reversed(target)))


def check_mask_for(mask: Any, target: tuple[int, ...], what: str = "the attention scores'") -> None:
    """``mask`` is a bool tensor that broadcasts to ``target`` ``(batch, heads, q_len, k_len)``."""
    check_bool_mask(mask)
    if not broadcasts_to(tuple(mask.shape), tuple(target)):
        raise ShapeError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to {what} shape "
            f"{tuple(target)} (batch, heads, q_len, k_len); padding masks are "
            f"(batch, 1, 1, k_len), causal masks (1, 1, q_len, k_len)"
        )


def check_tokenizer(tokenizer: Any, name: str) -> None:
    """``tokenizer`` has ``encode()`` and ``decode()`` (a course_lib tokenizer or alike)."""
    if not (hasattr(tokenizer, "encode") and hasattr(tokenizer, "decode")):
        raise CourseLibError(
            f"{name} must be a tokenizer with encode() and decode() "
            f"(e.g. course_lib.tokenize.WordTokenizer), got {type(tokenizer).__name__}"
        )
