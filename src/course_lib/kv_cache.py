"""Step 5: the key/value cache that makes decoding one token at a time cheap.

While the decoder writes a translation, every step would project the keys and values of
the whole prefix again. The cache keeps them instead:

* self-attention: each step projects only the new position and appends its key and value;
* cross-attention: the keys and values come from the encoder memory, which does not change,
  so they are projected at the first step and reused.

Shapes: keys and values ``(batch, heads, t, d_head)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from course_lib.errors import ShapeError


@dataclass
class KVCache:
    """Projected keys and values of one attention module, kept between decoding steps.

    ``static=False`` (self-attention): :meth:`append` concatenates along the positions.
    ``static=True`` (cross-attention): the first :meth:`append` stores them, later steps
    reuse them (:attr:`ready`) without projecting the memory again.
    """

    static: bool = False
    keys: torch.Tensor | None = None  # (batch, heads, t, d_head)
    values: torch.Tensor | None = None  # (batch, heads, t, d_head)

    @property
    def ready(self) -> bool:
        """True for a static cache that already holds its keys and values."""
        return self.static and self.keys is not None

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new positions' keys/values; returns everything cached so far."""
        if self.keys is not None and not self.static:
            keys = torch.cat([self.keys, keys], dim=2)
            values = torch.cat([self.values, values], dim=2)
        self.keys, self.values = keys, values
        return keys, values

    def reorder(self, index: torch.Tensor) -> None:
        """Keep the rows ``index`` ``(new_batch,)`` (beam search: hypothesis i continues
        from beam ``index[i]``)."""
        if self.keys is not None:
            self.keys = self.keys.index_select(0, index)
            self.values = self.values.index_select(0, index)


@dataclass
class LayerCache:
    """The two caches of one decoder layer."""

    self_attn: KVCache = field(default_factory=KVCache)
    cross_attn: KVCache = field(default_factory=lambda: KVCache(static=True))


def new_cache(n_layers: int) -> list[LayerCache]:
    """An empty cache for a decoder of ``n_layers`` layers."""
    return [LayerCache() for _ in range(n_layers)]


def reorder_cache(cache: list[LayerCache], index: torch.Tensor) -> None:
    """Keep, in place, the cache rows ``index`` (``(new_batch,)`` int64) of every layer."""
    if not isinstance(index, torch.Tensor) or index.dim() != 1 or index.dtype != torch.long:
        shape = tuple(index.shape) if isinstance(index, torch.Tensor) else type(index).__name__
        raise ShapeError(f"reorder_cache: index must be a 1-D int64 tensor, got {shape}")
    for layer in cache:
        layer.self_attn.reorder(index)
        layer.cross_attn.reorder(index)
