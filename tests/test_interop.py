"""course_lib equals torch.nn.Transformer when given the same weights (course_lib.interop)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib.config import TransformerConfig
from course_lib.decoder import Decoder, DecoderLayer
from course_lib.encoder import Encoder, EncoderLayer
from course_lib.errors import CourseLibError, ShapeError
from course_lib.interop import (
    copy_to_torch,
    from_torch_attn_mask,
    from_torch_padding_mask,
    load_from_torch,
    to_torch,
    to_torch_attn_mask,
    to_torch_padding_mask,
)
from course_lib.masks import causal_mask, combine_masks, padding_mask
from course_lib.model import Transformer

pytestmark = [
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
    pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors"),
]

D_FF = 48
# (encoder layers, decoder layers, heads, d_model, norm_first, padded)
CONFIGS = [
    (1, 1, 1, 16, False, False),
    (2, 3, 4, 32, False, True),
    (3, 2, 8, 32, True, True),
    (2, 2, 2, 16, True, False),
    (6, 6, 4, 16, False, True),
]
IDS = [
    f"enc{e}-dec{d}-heads{h}-d{m}-{'pre' if n else 'post'}-{'pad' if p else 'nopad'}"
    for e, d, h, m, n, p in CONFIGS
]


def randomise(module: nn.Module, seed: int) -> nn.Module:
    """Non-trivial values everywhere, LayerNorm scales and shifts included."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.3 if p.dim() > 1 else 0.5))
    return module


def torch_transformer(enc, dec, heads, d, norm_first, seed=0) -> nn.Transformer:
    torch.manual_seed(seed)
    t = nn.Transformer(
        d, heads, enc, dec, D_FF, dropout=0.1, batch_first=True, norm_first=norm_first
    )
    return randomise(t, seed).eval()


def course_config(enc, dec, heads, d, norm_first) -> TransformerConfig:
    return TransformerConfig(
        src_vocab_size=50,
        tgt_vocab_size=60,
        d_model=d,
        n_heads=heads,
        n_encoder_layers=enc,
        n_decoder_layers=dec,
        d_ff=D_FF,
        dropout=0.1,
        norm_first=norm_first,
    )


def inputs(d, padded, seed=1):
    g = torch.Generator().manual_seed(seed)
    src_ids = torch.randint(4, 50, (3, 7), generator=g)
    tgt_ids = torch.randint(4, 60, (3, 6), generator=g)
    if padded:
        src_ids[0, 4:] = 0
        src_ids[2, 1:] = 0
        tgt_ids[1, 3:] = 0
    x_src = torch.randn(3, 7, d, generator=g)
    x_tgt = torch.randn(3, 6, d, generator=g)
    return src_ids, tgt_ids, x_src, x_tgt


def run_course(encoder, decoder, src_ids, tgt_ids, x_src, x_tgt):
    src_mask = padding_mask(src_ids)
    memory = encoder(x_src, src_mask)
    tgt_mask = combine_masks(padding_mask(tgt_ids), causal_mask(tgt_ids.size(1)))
    return memory, decoder(x_tgt, memory, tgt_mask, src_mask)


def run_torch(t, src_ids, tgt_ids, x_src, x_tgt):
    src_pad = to_torch_padding_mask(padding_mask(src_ids))
    memory = t.encoder(x_src, src_key_padding_mask=src_pad)
    out = t.decoder(
        x_tgt,
        memory,
        tgt_mask=to_torch_attn_mask(causal_mask(tgt_ids.size(1))),
        tgt_key_padding_mask=to_torch_padding_mask(padding_mask(tgt_ids)),
        memory_key_padding_mask=src_pad,
    )
    return memory, out


@pytest.mark.parametrize(("enc", "dec", "heads", "d", "norm_first", "padded"), CONFIGS, ids=IDS)
def test_torch_weights_loaded_into_course_lib_give_the_same_outputs(
    enc, dec, heads, d, norm_first, padded
):
    t = torch_transformer(enc, dec, heads, d, norm_first)
    config = course_config(enc, dec, heads, d, norm_first)
    torch.manual_seed(123)
    encoder, decoder = Encoder(config).eval(), Decoder(config).eval()
    assert load_from_torch(encoder, t) is encoder
    assert load_from_torch(decoder, t) is decoder
    data = inputs(d, padded)
    memory, out = run_course(encoder, decoder, *data)
    want_memory, want_out = run_torch(t, *data)
    torch.testing.assert_close(memory, want_memory, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out, want_out, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("enc", "dec", "heads", "d", "norm_first", "padded"), CONFIGS, ids=IDS)
def test_course_lib_weights_copied_to_torch_give_the_same_outputs(
    enc, dec, heads, d, norm_first, padded
):
    torch.manual_seed(7)
    model = randomise(Transformer(course_config(enc, dec, heads, d, norm_first)), 7).eval()
    t = to_torch(model)
    assert isinstance(t, nn.Transformer) and not t.training and t.batch_first
    data = inputs(d, padded)
    memory, out = run_course(model.encoder, model.decoder, *data)
    want_memory, want_out = run_torch(t, *data)
    torch.testing.assert_close(memory, want_memory, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out, want_out, atol=1e-5, rtol=1e-5)
    # ... and into an existing module, both ways round: weights survive the round trip.
    other = torch_transformer(enc, dec, heads, d, norm_first, seed=99)
    copy_to_torch(model, other)
    for (name, a), b in zip(t.state_dict().items(), other.state_dict().values()):
        assert torch.equal(a, b), name
    again = load_from_torch(Transformer(course_config(enc, dec, heads, d, norm_first)), other)
    for name, p in model.encoder.named_parameters():
        assert torch.equal(p, again.encoder.get_parameter(name)), name


@pytest.mark.parametrize("norm_first", [False, True])
def test_full_model_logits_equal_torch_with_the_same_embeddings(norm_first):
    torch.manual_seed(3)
    model = randomise(Transformer(course_config(2, 2, 4, 32, norm_first)), 3).eval()
    t = to_torch(model)
    src_ids, tgt_ids, _, _ = inputs(32, padded=True)
    x_src = model.positions(model.src_embed(src_ids))
    x_tgt = model.positions(model.tgt_embed(tgt_ids))
    _, hidden = run_torch(t, src_ids, tgt_ids, x_src, x_tgt)
    torch.testing.assert_close(
        model(src_ids, tgt_ids), model.generator(hidden), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("norm_first", [False, True])
def test_torch_fast_inference_path_agrees_on_real_tokens(norm_first):
    """Under no_grad nn.TransformerEncoder may take its fused "fast path"; with padding it
    then returns zeros at padded positions (course_lib computes them). Real tokens agree."""
    t = torch_transformer(2, 2, 4, 32, norm_first)
    config = course_config(2, 2, 4, 32, norm_first)
    encoder, decoder = Encoder(config).eval(), Decoder(config).eval()
    load_from_torch(encoder, t)
    load_from_torch(decoder, t)
    data = inputs(32, padded=True)
    real = data[0] != 0
    with torch.no_grad():
        memory, out = run_course(encoder, decoder, *data)
        want_memory, want_out = run_torch(t, *data)
    torch.testing.assert_close(memory[real], want_memory[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out, want_out, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_single_layers_and_stacks_convert(norm_first):
    torch.manual_seed(0)
    layer = randomise(EncoderLayer(16, 2, D_FF, norm_first=norm_first), 1).eval()
    torch_layer = to_torch(layer)
    assert isinstance(torch_layer, nn.TransformerEncoderLayer)
    x = torch.randn(2, 5, 16)
    mask = padding_mask(torch.tensor([[1, 2, 3, 0, 0], [1, 2, 3, 4, 5]]))
    torch.testing.assert_close(
        layer(x, mask)[0],
        torch_layer(x, src_key_padding_mask=to_torch_padding_mask(mask)),
        atol=1e-5,
        rtol=1e-5,
    )
    dec_layer = randomise(DecoderLayer(16, 2, D_FF, norm_first=norm_first), 2).eval()
    torch_dec_layer = to_torch(dec_layer)
    memory = torch.randn(2, 5, 16)
    want = torch_dec_layer(
        x[:, :4],
        memory,
        tgt_mask=to_torch_attn_mask(causal_mask(4)),
        memory_key_padding_mask=to_torch_padding_mask(mask),
    )
    got = dec_layer(x[:, :4], memory, causal_mask(4), mask)[0]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    config = course_config(2, 3, 2, 16, norm_first)
    stack = randomise(Decoder(config), 3).eval()
    torch_stack = to_torch(stack)
    assert isinstance(torch_stack, nn.TransformerDecoder) and len(torch_stack.layers) == 3
    torch.testing.assert_close(
        stack(x, memory, causal_mask(5)),
        torch_stack(x, memory, tgt_mask=to_torch_attn_mask(causal_mask(5))),
        atol=1e-5,
        rtol=1e-5,
    )
    enc_stack = randomise(Encoder(config), 4).eval()
    torch_enc = to_torch(enc_stack)
    assert isinstance(torch_enc, nn.TransformerEncoder)
    torch.testing.assert_close(enc_stack(x), torch_enc(x), atol=1e-5, rtol=1e-5)


def test_in_proj_is_split_into_q_k_v_in_that_order():
    t = torch_transformer(1, 1, 2, 16, False)
    encoder = Encoder(course_config(1, 1, 2, 16, False))
    load_from_torch(encoder, t)
    w = t.encoder.layers[0].self_attn.in_proj_weight
    attn = encoder.layers[0].self_attn
    assert torch.equal(attn.projection("q")[0], w[:16])
    assert torch.equal(attn.projection("k")[0], w[16:32])
    assert torch.equal(attn.projection("v")[0], w[32:])


# --- errors -------------------------------------------------------------------------------


def test_size_mismatch_names_the_parameter_and_copies_nothing():
    t = torch_transformer(2, 2, 4, 32, False)
    config = course_config(2, 2, 4, 32, False)
    config.d_ff = 64
    encoder = Encoder(config)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    with pytest.raises(ShapeError) as error:
        load_from_torch(encoder, t)
    assert "size mismatch for encoder.layers.0.feed_forward.linear1.weight" in str(error.value)
    assert "(64, 32)" in str(error.value) and "(48, 32)" in str(error.value)
    for k, v in encoder.state_dict().items():
        assert torch.equal(v, before[k]), f"{k} changed although the copy failed"


@pytest.mark.parametrize(
    ("course", "torch_module", "message"),
    [
        (
            lambda: Encoder(course_config(2, 2, 4, 16, False)),
            lambda: torch_transformer(2, 2, 4, 32, False),
            "in_proj_weight has shape (96, 32), but course_lib's encoder.layers.0.self_attn",
        ),
        (
            lambda: Encoder(course_config(3, 2, 4, 32, False)),
            lambda: torch_transformer(2, 2, 4, 32, False),
            "number of layers differs: course_lib's encoder has 3, torch's encoder has 2",
        ),
        (
            lambda: Decoder(course_config(2, 2, 2, 32, False)),
            lambda: torch_transformer(2, 2, 4, 32, False),
            "number of heads differs: course_lib has 2, torch has 4",
        ),
        (
            lambda: Encoder(course_config(2, 2, 4, 32, True)),
            lambda: torch_transformer(2, 2, 4, 32, False),
            "norm_first differs: course_lib has True, torch has False",
        ),
        (
            lambda: Transformer(course_config(2, 2, 4, 32, False)),
            lambda: torch_transformer(2, 2, 4, 32, False).encoder,
            "a course_lib Transformer matches an nn.Transformer, got TransformerEncoder",
        ),
        (
            lambda: Encoder(course_config(2, 2, 4, 32, False)),
            lambda: torch_transformer(2, 2, 4, 32, False).decoder,
            "a course_lib Encoder matches an nn.TransformerEncoder or an nn.Transformer, got",
        ),
        (
            lambda: nn.Linear(3, 3),
            lambda: torch_transformer(1, 1, 1, 16, False),
            "cannot copy weights for a Linear",
        ),
        (
            lambda: Encoder(course_config(1, 1, 4, 32, False)),
            lambda: nn.Transformer(32, 4, 1, 1, D_FF, activation="gelu", batch_first=True),
            "uses activation",
        ),
        (
            lambda: Encoder(course_config(1, 1, 4, 32, False)),
            lambda: nn.Transformer(32, 4, 1, 1, D_FF, layer_norm_eps=1e-6, batch_first=True),
            "layer_norm_eps differs",
        ),
        (
            lambda: Encoder(course_config(1, 1, 4, 32, False)),
            lambda: nn.Transformer(32, 4, 1, 1, D_FF, bias=False, batch_first=True),
            "no biases (bias=False)",
        ),
        (
            lambda: Encoder(course_config(1, 1, 4, 32, False)),
            lambda: nn.TransformerEncoder(
                nn.TransformerEncoderLayer(32, 4, D_FF, batch_first=True),
                1,
                enable_nested_tensor=False,
            ),
            "has no final LayerNorm",
        ),
    ],
)
def test_mismatches_are_named(course, torch_module, message):
    with pytest.raises(CourseLibError) as error:
        load_from_torch(course(), torch_module())
    assert message in str(error.value)


def test_to_torch_rejects_other_modules():
    with pytest.raises(CourseLibError, match="to_torch needs a course_lib Transformer"):
        to_torch(nn.Linear(2, 2))


# --- masks --------------------------------------------------------------------------------


def test_padding_mask_conversion_flips_the_meaning_both_ways():
    ids = torch.tensor([[4, 5, 0], [6, 0, 0]])
    course = padding_mask(ids)
    theirs = to_torch_padding_mask(course)
    assert theirs.tolist() == [[False, False, True], [False, True, True]]  # True = ignore
    assert torch.equal(to_torch_padding_mask(course[:, 0, 0]), theirs)
    assert torch.equal(from_torch_padding_mask(theirs), course)
    as_float = torch.zeros(2, 3).masked_fill(theirs, float("-inf"))
    assert torch.equal(from_torch_padding_mask(as_float), course)


def test_attn_mask_conversion_matches_torch_causal_mask():
    theirs = nn.Transformer.generate_square_subsequent_mask(4)  # float, -inf above diagonal
    assert torch.equal(from_torch_attn_mask(theirs), causal_mask(4))
    assert torch.equal(
        to_torch_attn_mask(causal_mask(4)), torch.ones(4, 4, dtype=torch.bool).triu(1)
    )
    assert torch.equal(from_torch_attn_mask(to_torch_attn_mask(causal_mask(3))), causal_mask(3))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: to_torch_padding_mask(torch.ones(2, 3)), "bool tensor (True = may attend)"),
        (
            lambda: to_torch_padding_mask(torch.ones(2, 1, 3, 3, dtype=torch.bool)),
            "(batch, 1, 1, len) or (batch, len), got (2, 1, 3, 3)",
        ),
        (
            lambda: from_torch_padding_mask(torch.ones(2, 1, 1, 3, dtype=torch.bool)),
            "key_padding_mask must have shape (batch, len)",
        ),
        (
            lambda: from_torch_padding_mask(torch.ones(2, 3, dtype=torch.long)),
            "must be a bool or float tensor",
        ),
        (lambda: from_torch_padding_mask([[True]]), "must be a tensor, got list"),
        (lambda: from_torch_attn_mask(torch.full((3, 3), 0.5)), "values other than 0 and -inf"),
        (
            lambda: from_torch_attn_mask(torch.zeros(2, 3, 3, dtype=torch.bool)),
            "attn_mask must have shape (q_len, k_len)",
        ),
        (
            lambda: to_torch_attn_mask(padding_mask(torch.tensor([[1, 0], [1, 1]]))),
            "(1, 1, q_len, k_len) or (q_len, k_len)",
        ),
        (lambda: to_torch_attn_mask("causal"), "got str"),
    ],
)
def test_mask_conversion_errors(call, message):
    with pytest.raises(CourseLibError) as error:
        call()
    assert message in str(error.value)
