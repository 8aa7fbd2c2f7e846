"""The encoder (course_lib.encoder): feed-forward, post-/pre-norm layers, the stack."""

from __future__ import annotations

import pytest
import torch

from course_lib.attention import AttentionWeights
from course_lib.config import TransformerConfig
from course_lib.embedding import PositionalEncoding
from course_lib.encoder import Encoder, EncoderLayer, FeedForward
from course_lib.errors import CourseLibError, ShapeError
from course_lib.masks import padding_mask


def config(**changes) -> TransformerConfig:
    settings = dict(
        d_model=16, n_heads=4, n_encoder_layers=2, n_decoder_layers=2, d_ff=32, dropout=0.0
    )
    settings.update(changes)
    return TransformerConfig(src_vocab_size=20, tgt_vocab_size=20, **settings)


def encoder(seed=0, **changes) -> Encoder:
    torch.manual_seed(seed)
    return Encoder(config(**changes)).eval()


IDS = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 7, 0, 0], [9, 8, 0, 0, 0]])


def test_feed_forward_is_relu_between_two_linears_per_position():
    torch.manual_seed(0)
    ff = FeedForward(8, 32)
    x = torch.randn(2, 3, 8)
    want = torch.relu(x @ ff.linear1.weight.T + ff.linear1.bias) @ ff.linear2.weight.T
    torch.testing.assert_close(ff(x), want + ff.linear2.bias)
    torch.testing.assert_close(ff(x[:, 1:2]), ff(x)[:, 1:2])  # each position on its own


@pytest.mark.parametrize("norm_first", [False, True])
def test_layer_computes_the_documented_formula(norm_first):
    torch.manual_seed(0)
    layer = EncoderLayer(16, 4, 32, dropout=0.0, norm_first=norm_first).eval()
    x = torch.randn(2, 5, 16)
    mask = padding_mask(IDS[:2])

    def attend(h):
        return layer.self_attn(h, h, h, mask)[0]

    if norm_first:  # pre-norm: x + sublayer(norm(x))
        h = x + attend(layer.norm1(x))
        want = h + layer.feed_forward(layer.norm2(h))
    else:  # post-norm (the paper): norm(x + sublayer(x))
        h = layer.norm1(x + attend(x))
        want = layer.norm2(h + layer.feed_forward(h))
    out, weights = layer(x, mask)
    assert weights is None
    torch.testing.assert_close(out, want)


def test_post_norm_output_is_normalised_and_pre_norm_output_is_not():
    torch.manual_seed(0)
    x = 5 * torch.randn(2, 5, 16) + 3
    post = EncoderLayer(16, 4, 32, dropout=0.0).eval()
    pre = EncoderLayer(16, 4, 32, dropout=0.0, norm_first=True).eval()
    pre.load_state_dict(post.state_dict())  # same weights, different wiring
    out_post, _ = post(x)
    out_pre, _ = pre(x)
    torch.testing.assert_close(out_post.mean(-1), torch.zeros(2, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        out_post.std(-1, unbiased=False), torch.ones(2, 5), atol=1e-3, rtol=0
    )
    assert out_pre.mean(-1).abs().max() > 1.0  # the residual stream keeps the input's scale


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize(("batch", "length", "layers"), [(1, 1, 1), (3, 5, 2), (2, 9, 3)])
def test_stack_shapes_and_weights(norm_first, batch, length, layers):
    enc = encoder(norm_first=norm_first, n_encoder_layers=layers)
    assert len(enc.layers) == layers
    x = torch.randn(batch, length, 16)
    weights = AttentionWeights()
    out = enc(x, weights=weights)
    assert out.shape == (batch, length, 16)
    assert len(weights.encoder) == layers
    assert all(w.shape == (batch, 4, length, length) for w in weights.encoder)
    assert weights.decoder_self == weights.cross == []
    torch.testing.assert_close(enc(x), out)


def test_six_layers_by_default_as_in_the_paper():
    enc = Encoder(
        TransformerConfig(src_vocab_size=10, tgt_vocab_size=10, d_model=16, n_heads=2, d_ff=32)
    )
    assert len(enc.layers) == 6


@pytest.mark.parametrize("norm_first", [False, True])
def test_permutation_equivariance_without_positions(norm_first):
    enc = encoder(norm_first=norm_first)
    x = torch.randn(3, 5, 16)
    mask = padding_mask(IDS)
    perm = torch.tensor([3, 0, 4, 2, 1])
    out = enc(x, mask)
    shuffled = enc(x[:, perm], mask[..., perm])
    torch.testing.assert_close(shuffled, out[:, perm], atol=1e-5, rtol=1e-5)


def test_positional_encoding_breaks_the_equivariance():
    enc = encoder()
    positions = PositionalEncoding(16, 10)
    x = torch.randn(1, 5, 16)
    perm = torch.tensor([4, 3, 2, 1, 0])
    out = enc(positions(x))
    assert not torch.allclose(enc(positions(x[:, perm])), out[:, perm], atol=1e-3)


@pytest.mark.parametrize("norm_first", [False, True])
def test_padding_does_not_change_real_positions(norm_first):
    enc = encoder(norm_first=norm_first)
    x = torch.randn(3, 5, 16)
    mask = padding_mask(IDS)
    out = enc(x, mask)
    noisy = x.clone()
    noisy[IDS == 0] = torch.randn(int((IDS == 0).sum()), 16) * 50
    torch.testing.assert_close(enc(noisy, mask)[IDS != 0], out[IDS != 0], atol=1e-5, rtol=1e-5)
    alone = enc(x[1:2, :3])  # sentence 1 without its padding, on its own
    torch.testing.assert_close(alone, out[1:2, :3], atol=1e-5, rtol=1e-5)


def test_dropout_is_active_in_training_and_off_in_eval():
    enc = encoder(dropout=0.5)
    x = torch.randn(2, 4, 16)
    torch.testing.assert_close(enc(x), enc(x))
    enc.train()
    assert not torch.allclose(enc(x), enc(x))


def test_errors_are_named():
    enc = encoder()
    with pytest.raises(ShapeError, match=r"x must have shape \(batch, seq_len, 16\), got shape"):
        enc(torch.randn(2, 5, 8))
    with pytest.raises(ShapeError, match="x must have shape .* got shape \\(5, 16\\)"):
        enc(torch.randn(5, 16))
    with pytest.raises(ShapeError, match="floating-point tensor, got dtype torch.int64"):
        enc(torch.ones(2, 5, 16, dtype=torch.long))
    with pytest.raises(ShapeError, match="got list"):
        enc([[1.0]])
    with pytest.raises(ShapeError, match="does not broadcast"):
        enc(torch.randn(3, 5, 16), padding_mask(IDS[:, :4]))
    with pytest.raises(CourseLibError, match="Encoder needs a TransformerConfig, got dict"):
        Encoder({"d_model": 16})
    with pytest.raises(CourseLibError, match="d_ff must be an integer >= 1, got 0"):
        FeedForward(16, 0)
    with pytest.raises(CourseLibError, match="divisible"):
        EncoderLayer(10, 3, 16)
