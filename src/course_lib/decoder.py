"""Step 4: the decoder - masked self-attention over the French words so far,
cross-attention to the encoder's output, and a feed-forward network, N layers deep.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.attention import MultiHeadAttention
from course_lib.config import TransformerConfig
from course_lib.encoder import FeedForward, check_activations
from course_lib.errors import CourseLibError


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention, feed-forward; residual + LayerNorm around each.

    Shapes: x ``(batch, tgt_len, d_model)``, memory ``(batch, src_len, d_model)``,
    self_mask ``(batch or 1, 1, tgt_len, tgt_len)`` (causal + padding),
    memory_mask ``(batch, 1, 1, src_len)`` -> ``(batch, tgt_len, d_model)``.

    ``cache`` (a dict, one per layer) enables incremental decoding: x holds only the new
    position(s) and the layer keeps keys/values for ``"self"`` and ``"cross"`` attention.
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
        return_weights: bool = False,
        cache: dict[str, dict[str, torch.Tensor]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Returns ``(x, self_weights, cross_weights)``; weights are None unless asked for."""
        check_activations(x, self.d_model)
        check_activations(memory, self.d_model, "memory")
        self_cache = cache.setdefault("self", {}) if cache is not None else None
        cross_cache = cache.setdefault("cross", {}) if cache is not None else None
        if self.norm_first:
            h = self.norm1(x)
            attended, self_weights = self.self_attn(h, h, h, self_mask, return_weights, self_cache)
            x = x + self.dropout1(attended)
            h = self.norm2(x)
            attended, cross_weights = self.cross_attn(
                h, memory, memory, memory_mask, return_weights, cross_cache, True
            )
            x = x + self.dropout2(attended)
            x = x + self.dropout3(self.feed_forward(self.norm3(x)))
        else:
            attended, self_weights = self.self_attn(x, x, x, self_mask, return_weights, self_cache)
            x = self.norm1(x + self.dropout1(attended))
            attended, cross_weights = self.cross_attn(
                x, memory, memory, memory_mask, return_weights, cross_cache, True
            )
            x = self.norm2(x + self.dropout2(attended))
            x = self.norm3(x + self.dropout3(self.feed_forward(x)))
        return x, self_weights, cross_weights


class Decoder(nn.Module):
    """N decoder layers (6 in the paper), then a final LayerNorm (as ``nn.Transformer``).

    Shapes: x ``(batch, tgt_len, d_model)`` (embedded and position-encoded),
    memory ``(batch, src_len, d_model)`` -> ``(batch, tgt_len, d_model)``.
    With ``return_weights`` also ``{"self": [...], "cross": [...]}``, one
    ``(batch, heads, tgt_len, k_len)`` tensor per layer.
    ``cache`` is a list with one dict per layer (see :class:`DecoderLayer`).
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

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        self_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        return_weights: bool = False,
        cache: list[dict] | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, list[torch.Tensor]]]:
        """Output ``(batch, tgt_len, d_model)``, plus the per-layer weights if asked for."""
        if cache is not None and (not isinstance(cache, list) or len(cache) != len(self.layers)):
            got = f"{len(cache)} entries" if isinstance(cache, list) else type(cache).__name__
            raise CourseLibError(
                f"cache must be a list with one dict per decoder layer ({len(self.layers)}), "
                f"got {got}; use Transformer.new_cache()"
            )
        weights: dict[str, list[torch.Tensor]] = {"self": [], "cross": []}
        for i, layer in enumerate(self.layers):
            layer_cache = cache[i] if cache is not None else None
            x, self_w, cross_w = layer(
                x, memory, self_mask, memory_mask, return_weights, layer_cache
            )
            weights["self"].append(self_w)
            weights["cross"].append(cross_w)
        x = self.norm(x)
        return (x, weights) if return_weights else x
