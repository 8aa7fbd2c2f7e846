"""Scaled dot-product attention and multi-head attention (course_lib.attention)."""

from __future__ import annotations

import math

import pytest
import torch

import course_lib.attention as attention_module
from course_lib.attention import (
    MultiHeadAttention,
    attention_weights,
    masked_softmax,
    scaled_dot_product_attention,
)
from course_lib.errors import CourseLibError, ShapeError
from course_lib.kv_cache import KVCache
from course_lib.masks import causal_mask, combine_masks, padding_mask


def qkv(*shape: int, k_len: int | None = None, seed: int = 0, dtype=torch.float32):
    """Random q ``(*shape)`` and k, v with ``k_len`` positions (default: same as q)."""
    g = torch.Generator().manual_seed(seed)
    *lead, q_len, d = shape
    k_len = q_len if k_len is None else k_len
    q = torch.randn(*lead, q_len, d, generator=g, dtype=dtype)
    k = torch.randn(*lead, k_len, d, generator=g, dtype=dtype)
    v = torch.randn(*lead, k_len, d + 3, generator=g, dtype=dtype)
    return q, k, v


def attend(q, k, v, mask=None, need_weights=False):
    """The library's two paths: the fused kernel (output only), or the explicit matrix form
    ``attention_weights(q, k, mask) @ v`` (output and weights)."""
    if not need_weights:
        return scaled_dot_product_attention(q, k, v, mask)
    weights = attention_weights(q, k, mask)
    return weights @ v, weights


def explicit(q, k, v, mask=None):
    """The chapter's matrix form, written out independently of the library."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(-1).nan_to_num(0.0)
    return weights @ v, weights


# --- shapes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("batch", "heads", "q_len", "k_len", "d"),
    [(1, 1, 1, 1, 1), (2, 4, 5, 5, 8), (3, 2, 4, 7, 16), (1, 8, 7, 3, 4)],
)
@pytest.mark.parametrize("need_weights", [False, True])
def test_shapes(batch, heads, q_len, k_len, d, need_weights):
    q, k, v = qkv(batch, heads, q_len, d, k_len=k_len)
    result = attend(q, k, v, need_weights=need_weights)
    out = result[0] if need_weights else result
    assert out.shape == (batch, heads, q_len, d + 3)
    if need_weights:
        assert result[1].shape == (batch, heads, q_len, k_len)


def test_works_without_batch_dimensions():
    q, k, v = qkv(4, 6, k_len=5)
    out, weights = attend(q, k, v, need_weights=True)
    assert out.shape == (4, 9) and weights.shape == (4, 5)


def test_matches_the_formula_of_the_paper():
    q, k, v = qkv(2, 3, 4, 8)
    out, weights = attend(q, k, v, need_weights=True)
    want_out, want_weights = explicit(q, k, v)
    torch.testing.assert_close(weights, want_weights, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(out, want_out, atol=1e-6, rtol=1e-6)


# --- masks --------------------------------------------------------------------------------


def padded_ids() -> torch.Tensor:
    return torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0], [5, 0, 0, 0, 0]])


def test_masked_positions_get_exactly_zero_weight_and_rows_sum_to_one():
    ids = padded_ids()
    mask = combine_masks(padding_mask(ids), causal_mask(5))  # (3, 1, 5, 5)
    q, k, v = qkv(3, 2, 5, 8)
    _, weights = attend(q, k, v, mask, need_weights=True)
    hidden = ~mask.expand_as(weights)
    assert torch.all(weights[hidden] == 0.0)
    assert torch.all(weights[~hidden] > 0.0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2, 5), atol=1e-6, rtol=0)


def test_a_fully_masked_row_gives_zero_weights_and_zero_output_not_nan():
    q, k, v = qkv(2, 3, 4, 8)
    mask = torch.ones(2, 1, 4, 4, dtype=torch.bool)
    mask[0, 0, 1] = False  # query 1 of sentence 0 sees nothing
    mask[1] = False  # sentence 1 sees nothing at all
    for need_weights in (False, True):
        result = attend(q, k, v, mask, need_weights=need_weights)
        out = result[0] if need_weights else result
        assert not torch.isnan(out).any()
        assert torch.all(out[0, :, 1] == 0) and torch.all(out[1] == 0)
        if need_weights:
            weights = result[1]
            assert torch.all(weights[0, :, 1] == 0) and torch.all(weights[1] == 0)
            torch.testing.assert_close(weights[0, :, 0].sum(-1), torch.ones(3))


@pytest.mark.parametrize("need_weights", [False, True])
def test_a_fully_masked_row_has_no_nan_gradient(need_weights):
    q, k, v = (t.requires_grad_() for t in qkv(1, 2, 3, 4))
    mask = torch.tensor([True, True, False])[None, None, None, :].repeat(1, 1, 3, 1)
    mask[..., 0, :] = False
    result = attend(q, k, v, mask, need_weights=need_weights)
    out = result[0] if need_weights else result
    out.sum().backward()
    for t in (q, k, v):
        assert not torch.isnan(t.grad).any()
    assert torch.all(q.grad[0, :, 0] == 0)  # the blind query had no effect on anything


MASKS = {
    "none": lambda ids: None,
    "padding": lambda ids: padding_mask(ids),
    "causal": lambda ids: causal_mask(ids.size(1)),
    "padding+causal": lambda ids: combine_masks(padding_mask(ids), causal_mask(ids.size(1))),
    "per-query": lambda ids: torch.rand(ids.size(0), 1, ids.size(1), ids.size(1)) > 0.3,
}


@pytest.mark.parametrize("mask_name", list(MASKS))
def test_fused_path_equals_explicit_path(mask_name):
    torch.manual_seed(1)
    ids = padded_ids()
    mask = MASKS[mask_name](ids)
    q, k, v = qkv(3, 4, 5, 16, seed=2)
    fused = scaled_dot_product_attention(q, k, v, mask)
    out, _ = attend(q, k, v, mask, need_weights=True)
    want, _ = explicit(q, k, v, mask)
    torch.testing.assert_close(fused, out, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(fused, want, atol=1e-6, rtol=1e-5)


def test_fused_path_equals_explicit_path_in_float64():
    q, k, v = qkv(2, 2, 6, 8, dtype=torch.float64)
    mask = combine_masks(
        padding_mask(torch.tensor([[1, 2, 3, 4, 0, 0], [1, 2, 3, 4, 5, 6]])), causal_mask(6)
    )
    fused = scaled_dot_product_attention(q, k, v, mask)
    out, _ = attend(q, k, v, mask, need_weights=True)
    torch.testing.assert_close(fused, out, atol=1e-12, rtol=1e-12)


def test_masked_softmax():
    scores = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, 9.0], [1.0, 1.0, 1.0]])
    mask = torch.tensor([[True, True, False], [True, True, True], [False, False, False]])
    weights = masked_softmax(scores, mask)
    torch.testing.assert_close(weights[0, :2], scores[0, :2].softmax(0))
    assert weights[0, 2] == 0.0
    torch.testing.assert_close(weights[1], scores[1].softmax(0))
    assert torch.equal(weights[2], torch.zeros(3))
    torch.testing.assert_close(masked_softmax(scores), scores.softmax(-1))


def test_attention_weights_equal_masked_softmax_of_scaled_scores():
    q, k, _ = qkv(2, 5, 4)
    mask = torch.tensor([True, True, True, False, False])
    torch.testing.assert_close(
        attention_weights(q, k, mask), masked_softmax(q @ k.transpose(-2, -1) / 2.0, mask)
    )


def test_dropout_on_the_weights_in_training_only():
    mha = MultiHeadAttention(8, 2, dropout=0.5).train()
    x = torch.randn(1, 6, 8)
    torch.manual_seed(0)
    _, weights = mha(x, x, x, need_weights=True)
    assert (weights == 0).any()  # some weights dropped, the others scaled by 2
    assert (weights.sum(-1) - 1).abs().max() > 1e-3
    _, eval_weights = mha.eval()(x, x, x, need_weights=True)
    torch.testing.assert_close(eval_weights.sum(-1), torch.ones(1, 2, 6))


def test_fused_dropout_is_applied_in_training():
    q, k, v = qkv(1, 2, 6, 4)
    torch.manual_seed(0)
    dropped = scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert not torch.allclose(dropped, scaled_dot_product_attention(q, k, v))


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3), torch.ones(2, 3)),
            "query must be a floating-point tensor",
        ),
        (([1.0, 2.0], torch.ones(2, 3), torch.ones(2, 3)), "query must be a tensor, got list"),
        ((torch.ones(3), torch.ones(2, 3), torch.ones(2, 3)), "query must have shape"),
        ((torch.ones(2, 3), torch.ones(2, 4), torch.ones(2, 4)), "last dimension (d_k)"),
        ((torch.ones(2, 3), torch.ones(2, 3), torch.ones(5, 3)), "key and value must have"),
        (
            (torch.ones(2, 3), torch.ones(2, 3, dtype=torch.float64), torch.ones(2, 3)),
            "share one dtype",
        ),
        (
            (torch.ones(4, 2, 3), torch.ones(3, 2, 3), torch.ones(3, 2, 3)),
            "same leading (batch, heads)",
        ),
    ],
)
def test_bad_inputs_are_named(args, message):
    with pytest.raises(ShapeError) as error:
        scaled_dot_product_attention(*args)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (torch.ones(2, 1, 1, 5, dtype=torch.bool), "does not broadcast"),  # k_len 5, not 4
        (torch.ones(3, 1, 1, 4, dtype=torch.bool), "does not broadcast"),  # batch 3, not 2
        (torch.ones(2, 1, 1, 4), "mask must be a bool tensor"),  # float 0/1 mask
        (torch.ones(2, 1, 1, 4, dtype=torch.long), "mask must be a bool tensor"),
        ([True, False], "mask must be a bool tensor"),
        (torch.ones(1, 2, 1, 1, 4, dtype=torch.bool), "does not broadcast"),  # too many dims
    ],
)
def test_bad_masks_are_named(mask, message):
    q, k, v = qkv(2, 3, 4, 8)
    for need_weights in (False, True):
        with pytest.raises(ShapeError) as error:
            attend(q, k, v, mask, need_weights=need_weights)
        assert message in str(error.value)
        assert "mask" in str(error.value)


def test_masked_softmax_errors():
    with pytest.raises(ShapeError, match="scores must be a floating-point tensor"):
        masked_softmax(torch.ones(2, 2, dtype=torch.long))
    with pytest.raises(ShapeError, match="does not broadcast to the scores"):
        masked_softmax(torch.ones(2, 3), torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(ShapeError, match="bool tensor"):
        masked_softmax(torch.ones(2, 3), torch.ones(2, 3))


def test_bad_dropout_is_named():
    q, k, v = qkv(2, 3, 4)
    with pytest.raises(CourseLibError, match="dropout_p must be in"):
        scaled_dot_product_attention(q, k, v, dropout_p=1.5)


# --- multi-head attention -----------------------------------------------------------------


def make_mha(d_model=16, n_heads=4, seed=0) -> MultiHeadAttention:
    torch.manual_seed(seed)
    return MultiHeadAttention(d_model, n_heads).eval()


@pytest.mark.parametrize(
    ("batch", "q_len", "k_len", "heads"), [(1, 1, 1, 1), (2, 5, 7, 4), (3, 4, 4, 2), (2, 3, 6, 16)]
)
def test_mha_shapes(batch, q_len, k_len, heads):
    mha = make_mha(16, heads)
    x, memory = torch.randn(batch, q_len, 16), torch.randn(batch, k_len, 16)
    out, weights = mha(x, memory, memory, need_weights=True)
    assert out.shape == (batch, q_len, 16)
    assert weights.shape == (batch, heads, q_len, k_len)
    out2, none = mha(x, memory, memory)
    assert none is None
    torch.testing.assert_close(out, out2, atol=1e-6, rtol=1e-5)


def test_split_and_merge_heads_are_inverse_and_split_by_columns():
    mha = make_mha(12, 3)
    x = torch.arange(2 * 5 * 12, dtype=torch.float32).view(2, 5, 12)
    heads = mha.split_heads(x)
    assert heads.shape == (2, 3, 5, 4)
    assert torch.equal(heads[1, 2, 3], x[1, 3, 8:12])  # head 2 = columns 8..11
    assert torch.equal(mha.merge_heads(heads), x)


def test_mha_equals_per_head_attention_written_out():
    mha = make_mha(8, 2)
    x = torch.randn(1, 4, 8)
    mask = padding_mask(torch.tensor([[3, 4, 5, 0]]))
    out, weights = mha(x, x, x, mask, need_weights=True)
    heads = []
    for h in range(2):
        cols = slice(4 * h, 4 * h + 4)
        (wq, bq), (wk, bk), (wv, bv) = (mha.projection(part) for part in "qkv")
        q = x @ wq[cols].T + bq[cols]
        k = x @ wk[cols].T + bk[cols]
        v = x @ wv[cols].T + bv[cols]
        head, w = explicit(q, k, v, mask[0, 0])
        torch.testing.assert_close(w, weights[:, h], atol=1e-6, rtol=1e-5)
        heads.append(head)
    want = mha.out_proj(torch.cat(heads, dim=-1))
    torch.testing.assert_close(out, want, atol=1e-6, rtol=1e-5)


def test_mha_with_padding_explicit_and_fused_agree_and_ignore_padding_values():
    mha = make_mha(16, 4)
    ids = padded_ids()
    mask = padding_mask(ids)
    x = torch.randn(3, 5, 16)
    fused, _ = mha(x, x, x, mask)
    explicit_out, _ = mha(x, x, x, mask, need_weights=True)
    torch.testing.assert_close(fused, explicit_out, atol=1e-6, rtol=1e-5)
    changed = x.clone()
    changed[ids == 0] = 100.0  # what sits at padded positions must not matter
    again, _ = mha(x, changed, changed, mask)
    torch.testing.assert_close(again, fused, atol=1e-6, rtol=1e-5)


def test_self_attention_cache_appends_and_equals_full_pass():
    mha = make_mha(16, 4)
    x = torch.randn(2, 5, 16)
    full, _ = mha(x, x, x, causal_mask(5))
    cache = KVCache()
    steps = []
    for t in range(5):
        step = x[:, t : t + 1]
        out, _ = mha(step, step, step, causal_mask(1, start=t), cache=cache)
        steps.append(out)
        assert cache.keys.shape == cache.values.shape == (2, 4, t + 1, 4)
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-6, rtol=1e-5)


def test_cross_attention_cache_is_computed_once():
    mha = make_mha(16, 4)
    memory = torch.randn(2, 6, 16)
    cache = KVCache(static=True)
    first, _ = mha(torch.randn(2, 1, 16), memory, memory, cache=cache)
    keys = cache.keys
    assert cache.ready and keys.shape == (2, 4, 6, 4)
    mha(torch.randn(2, 1, 16), memory * 0, memory * 0, cache=cache)
    assert cache.keys is keys  # the memory given later is ignored: keys come from the cache
    assert first.shape == (2, 1, 16)


@pytest.mark.parametrize(
    ("d_model", "n_heads", "message"),
    [
        (10, 4, "d_model (10) must be divisible by n_heads (4)"),
        (0, 1, "d_model must be an integer >= 1, got 0"),
        (16, -2, "n_heads must be an integer >= 1, got -2"),
        (16.0, 2, "d_model must be an integer"),
    ],
)
def test_mha_bad_sizes_are_named(d_model, n_heads, message):
    with pytest.raises(CourseLibError) as error:
        MultiHeadAttention(d_model, n_heads)
    assert message in str(error.value)


def test_mha_bad_dropout_is_named():
    with pytest.raises(CourseLibError, match="dropout must be in"):
        MultiHeadAttention(8, 2, dropout=-0.1)


@pytest.mark.parametrize(
    ("query", "key", "message"),
    [
        (torch.randn(2, 3, 16), torch.randn(2, 3, 8), "key must have shape (batch, seq_len, 16)"),
        (torch.randn(3, 16), torch.randn(2, 3, 16), "query must have shape"),
        ("text", torch.randn(2, 3, 16), "got str"),
        (torch.randn(2, 3, 16), torch.randn(4, 3, 16), "share the batch size"),
    ],
)
def test_mha_bad_inputs_are_named(query, key, message):
    with pytest.raises(ShapeError) as error:
        make_mha()(query, key, key)
    assert message in str(error.value)


def test_mha_wrong_mask_shape_is_named():
    x = torch.randn(2, 3, 16)
    with pytest.raises(ShapeError, match=r"mask of shape \(2, 1, 1, 4\)"):
        make_mha()(x, x, x, torch.ones(2, 1, 1, 4, dtype=torch.bool))


def test_projection_views_and_errors():
    mha = make_mha(8, 2)
    weight, bias = mha.projection("k")
    assert weight.shape == (8, 8) and bias.shape == (8,)
    assert torch.equal(weight, mha.in_proj.weight[8:16])
    assert torch.equal(mha.projection("kv")[0], mha.in_proj.weight[8:])
    with pytest.raises(CourseLibError, match="parts must be 'q', 'k', 'v', 'qkv' or 'kv'"):
        mha.projection("qv")


def test_key_bias_starts_at_zero_and_does_not_matter():
    mha = make_mha(8, 2).train()
    assert torch.all(mha.in_proj.bias[8:16] == 0)
    assert mha.in_proj.bias[:8].abs().sum() > 0 and mha.in_proj.bias[16:].abs().sum() > 0
    x = torch.randn(2, 5, 8)
    out, _ = mha(x, x, x)
    out.pow(2).sum().backward()
    grad = mha.in_proj.bias.grad  # the key bias's true gradient is 0: only rounding is left
    assert grad[8:16].abs().max() < 1e-5 < grad[:8].abs().sum() and grad[16:].abs().sum() > 0
    with torch.no_grad():
        shifted = make_mha(8, 2)
        shifted.in_proj.bias[8:16] += 5.0  # a different key bias: the same output
    torch.testing.assert_close(shifted(x, x, x)[0], make_mha(8, 2)(x, x, x)[0])


def test_a_standalone_attention_is_initialised_like_linear_layers():
    mha = make_mha(64, 4)
    bound = 1 / math.sqrt(64)  # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    for weight in (mha.in_proj.weight, mha.out_proj.weight):
        assert weight.abs().max() <= bound and weight.std() > bound / 3


def test_bad_cache_is_named():
    x = torch.randn(2, 3, 16)
    with pytest.raises(CourseLibError, match="cache must be a KVCache, got dict"):
        make_mha()(x, x, x, cache={})


@pytest.mark.parametrize("kernel_handles_it", [False, True])
def test_fully_masked_rows_on_both_fused_paths(monkeypatch, kernel_handles_it):
    """Recent torch kernels give a blind query zeros; on older ones the library does it."""
    if kernel_handles_it and not attention_module._ZEROES_BLIND_ROWS_ON_CPU:
        pytest.skip("this torch's kernel gives NaN for a fully masked row")
    monkeypatch.setattr(attention_module, "_ZEROES_BLIND_ROWS_ON_CPU", kernel_handles_it)
    q, k, v = (t.requires_grad_() for t in qkv(2, 3, 4, 8))
    mask = torch.ones(2, 1, 4, 4, dtype=torch.bool)
    mask[0, 0, 1] = False
    mask[1] = False
    out = scaled_dot_product_attention(q, k, v, mask)
    assert torch.all(out[0, :, 1] == 0) and torch.all(out[1] == 0)
    want, _ = explicit(q, k, v, mask)
    torch.testing.assert_close(out, want, atol=1e-6, rtol=1e-5)
    out.sum().backward()
    assert not any(torch.isnan(t.grad).any() for t in (q, k, v))
