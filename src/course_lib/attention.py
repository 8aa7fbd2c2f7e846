"""Step 3: scaled dot-product attention and multi-head attention.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V          (Vaswani et al. 2017, eq. 1)

Masks are boolean with ``True`` = "this query may attend to this key", broadcastable to
``(batch, heads, q_len, k_len)``. A query whose keys are all masked gets zero weights and
a zero output vector instead of NaN.

The public functions check their inputs (a reader calls them directly); the model's layers
call :meth:`MultiHeadAttention.attend`, which trusts what the model already checked.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.checks import (
    check_int,
    check_mask_for,
    check_probability,
    describe,
)
from course_lib.errors import CourseLibError, ShapeError
from course_lib.kv_cache import KVCache


@dataclass
class AttentionWeights:
    """Attention weights of every layer, for the pictures: one tensor per layer, each
    ``(batch, heads, q_len, k_len)``. Pass an empty one to ``Encoder``/``Decoder`` (or
    ``Transformer.encode``/``decode``) to have it filled, or call ``Transformer.attention``.
    """

    encoder: list[torch.Tensor] = field(default_factory=list)  # (batch, heads, src, src)
    decoder_self: list[torch.Tensor] = field(default_factory=list)  # (batch, heads, tgt, tgt)
    cross: list[torch.Tensor] = field(default_factory=list)  # (batch, heads, tgt, src)


def _check_attention_inputs(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
) -> None:
    """Shapes: q ``(..., q_len, d_k)``, k ``(..., k_len, d_k)``, v ``(..., k_len, d_v)``."""
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, torch.Tensor):
            raise ShapeError(f"{name} must be a tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise ShapeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
        if t.dim() < 2:
            raise ShapeError(f"{name} must have shape (..., seq_len, dim), got {tuple(t.shape)}")
    if not q.dtype == k.dtype == v.dtype:
        raise ShapeError(
            f"query, key and value must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}"
        )
    if q.size(-1) != k.size(-1):
        raise ShapeError(
            f"query and key must share their last dimension (d_k), "
            f"got {q.size(-1)} and {k.size(-1)}"
        )
    if k.shape[:-1] != v.shape[:-1]:
        raise ShapeError(
            f"key and value must have the same leading dimensions and length, "
            f"got key {tuple(k.shape)} and value {tuple(v.shape)}"
        )
    if q.shape[:-2] != k.shape[:-2]:
        raise ShapeError(
            f"query and key must have the same leading (batch, heads) dimensions, "
            f"got query {tuple(q.shape)} and key {tuple(k.shape)}"
        )
    if mask is not None:
        check_mask_for(mask, (*q.shape[:-1], k.size(-2)))


def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return scores.softmax(dim=-1)
    weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    # A fully masked row is all -inf, and softmax turns it into NaN: make it zeros.
    return weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)


def _weights(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., q_len, k_len)
    return _masked_softmax(scores, mask)


def kernel_zeroes_blind_rows(choose_kernel: Callable[[], ContextManager] = nullcontext) -> bool:
    """Whether this torch's CPU attention kernel already gives a query that sees no key a
    zero output and finite gradients (recent torch does; older versions give NaN).
    ``choose_kernel()`` is entered around the probe, e.g. ``lambda: sdpa_kernel(backend)``
    to probe another kernel than the default. Probed once for the default kernel, at import."""
    try:
        with torch.inference_mode(False), torch.enable_grad(), choose_kernel():
            q = torch.ones(1, 1, 1, 2, requires_grad=True)
            kv = torch.ones(1, 1, 1, 2, requires_grad=True)
            blind = torch.zeros(1, 1, 1, 1, dtype=torch.bool)
            out = F.scaled_dot_product_attention(q, kv, kv, attn_mask=blind)
            out.sum().backward()
            finite = not (q.grad.isnan().any() or kv.grad.isnan().any())
            return bool(out.eq(0).all()) and finite
    except RuntimeError:
        return False


_ZEROES_BLIND_ROWS_ON_CPU = kernel_zeroes_blind_rows()


def _attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, dropout_p: float
) -> torch.Tensor:
    """PyTorch's fused kernel, with "no key -> zero vector" for fully masked rows."""
    if mask is None or (_ZEROES_BLIND_ROWS_ON_CPU and q.device.type == "cpu"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
    # Elsewhere a fully masked row would give NaN (in the output and its gradient): let it
    # attend everywhere, then zero its output. Two small tensor ops, no value read back.
    blind = ~mask.any(dim=-1, keepdim=True)  # (..., q_len, 1): the row sees no key
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask | blind, dropout_p=dropout_p)
    return out.masked_fill(blind, 0.0)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the last dimension where masked entries get exactly zero weight.

    Shapes: scores ``(..., q_len, k_len)``, mask bool broadcastable to it (True = may
    attend) -> ``(..., q_len, k_len)``. Each row sums to 1, except a row whose entries are
    all masked: it has no key to attend to and is all zeros (not NaN).
    """
    if not isinstance(scores, torch.Tensor) or not scores.is_floating_point():
        got = scores.dtype if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ShapeError(f"scores must be a floating-point tensor, got {got}")
    if mask is not None:
        check_mask_for(mask, tuple(scores.shape), "the scores'")
    return _masked_softmax(scores, mask)


def attention_weights(
    q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d_k)), masked keys getting zero weight (see :func:`masked_softmax`).

    Shapes: q ``(..., q_len, d_k)``, k ``(..., k_len, d_k)``, mask broadcastable to
    ``(..., q_len, k_len)`` -> weights ``(..., q_len, k_len)``. The attention's output is
    ``attention_weights(q, k, mask) @ v``, which :func:`scaled_dot_product_attention`
    computes in one fused kernel.
    """
    _check_attention_inputs(q, k, k, mask)
    return _weights(q, k, mask)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> torch.Tensor:
    """Scaled dot-product attention, with PyTorch's fused kernel.

    Args:
        q: queries ``(..., q_len, d_k)``.
        k: keys ``(..., k_len, d_k)``.
        v: values ``(..., k_len, d_v)``.
        mask: optional bool, broadcastable to ``(..., q_len, k_len)``; True = may attend.
        dropout_p: dropout on the attention weights (pass 0.0 in eval mode).

    Returns:
        ``(..., q_len, d_v)``; a query that may attend to no key gets a zero vector. The
        weights themselves come from :func:`attention_weights` (the explicit matrix form of
        the chapter): ``attention_weights(q, k, mask) @ v`` is the same result.
    """
    _check_attention_inputs(q, k, v, mask)
    check_probability(dropout_p, "dropout_p")
    return _attend(q, k, v, mask, dropout_p)


class MultiHeadAttention(nn.Module):
    """Multi-head attention: h heads each attend in a d_model/h dimensional subspace.

        MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,
        head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

    Shapes: query ``(batch, q_len, d_model)``, key/value ``(batch, k_len, d_model)``,
    mask broadcastable to ``(batch, heads, q_len, k_len)`` -> ``(batch, q_len, d_model)``
    and, with ``need_weights``, weights ``(batch, heads, q_len, k_len)``.

    W^Q, W^K, W^V are stacked in one linear layer ``in_proj`` (``d_model -> 3 * d_model``,
    the layout of ``nn.MultiheadAttention``), so self-attention projects with one matrix
    product; :meth:`projection` gives each one's weight and bias. ``out_proj`` is W^O.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        check_int(d_model, "d_model", 1)
        check_int(n_heads, "n_heads", 1)
        if d_model % n_heads != 0:
            raise CourseLibError(
                f"d_model ({d_model}) must be divisible by n_heads ({n_heads}) so that every "
                f"head gets d_model / n_heads dimensions"
            )
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.dropout = check_probability(dropout, "dropout")
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)  # rows: q, then k, then v
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        if bias:  # the key bias adds q.b_k to every score of a row, which softmax ignores
            nn.init.zeros_(self.in_proj.bias[d_model : 2 * d_model])

    def projection(self, parts: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Weight ``(len(parts) * d_model, d_model)`` and bias of "q", "k", "v", "kv" or "qkv":
        views of rows of ``in_proj``. ``projection("q")[0].T`` is the paper's ``W^Q``."""
        if parts not in ("q", "k", "v", "qkv", "kv"):
            raise CourseLibError(f"parts must be 'q', 'k', 'v', 'qkv' or 'kv', got {parts!r}")
        start = "qkv".index(parts[0]) * self.d_model
        rows = slice(start, start + len(parts) * self.d_model)
        bias = self.in_proj.bias
        return self.in_proj.weight[rows], None if bias is None else bias[rows]

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, seq, d_model)`` -> ``(batch, heads, seq, d_head)``."""
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.n_heads, self.d_head).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, heads, seq, d_head)`` -> ``(batch, seq, d_model)``."""
        batch, _, seq, _ = x.shape
        return x.transpose(1, 2).reshape(batch, seq, self.d_model)

    def _project(self, x: torch.Tensor, parts: str) -> list[torch.Tensor]:
        """``x`` through the rows ``parts`` of ``in_proj`` in one product, split into heads."""
        projected = F.linear(x, *self.projection(parts)).split(self.d_model, dim=-1)
        return [self.split_heads(t) for t in projected]

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        need_weights: bool = False,
        cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Checks the inputs, then :meth:`attend`: returns ``(output, weights or None)``."""
        _check_mha_inputs(self, query, key, value, mask, cache)
        return self.attend(query, key, value, mask, need_weights, cache)

    def attend(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        need_weights: bool = False,
        cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Project, split into heads, attend, merge, project: ``(output, weights or None)``.

        With a ``cache``, ``query`` holds the new positions only: self-attention appends
        their keys and values; a static (cross-attention) cache computes the memory's keys
        and values once and ignores ``key``/``value`` afterwards.
        """
        if cache is not None and cache.ready:  # cross-attention while decoding
            (q,) = self._project(query, "q")
            k, v = cache.keys, cache.values
        else:
            if query is key and key is value:  # self-attention: one matrix product
                q, k, v = self._project(query, "qkv")
            elif key is value:
                (q,), (k, v) = self._project(query, "q"), self._project(key, "kv")
            else:
                (q,), (k,), (v,) = (self._project(t, p) for t, p in zip((query, key, value), "qkv"))
            if cache is not None:
                k, v = cache.append(k, v)
        dropout_p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            weights = F.dropout(_weights(q, k, mask), p=dropout_p)
            out = weights @ v
        else:
            out = _attend(q, k, v, mask, dropout_p)
        return self.out_proj(self.merge_heads(out)), weights


def _check_mha_inputs(
    mha: MultiHeadAttention,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    cache: KVCache | None,
) -> None:
    """What :meth:`MultiHeadAttention.forward` checks before attending (shapes only)."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, torch.Tensor) or t.dim() != 3 or t.size(-1) != mha.d_model:
            raise ShapeError(
                f"{name} must have shape (batch, seq_len, {mha.d_model}), got {describe(t)}"
            )
    if key.shape[:2] != value.shape[:2] or key.size(0) != query.size(0):
        raise ShapeError(
            f"query, key and value must share the batch size and key/value the length, "
            f"got query {tuple(query.shape)}, key {tuple(key.shape)}, "
            f"value {tuple(value.shape)}"
        )
    if cache is not None and not isinstance(cache, KVCache):
        raise CourseLibError(f"cache must be a KVCache, got {type(cache).__name__}")
    if mask is not None:
        k_len = key.size(1)
        if cache is not None and cache.keys is not None:
            k_len = cache.keys.size(2) + (0 if cache.static else k_len)
        check_mask_for(mask, (query.size(0), mha.n_heads, query.size(1), k_len))
