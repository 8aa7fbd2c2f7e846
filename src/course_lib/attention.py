"""Step 3: scaled dot-product attention and multi-head attention.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V          (Vaswani et al. 2017, eq. 1)

Masks are boolean with ``True`` = "this query may attend to this key", broadcastable to
``(batch, heads, q_len, k_len)``. A query whose keys are all masked gets zero weights and
a zero output vector instead of NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.errors import CourseLibError, ShapeError


def _check_attention_inputs(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
) -> None:
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, torch.Tensor):
            raise ShapeError(f"{name} must be a tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise ShapeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
        if t.dim() < 2:
            raise ShapeError(f"{name} must have shape (..., seq_len, dim), got {tuple(t.shape)}")
    if q.size(-1) != k.size(-1):
        raise ShapeError(
            f"query and key must share their last dimension (d_k), "
            f"got {q.size(-1)} and {k.size(-1)}"
        )
    if k.size(-2) != v.size(-2):
        raise ShapeError(
            f"key and value must have the same length, got {k.size(-2)} and {v.size(-2)}"
        )
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise ShapeError(
                f"mask must be a bool tensor (True = may attend), got "
                f"{mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__}"
            )
        scores_shape = (*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), q.size(-2), k.size(-2))
        try:
            if torch.broadcast_shapes(mask.shape, scores_shape) != scores_shape:
                raise RuntimeError
        except RuntimeError:
            raise ShapeError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to the "
                f"attention scores' shape {scores_shape} "
                f"(batch, heads, q_len, k_len)"
            ) from None


def attention_weights(
    q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d_k)) with masked keys set to -inf before the softmax.

    Shapes: q ``(..., q_len, d_k)``, k ``(..., k_len, d_k)`` -> ``(..., q_len, k_len)``.
    Rows with no visible key are all zeros.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is None:
        return scores.softmax(dim=-1)
    scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights.nan_to_num(0.0)  # a fully masked row is all -inf -> NaN -> 0


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention.

    Args:
        q: queries ``(..., q_len, d_k)``.
        k: keys ``(..., k_len, d_k)``.
        v: values ``(..., k_len, d_v)``.
        mask: optional bool, broadcastable to ``(..., q_len, k_len)``; True = may attend.
        dropout_p: dropout on the attention weights (pass 0.0 in eval mode).
        return_weights: also return the weights ``(..., q_len, k_len)``.

    Returns:
        ``(..., q_len, d_v)``, or ``(output, weights)`` when ``return_weights``.

    Without ``return_weights`` this calls PyTorch's fused
    ``F.scaled_dot_product_attention``; with it, the explicit matrix form of the chapter.
    Both give the same result (``tests/test_attention.py``).
    """
    _check_attention_inputs(q, k, v, mask)
    has_key = None
    if mask is not None:
        has_key = mask.any(dim=-1, keepdim=True)  # (..., q_len, 1): any visible key?
    if return_weights:
        weights = attention_weights(q, k, mask)
        if dropout_p > 0.0:
            weights = F.dropout(weights, p=dropout_p)
        return weights @ v, weights
    if mask is not None:
        # Let fully masked rows attend everywhere (avoids NaN in the fused kernel and its
        # gradient), then zero their output: the documented "no key -> zero vector".
        safe_mask = mask | ~has_key
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=safe_mask, dropout_p=dropout_p)
        return out.masked_fill(~has_key, 0.0)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)


class MultiHeadAttention(nn.Module):
    """Multi-head attention: h heads each attend in a d_model/h dimensional subspace.

        MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,
        head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

    Shapes: query ``(batch, q_len, d_model)``, key/value ``(batch, k_len, d_model)``,
    mask broadcastable to ``(batch, heads, q_len, k_len)`` -> ``(batch, q_len, d_model)``;
    weights ``(batch, heads, q_len, k_len)`` when asked for.

    ``cache`` (a dict, one per attention module) keeps projected keys and values between
    decoding steps: for self-attention (``static_kv=False``) new keys/values are appended;
    for cross-attention (``static_kv=True``) they are computed from the encoder memory once.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if d_model < 1 or n_heads < 1:
            raise CourseLibError(
                f"d_model and n_heads must be >= 1, got d_model={d_model}, n_heads={n_heads}"
            )
        if d_model % n_heads != 0:
            raise CourseLibError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, seq, d_model)`` -> ``(batch, heads, seq, d_head)``."""
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.n_heads, self.d_head).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, heads, seq, d_head)`` -> ``(batch, seq, d_model)``."""
        batch, _, seq, _ = x.shape
        return x.transpose(1, 2).reshape(batch, seq, self.d_model)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        return_weights: bool = False,
        cache: dict[str, torch.Tensor] | None = None,
        static_kv: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns ``(output, weights)``; ``weights`` is None unless ``return_weights``."""
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, torch.Tensor) or t.dim() != 3 or t.size(-1) != self.d_model:
                shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise ShapeError(
                    f"{name} must have shape (batch, seq_len, {self.d_model}), got {shape}"
                )
        q = self.split_heads(self.q_proj(query))
        if cache is not None and static_kv and "k" in cache:
            k, v = cache["k"], cache["v"]
        else:
            k = self.split_heads(self.k_proj(key))
            v = self.split_heads(self.v_proj(value))
            if cache is not None:
                if not static_kv and "k" in cache:
                    k = torch.cat([cache["k"], k], dim=2)
                    v = torch.cat([cache["v"], v], dim=2)
                cache["k"], cache["v"] = k, v
        dropout_p = self.dropout if self.training else 0.0
        if return_weights:
            out, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p, True)
        else:
            out, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p), None
        return self.out_proj(self.merge_heads(out)), weights
