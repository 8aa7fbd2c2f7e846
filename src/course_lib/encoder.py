"""Step 3: the encoder - a stack of identical layers, each self-attention then a
position-wise feed-forward network, with residual connections and layer normalisation.

All positions are processed at once (one matrix product per projection), which is why
the encoder "runs in parallel".
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.attention import AttentionWeights, MultiHeadAttention
from course_lib.checks import check_activations, check_int, check_mask_for
from course_lib.config import TransformerConfig
from course_lib.errors import CourseLibError


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W1 + b1) W2 + b2, applied to every position separately.

    Shapes: ``(batch, seq_len, d_model)`` -> ``(batch, seq_len, d_model)``.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        check_int(d_model, "FeedForward d_model", 1)
        check_int(d_ff, "FeedForward d_ff", 1)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, seq_len, d_model)`` -> ``(batch, seq_len, d_model)``."""
        return self.linear2(self.dropout(torch.relu(self.linear1(x))))


class EncoderLayer(nn.Module):
    """Self-attention + feed-forward, each wrapped in a residual connection and LayerNorm.

    post-norm (paper, default): ``x = norm(x + dropout(sublayer(x)))``
    pre-norm (``norm_first``):  ``x = x + dropout(sublayer(norm(x)))``

    Shapes: x ``(batch, src_len, d_model)``, mask ``(batch, 1, 1, src_len)`` ->
    ``(batch, src_len, d_model)`` and, if asked, weights ``(batch, heads, src_len, src_len)``.
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
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns ``(x, weights)``; ``weights`` is None unless ``need_weights``.

        No input checks here: :class:`Encoder` (or the model) checked them once.
        """
        if self.norm_first:
            h = self.norm1(x)
            attended, weights = self.self_attn.attend(h, h, h, mask, need_weights)
            x = x + self.dropout1(attended)
            x = x + self.dropout2(self.feed_forward(self.norm2(x)))
        else:
            attended, weights = self.self_attn.attend(x, x, x, mask, need_weights)
            x = self.norm1(x + self.dropout1(attended))
            x = self.norm2(x + self.dropout2(self.feed_forward(x)))
        return x, weights


class Encoder(nn.Module):
    """N encoder layers (6 in the paper), then a final LayerNorm (as ``nn.Transformer``).

    Shapes: x ``(batch, src_len, d_model)`` (embedded and position-encoded),
    mask ``(batch, 1, 1, src_len)`` -> ``(batch, src_len, d_model)``.
    Pass an :class:`~course_lib.attention.AttentionWeights` as ``weights`` to collect the
    per-layer ``(batch, heads, src_len, src_len)`` self-attention weights.
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise CourseLibError(f"Encoder needs a TransformerConfig, got {type(config).__name__}")
        self.layers = nn.ModuleList(
            EncoderLayer(
                config.d_model,
                config.n_heads,
                config.d_ff,
                config.dropout,
                config.norm_first,
                config.layer_norm_eps,
            )
            for _ in range(config.n_encoder_layers)
        )
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.d_model, self.n_heads = config.d_model, config.n_heads

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        weights: AttentionWeights | None = None,
    ) -> torch.Tensor:
        """Memory ``(batch, src_len, d_model)``. Given ``weights``, each layer's
        self-attention weights are appended to ``weights.encoder``.

        Checks its inputs once (shapes only, no tensor values read), not per layer.
        """
        check_activations(x, self.d_model)
        if mask is not None:
            check_mask_for(mask, (x.size(0), self.n_heads, x.size(1), x.size(1)))
        for layer in self.layers:
            x, layer_weights = layer(x, mask, weights is not None)
            if weights is not None:
                weights.encoder.append(layer_weights)
        return self.norm(x)
