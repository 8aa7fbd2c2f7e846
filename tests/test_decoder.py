"""The decoder (course_lib.decoder): masked self-attention, cross-attention, feed-forward."""

from __future__ import annotations

import pytest
import torch

from course_lib.attention import AttentionWeights
from course_lib.config import TransformerConfig
from course_lib.decoder import Decoder, DecoderLayer
from course_lib.errors import CourseLibError, ShapeError
from course_lib.kv_cache import new_cache
from course_lib.masks import causal_mask, combine_masks, padding_mask


def decoder(seed=0, **changes) -> Decoder:
    settings = dict(
        d_model=16, n_heads=4, n_encoder_layers=2, n_decoder_layers=2, d_ff=32, dropout=0.0
    )
    settings.update(changes)
    torch.manual_seed(seed)
    return Decoder(TransformerConfig(src_vocab_size=20, tgt_vocab_size=20, **settings)).eval()


SRC = torch.tensor([[5, 6, 7, 8], [5, 6, 0, 0]])
TGT = torch.tensor([[4, 5, 6, 7, 8], [4, 5, 6, 0, 0]])


def masks():
    return combine_masks(padding_mask(TGT), causal_mask(5)), padding_mask(SRC)


@pytest.mark.parametrize("norm_first", [False, True])
def test_layer_computes_the_documented_formula(norm_first):
    torch.manual_seed(0)
    layer = DecoderLayer(16, 4, 32, dropout=0.0, norm_first=norm_first).eval()
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 4, 16)
    self_mask, memory_mask = masks()

    def self_attend(h):
        return layer.self_attn(h, h, h, self_mask)[0]

    def cross_attend(h):
        return layer.cross_attn(h, memory, memory, memory_mask)[0]

    if norm_first:
        h = x + self_attend(layer.norm1(x))
        h = h + cross_attend(layer.norm2(h))
        want = h + layer.feed_forward(layer.norm3(h))
    else:
        h = layer.norm1(x + self_attend(x))
        h = layer.norm2(h + cross_attend(h))
        want = layer.norm3(h + layer.feed_forward(h))
    out, self_w, cross_w = layer(x, memory, self_mask, memory_mask)
    assert self_w is None and cross_w is None
    torch.testing.assert_close(out, want)


@pytest.mark.parametrize("norm_first", [False, True])
def test_stack_shapes_and_weights(norm_first):
    dec = decoder(norm_first=norm_first, n_decoder_layers=3)
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 4, 16)
    self_mask, memory_mask = masks()
    weights = AttentionWeights()
    out = dec(x, memory, self_mask, memory_mask, weights=weights)
    assert out.shape == (2, 5, 16)
    assert [w.shape for w in weights.decoder_self] == [(2, 4, 5, 5)] * 3
    assert [w.shape for w in weights.cross] == [(2, 4, 5, 4)] * 3
    assert torch.all(weights.cross[0][1, :, :, 2:] == 0)  # padded source words unseen
    assert torch.all(weights.decoder_self[2][0].triu(1) == 0)  # no looking ahead
    torch.testing.assert_close(dec(x, memory, self_mask, memory_mask), out)


@pytest.mark.parametrize("norm_first", [False, True])
def test_causal_mask_makes_earlier_positions_independent_of_later_ones(norm_first):
    dec = decoder(norm_first=norm_first)
    x, memory = torch.randn(1, 6, 16), torch.randn(1, 4, 16)
    changed = x.clone()
    changed[:, 4] = torch.randn(16)  # change the 5th target position
    causal = causal_mask(6)
    before = dec(x, memory, causal)
    after = dec(changed, memory, causal)
    torch.testing.assert_close(after[:, :4], before[:, :4], atol=1e-6, rtol=1e-6)
    assert not torch.allclose(after[:, 4:], before[:, 4:])
    unmasked_before, unmasked_after = dec(x, memory), dec(changed, memory)
    assert not torch.allclose(unmasked_after[:, :4], unmasked_before[:, :4], atol=1e-4)


def test_memory_padding_is_ignored():
    dec = decoder()
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 4, 16)
    self_mask, memory_mask = masks()
    out = dec(x, memory, self_mask, memory_mask)
    noisy = memory.clone()
    noisy[SRC == 0] = 100.0
    torch.testing.assert_close(dec(x, noisy, self_mask, memory_mask), out)


@pytest.mark.parametrize("norm_first", [False, True])
def test_cache_gives_the_same_output_one_position_at_a_time(norm_first):
    dec = decoder(norm_first=norm_first)
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 4, 16)
    memory_mask = padding_mask(SRC)
    full = dec(x, memory, causal_mask(5), memory_mask)
    cache = new_cache(len(dec.layers))
    steps = [
        dec(x[:, t : t + 1], memory, causal_mask(1, start=t), memory_mask, cache=cache)
        for t in range(5)
    ]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-6, rtol=1e-5)
    assert cache[0].self_attn.keys.shape == (2, 4, 5, 4)
    assert cache[0].cross_attn.keys.shape == (2, 4, 4, 4)


def test_errors_are_named():
    dec = decoder()
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 4, 16)
    with pytest.raises(ShapeError, match=r"memory must have shape \(batch, seq_len, 16\)"):
        dec(x, torch.randn(2, 4, 8))
    with pytest.raises(ShapeError, match=r"x must have shape"):
        dec(torch.randn(5, 16), memory)
    with pytest.raises(ShapeError, match="memory has batch size 3 but the target has 2"):
        dec(x, torch.randn(3, 4, 16))
    with pytest.raises(ShapeError, match="does not broadcast"):
        dec(x, memory, causal_mask(4))
    with pytest.raises(ShapeError, match="does not broadcast"):
        dec(x, memory, None, padding_mask(TGT))  # a target mask given as the memory mask
    with pytest.raises(CourseLibError, match="one LayerCache per decoder layer \\(2\\), got 1"):
        dec(x, memory, cache=new_cache(1))
    with pytest.raises(CourseLibError, match="got dict"):
        dec(x, memory, cache={})
    with pytest.raises(CourseLibError, match="one LayerCache per decoder layer"):
        dec(x, memory, cache=[{}, {}])
    with pytest.raises(CourseLibError, match="Decoder needs a TransformerConfig"):
        Decoder(None)
