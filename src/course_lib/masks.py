"""Step 4: which positions may attend to which.

All masks are boolean with ``True`` = "may attend" and broadcast to
``(batch, heads, q_len, k_len)``:

* padding mask ``(batch, 1, 1, k_len)``: hides ``<pad>`` keys from every query;
* causal mask ``(1, 1, q_len, k_len)``: position i sees positions <= i only, so the
  decoder cannot read the words it is asked to predict.
"""

from __future__ import annotations

import torch

from course_lib.checks import check_bool_mask, check_int
from course_lib.errors import ShapeError


def padding_mask(ids: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """``(batch, seq_len)`` token ids -> ``(batch, 1, 1, seq_len)`` bool, True for real tokens."""
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
        shape = tuple(ids.shape) if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise ShapeError(f"padding_mask expects token ids of shape (batch, seq_len), got {shape}")
    if ids.is_floating_point() or ids.dtype == torch.bool:
        raise ShapeError(f"padding_mask expects integer token ids, got dtype {ids.dtype}")
    return (ids != pad_id)[:, None, None, :]


def causal_mask(
    size: int, device: torch.device | str | None = None, start: int = 0
) -> torch.Tensor:
    """``(1, 1, size, start + size)`` lower-triangular bool mask: query i may attend to
    keys ``0 .. start + i``.

    ``start`` is for incremental decoding, where ``size`` new queries sit at positions
    ``start ..`` and see every earlier key; with ``start=0`` (the usual case) the mask
    is square, ``(1, 1, size, size)``.
    """
    check_int(size, "causal_mask size", 1)
    check_int(start, "causal_mask start", 0)
    ones = torch.ones(size, start + size, dtype=torch.bool, device=device)
    return ones.tril(diagonal=start)[None, None]


def combine_masks(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """Logical AND of the given masks (``None`` entries ignored), broadcast together.

    A position may attend only if every mask allows it, e.g.
    ``combine_masks(padding_mask(tgt), causal_mask(tgt.size(1)))`` -> ``(batch, 1, T, T)``.
    """
    present = [m for m in masks if m is not None]
    if not present:
        return None
    for m in present:
        check_bool_mask(m, "masks")
    try:
        shape = torch.broadcast_shapes(*(m.shape for m in present))
    except RuntimeError:
        shapes = ", ".join(str(tuple(m.shape)) for m in present)
        raise ShapeError(f"masks of shapes {shapes} do not broadcast together") from None
    combined = present[0].expand(shape)
    for m in present[1:]:
        combined = combined & m
    return combined
