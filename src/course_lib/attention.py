"""Step 3: scaled dot-product attention and multi-head attention.

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V          (Vaswani et al. 2017, eq. 1)

Masks are boolean with ``True`` = "this query may attend to this key", broadcastable to
``(batch, heads, q_len, k_len)``. A query whose keys are all masked gets zero weights and
a zero output vector instead of NaN (in both the explicit and the fused path).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.errors import CourseLibError, ShapeError


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"shape {tuple(value.shape)}"
    return type(value).__name__


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether a tensor of ``shape`` broadcasts to exactly ``target`` (as a mask must to the
    scores). Plain Python: ``torch.broadcast_shapes`` costs more than the attention it guards
    at small sizes."""
    if len(shape) > len(target):
        return False
    return all(n in (1, m) for n, m in zip(reversed(shape), reversed(target)))


def _check_attention_inputs(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
) -> None:
    """Cheap checks (no tensor work) so that mistakes give a message instead of a deep
    torch error. Shapes: q ``(..., q_len, d_k)``, k ``(..., k_len, d_k)``, v ``(..., k_len, d_v)``.
    """
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
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ShapeError(f"mask must be a bool tensor (True = may attend), got {got}")
        scores_shape = (*q.shape[:-1], k.size(-2))
        if not _broadcasts_to(mask.shape, scores_shape):
            raise ShapeError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to the attention "
                f"scores' shape {scores_shape} (batch, heads, q_len, k_len); padding masks "
                f"are (batch, 1, 1, k_len), causal masks (1, 1, q_len, k_len)"
            )


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax over the last dimension where masked entries get exactly zero weight.

    Shapes: scores ``(..., q_len, k_len)``, mask bool broadcastable to it (True = may
    attend) -> ``(..., q_len, k_len)``. Each row sums to 1, except a row whose entries are
    all masked: it has no key to attend to and is all zeros (not NaN).
    """
    if not isinstance(scores, torch.Tensor) or not scores.is_floating_point():
        got = scores.dtype if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ShapeError(f"scores must be a floating-point tensor, got {got}")
    if mask is None:
        return scores.softmax(dim=-1)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ShapeError(f"mask must be a bool tensor (True = may attend), got {got}")
    if not _broadcasts_to(mask.shape, scores.shape):
        raise ShapeError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' shape "
            f"{tuple(scores.shape)}"
        )
    weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    # A fully masked row is all -inf, and softmax turns it into NaN: make it zeros.
    return weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)


def attention_weights(
    q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d_k)), masked keys getting zero weight (see :func:`masked_softmax`).

    Shapes: q ``(..., q_len, d_k)``, k ``(..., k_len, d_k)``, mask broadcastable to
    ``(..., q_len, k_len)`` -> weights ``(..., q_len, k_len)``.
    """
    _check_attention_inputs(q, k, k, mask)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., q_len, k_len)
    return masked_softmax(scores, mask)


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
        A query that may attend to no key gets a zero output (and zero weights).

    Without ``return_weights`` this calls PyTorch's fused
    ``F.scaled_dot_product_attention``; with it, the explicit matrix form of the chapter.
    Both give the same result (``tests/test_attention.py``).
    """
    _check_attention_inputs(q, k, v, mask)
    if not 0.0 <= dropout_p < 1.0:
        raise CourseLibError(f"dropout_p must be in [0, 1), got {dropout_p}")
    if return_weights:
        weights = attention_weights(q, k, mask)
        if dropout_p > 0.0:
            weights = F.dropout(weights, p=dropout_p)
        return weights @ v, weights
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    has_key = mask.any(dim=-1, keepdim=True)  # (..., q_len, 1): does the row see any key?
    if mask.device.type == "cpu" and bool(has_key.all()):  # the usual case: nothing to fix
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
    # Let fully masked rows attend everywhere (avoids NaN in the fused kernel and in its
    # gradient), then zero their output: the documented "no key -> zero vector".
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask | ~has_key, dropout_p=dropout_p)
    return out.masked_fill(~has_key, 0.0)


class MultiHeadAttention(nn.Module):
    """Multi-head attention: h heads each attend in a d_model/h dimensional subspace.

        MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,
        head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

    Shapes: query ``(batch, q_len, d_model)``, key/value ``(batch, k_len, d_model)``,
    mask broadcastable to ``(batch, heads, q_len, k_len)`` -> ``(batch, q_len, d_model)``;
    weights ``(batch, heads, q_len, k_len)`` when asked for.

    The three input projections W^Q, W^K, W^V are stacked in one linear layer ``in_proj``
    (``d_model -> 3 * d_model``), so self-attention projects with one matrix product;
    :meth:`projection` gives each one's weight and bias. ``out_proj`` is W^O.

    ``cache`` (a dict, one per attention module) keeps projected keys and values between
    decoding steps: for self-attention (``static_kv=False``) new keys/values are appended;
    for cross-attention (``static_kv=True``) they are computed from the encoder memory once.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        for name, value in (("d_model", d_model), ("n_heads", n_heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseLibError(f"{name} must be an integer >= 1, got {value!r}")
        if d_model % n_heads != 0:
            raise CourseLibError(
                f"d_model ({d_model}) must be divisible by n_heads ({n_heads}) so that every "
                f"head gets d_model / n_heads dimensions"
            )
        if not 0.0 <= dropout < 1.0:
            raise CourseLibError(f"dropout must be in [0, 1), got {dropout!r}")
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_head = d_model // n_heads
        self.dropout = dropout
        # W^Q, W^K and W^V stacked in one layer: rows [0, d) make the queries, [d, 2d) the
        # keys, [2d, 3d) the values (the layout of nn.MultiheadAttention's in_proj_weight).
        # Created without initial values (initialised just below), on the default device.
        device = torch.empty(0).device
        self.in_proj = nn.utils.skip_init(nn.Linear, d_model, 3 * d_model, bias, device=device)
        self._init_like_three_linears()
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        # The key bias adds the same number (q . b_k) to every score of a row, which the
        # softmax ignores: it cannot change any output and its true gradient is 0 (autograd
        # would compute rounding noise, which Adam turns into random steps). So it is not
        # used: 1 for the query and value biases, 0 for the key bias.
        used = torch.ones(3 * d_model)
        used[d_model : 2 * d_model] = 0.0
        self.register_buffer("bias_used", used, persistent=False)

    def _init_like_three_linears(self) -> None:
        """Initialise W^Q, W^K, W^V (and biases) exactly as three ``nn.Linear(d_model, d_model)``
        layers would be, one after the other (so the stacking changes no initial value)."""
        with torch.no_grad():
            for part in "qkv":
                weight, bias = self.projection(part)
                nn.init.kaiming_uniform_(weight, a=math.sqrt(5))  # nn.Linear's default
                if bias is not None:
                    bound = 1 / math.sqrt(self.d_model)
                    nn.init.uniform_(bias, -bound, bound)
            if self.in_proj.bias is not None:  # the key bias is not used (see __init__)
                self.projection("k")[1].zero_()

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, seq, d_model)`` -> ``(batch, heads, seq, d_head)``."""
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.n_heads, self.d_head).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, heads, seq, d_head)`` -> ``(batch, seq, d_model)``."""
        batch, _, seq, _ = x.shape
        return x.transpose(1, 2).reshape(batch, seq, self.d_model)

    def projection(self, parts: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Weight and bias of the projection(s) ``parts``: "q", "k" or "v" (weight
        ``(d_model, d_model)``, bias ``(d_model,)``), or "qkv" / "kv" stacked.

        They are views of rows of ``in_proj``. A linear layer computes ``x @ weight.T + bias``,
        so ``projection("q")[0].T`` is the paper's ``W^Q``.
        """
        if parts not in ("q", "k", "v", "qkv", "kv"):
            raise CourseLibError(f"parts must be 'q', 'k', 'v', 'qkv' or 'kv', got {parts!r}")
        start = "qkv".index(parts[0]) * self.d_model
        rows = slice(start, start + len(parts) * self.d_model)
        bias = self.in_proj.bias
        return self.in_proj.weight[rows], None if bias is None else bias[rows]

    def _project(self, x: torch.Tensor, parts: str) -> list[torch.Tensor]:
        """Project ``x`` with the rows of ``in_proj`` for ``parts`` ("qkv", "q", "kv"), in one
        matrix product, and split each result into heads ``(batch, heads, seq, d_head)``."""
        weight, bias = self.projection(parts)
        if bias is not None and "k" in parts:
            start = "qkv".index(parts[0]) * self.d_model
            bias = bias * self.bias_used[start : start + len(parts) * self.d_model]
        projected = F.linear(x, weight, bias).split(self.d_model, dim=-1)
        return [self.split_heads(t) for t in projected]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints written before q, k and v were stacked hold separate q_proj, k_proj,
        # v_proj layers: stack them into in_proj so that those checkpoints still load.
        for kind in ("weight", "bias"):
            old = [f"{prefix}{part}_proj.{kind}" for part in "qkv"]
            if all(key in state_dict for key in old):
                state_dict[f"{prefix}in_proj.{kind}"] = torch.cat([state_dict.pop(k) for k in old])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _check_inputs(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> None:
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, torch.Tensor) or t.dim() != 3 or t.size(-1) != self.d_model:
                raise ShapeError(
                    f"{name} must have shape (batch, seq_len, {self.d_model}), got {_describe(t)}"
                )
        if key.shape[:2] != value.shape[:2] or key.size(0) != query.size(0):
            raise ShapeError(
                f"query, key and value must share the batch size and key/value the length, "
                f"got query {tuple(query.shape)}, key {tuple(key.shape)}, "
                f"value {tuple(value.shape)}"
            )

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
        """Returns ``(output, weights)``; ``weights`` is None unless ``return_weights``.

        Shapes: see the class docstring. With ``cache`` and ``static_kv`` the keys and
        values stored at the first call are reused and ``key``/``value`` are ignored.
        """
        self._check_inputs(query, key, value)
        reuse = cache is not None and static_kv and "k" in cache
        if query is key and key is value and not reuse:  # self-attention
            q, k, v = self._project(query, "qkv")
        else:
            (q,) = self._project(query, "q")
            if reuse:  # cross-attention while decoding: the memory's keys and values, again
                k, v = cache["k"], cache["v"]
            elif key is value:
                k, v = self._project(key, "kv")
            else:
                (k,), (v,) = self._project(key, "k"), self._project(value, "v")
        if cache is not None and not reuse:
            if not static_kv and "k" in cache:  # self-attention while decoding: append
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        dropout_p = self.dropout if self.training else 0.0
        if return_weights:
            out, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p, True)
        else:
            out, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p), None
        return self.out_proj(self.merge_heads(out)), weights
