"""Step 4: the decoder - masked self-attention over the French words so far,
cross-attention to the encoder's output, and a feed-forward network, N layers deep.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.attention import AttentionWeights, MultiHeadAttention
from course_lib.checks import check_activations, check_mask_for
from course_lib.config import TransformerConfig
from course_lib.encoder import FeedForward
from course_lib.errors import CourseLibError, ShapeError
from course_lib.kv_cache import LayerCache


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention, feed-forward; residual + LayerNorm around each.

    Shapes: x ``(batch, tgt_len, d_model)``, memory ``(batch, src_len, d_model)``,
    self_mask ``(batch or 1, 1, tgt_len, tgt_len)`` (causal + padding),
    memory_mask ``(batch, 1, 1, src_len)`` -> ``(batch, tgt_len, d_model)``.

    ``cache`` (a :class:`~course_lib.kv_cache.LayerCache`) enables incremental decoding:
    x holds only the new position(s); the layer keeps the keys/values of its self- and
    cross-attention there.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        layer_norm_eps: float = 1e-5,
    ):
        super().__init__()
        self.d_model = d_model
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        self_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        need_weights: bool = False,
        cache: LayerCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Returns ``(x, self_weights, cross_weights)``; weights are None unless asked for.

        No input checks here: :class:`Decoder` (or the model) checked them once.
        """
        self_cache = cache.self_attn if cache is not None else None
        cross_cache = cache.cross_attn if cache is not None else None
        if self.norm_first:
            h = self.norm1(x)
            attended, self_w = self.self_attn.attend(h, h, h, self_mask, need_weights, self_cache)
            x = x + self.dropout1(attended)
            h = self.norm2(x)
            attended, cross_w = self.cross_attn.attend(
                h, memory, memory, memory_mask, need_weights, cross_cache
            )
            x = x + self.dropout2(attended)
            x = x + self.dropout3(self.feed_forward(self.norm3(x)))
        else:
            attended, self_w = self.self_attn.attend(x, x, x, self_mask, need_weights, self_cache)
            x = self.norm1(x + self.dropout1(attended))
            attended, cross_w = self.cross_attn.attend(
                x, memory, memory, memory_mask, need_weights, cross_cache
            )
            x = self.norm2(x + self.dropout2(attended))
            x = self.norm3(x + self.dropout3(self.feed_forward(x)))
        return x, self_w, cross_w


class Decoder(nn.Module):
    """N decoder layers (6 in the paper), then a final LayerNorm (as ``nn.Transformer``).

    Shapes: x ``(batch, tgt_len, d_model)`` (embedded and position-encoded),
    memory ``(batch, src_len, d_model)`` -> ``(batch, tgt_len, d_model)``.
    Pass an :class:`~course_lib.attention.AttentionWeights` as ``weights`` to collect one
    ``(batch, heads, tgt_len, k_len)`` tensor per layer. ``cache`` is a list with one
    :class:`~course_lib.kv_cache.LayerCache` per layer (``Transformer.new_cache()``).
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise CourseLibError(f"Decoder needs a TransformerConfig, got {type(config).__name__}")
        self.layers = nn.ModuleList(
            DecoderLayer(
                config.d_model,
                config.n_heads,
                config.d_ff,
                config.dropout,
                config.norm_first,
                config.layer_norm_eps,
            )
            for _ in range(config.n_decoder_layers)
        )
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.d_model, self.n_heads = config.d_model, config.n_heads

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        self_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        cache: list[LayerCache] | None = None,
        weights: AttentionWeights | None = None,
    ) -> torch.Tensor:
        """Output ``(batch, tgt_len, d_model)``. Given ``weights``, each layer's self- and
        cross-attention weights are appended to ``weights.decoder_self`` and ``weights.cross``.

        Checks its inputs once (shapes only, no tensor values read), not per layer.
        """
        self._check(x, memory, self_mask, memory_mask, cache)
        for i, layer in enumerate(self.layers):
            layer_cache = cache[i] if cache is not None else None
            x, self_w, cross_w = layer(
                x, memory, self_mask, memory_mask, weights is not None, layer_cache
            )
            if weights is not None:
                weights.decoder_self.append(self_w)
                weights.cross.append(cross_w)
        return self.norm(x)

    def _check(self, x, memory, self_mask, memory_mask, cache) -> None:
        check_activations(x, self.d_model)
        check_activations(memory, self.d_model, "memory")
        batch, tgt_len = x.shape[:2]
        if memory.size(0) != batch:
            raise ShapeError(
                f"memory has batch size {memory.size(0)} but the target has {batch}: "
                f"encode the source sentences that belong to these targets"
            )
        if cache is not None and (
            not isinstance(cache, list)
            or len(cache) != len(self.layers)
            or not all(isinstance(layer, LayerCache) for layer in cache)
        ):
            got = f"{len(cache)} entries" if isinstance(cache, list) else type(cache).__name__
            raise CourseLibError(
                f"cache must be a list with one LayerCache per decoder layer "
                f"({len(self.layers)}), got {got}; use Transformer.new_cache()"
            )
        past = cache[0].self_attn.keys if cache is not None else None
        k_len = tgt_len + (past.size(2) if past is not None else 0)
        if self_mask is not None:
            check_mask_for(self_mask, (batch, self.n_heads, tgt_len, k_len))
        if memory_mask is not None:
            check_mask_for(memory_mask, (batch, self.n_heads, tgt_len, memory.size(1)))
