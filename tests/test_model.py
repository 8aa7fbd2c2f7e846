"""The full model (course_lib.model): encode/decode, cache, gradients, errors, sizes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import course_lib.model as model_module
from course_lib.attention import AttentionWeights
from course_lib.config import TransformerConfig
from course_lib.errors import CourseLibError, ShapeError
from course_lib.masks import padding_mask
from course_lib.model import Transformer, parameter_counts

SRC_V, TGT_V = 30, 40


def model(seed=0, **changes) -> Transformer:
    settings = dict(
        d_model=32,
        n_heads=4,
        n_encoder_layers=2,
        n_decoder_layers=2,
        d_ff=64,
        dropout=0.0,
        max_len=16,
    )
    settings.update(changes)
    torch.manual_seed(seed)
    return Transformer(
        TransformerConfig(src_vocab_size=SRC_V, tgt_vocab_size=TGT_V, **settings)
    ).eval()


SRC = torch.tensor([[5, 6, 7, 8, 2], [5, 9, 2, 0, 0], [7, 2, 0, 0, 0]])
TGT = torch.tensor([[1, 4, 5, 6, 7, 8], [1, 9, 10, 0, 0, 0], [1, 11, 0, 0, 0, 0]])


@pytest.mark.parametrize("norm_first", [False, True])
def test_forward_shape_and_equals_encode_then_decode(norm_first):
    m = model(norm_first=norm_first)
    logits = m(SRC, TGT)
    assert logits.shape == (3, 6, TGT_V)
    memory = m.encode(SRC)
    assert memory.shape == (3, 5, 32)
    torch.testing.assert_close(m.decode(TGT, memory, padding_mask(SRC)), logits)


def test_attention_weights_of_every_layer():
    m = model()
    weights = m.attention(SRC, TGT)
    assert isinstance(weights, AttentionWeights)
    assert len(weights.encoder) == 2 and weights.encoder[0].shape == (3, 4, 5, 5)
    assert [w.shape for w in weights.decoder_self] == [(3, 4, 6, 6)] * 2
    assert weights.cross[1].shape == (3, 4, 6, 5)
    assert torch.all(weights.cross[1][2, :, :, 2:] == 0)  # padded source unseen
    assert torch.all(weights.decoder_self[0][0].triu(1) == 0)  # no looking ahead
    torch.testing.assert_close(weights.cross[0].sum(-1), torch.ones(3, 4, 6))
    # the same weights, collected through encode and decode
    collected = AttentionWeights()
    logits = m.decode(TGT, m.encode(SRC, weights=collected), padding_mask(SRC), weights=collected)
    torch.testing.assert_close(logits, m(SRC, TGT))
    for kind in ("encoder", "decoder_self", "cross"):
        for a, b in zip(getattr(weights, kind), getattr(collected, kind)):
            torch.testing.assert_close(a, b)


def test_encode_and_decode_return_one_tensor():
    m = model()
    memory = m.encode(SRC)
    assert isinstance(memory, torch.Tensor)
    assert isinstance(m.decode(TGT, memory), torch.Tensor)


@pytest.mark.parametrize("norm_first", [False, True])
def test_incremental_decoding_with_cache_equals_full_decode(norm_first):
    m = model(norm_first=norm_first)
    src_mask = padding_mask(SRC)
    memory = m.encode(SRC)
    tgt = TGT[:1].expand(3, -1)  # no padding inside the prefix being generated
    full = m.decode(tgt, memory, src_mask)
    cache = m.new_cache()
    steps = [
        m.decode(tgt[:, t : t + 1], memory, src_mask, cache=cache, start=t)
        for t in range(tgt.size(1))
    ]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_future_target_tokens_do_not_change_earlier_logits(norm_first):
    m = model(norm_first=norm_first)
    base = m(SRC, TGT)
    changed_tgt = TGT.clone()
    changed_tgt[0, 4] = 20  # a different 5th word
    changed = m(SRC, changed_tgt)
    torch.testing.assert_close(changed[0, :4], base[0, :4], atol=1e-6, rtol=1e-6)
    assert not torch.allclose(changed[0, 4:], base[0, 4:])
    # Without the causal mask (padding only), the change leaks into earlier positions.
    memory, src_mask = m.encode(SRC), padding_mask(SRC)
    leak_before = m.decode(TGT, memory, src_mask, tgt_mask=padding_mask(TGT))
    leak_after = m.decode(changed_tgt, memory, src_mask, tgt_mask=padding_mask(changed_tgt))
    assert not torch.allclose(leak_after[0, :4], leak_before[0, :4], atol=1e-4)


def test_source_padding_does_not_change_the_output():
    m = model()
    longer = torch.cat([SRC, torch.zeros(3, 3, dtype=torch.long)], dim=1)
    torch.testing.assert_close(m(longer, TGT), m(SRC, TGT), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_every_parameter_gets_a_gradient_from_one_loss(norm_first):
    m = model(norm_first=norm_first).train()
    logits = m(SRC, TGT[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, TGT_V), TGT[:, 1:].reshape(-1), ignore_index=0)
    loss.backward()
    d = m.config.d_model
    for name, p in m.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        grad = p.grad
        if name.endswith("in_proj.bias"):
            # Adding the same vector to every key adds q.b to every score of a row, which the
            # softmax ignores: the key bias (rows d..2d) has zero true gradient (only rounding
            # noise). The query and value biases must learn.
            assert grad[d : 2 * d].abs().max() < 1e-5, name
            grad = torch.cat([grad[:d], grad[2 * d :]])
        assert grad.abs().max() > 1e-6, f"{name} got a zero gradient"
    assert m.encoder.layers[0].self_attn.in_proj.weight.grad[:d].abs().sum() > 0


def test_tie_and_share_embeddings():
    tied = model(tie_embeddings=True)
    assert tied.generator.weight is tied.tgt_embed.embedding.weight
    with pytest.raises(CourseLibError, match="share_embeddings needs one shared vocabulary"):
        model(share_embeddings=True)
    torch.manual_seed(0)
    shared = Transformer(
        TransformerConfig.small(50, 50, share_embeddings=True, tie_embeddings=True)
    )
    assert shared.src_embed is shared.tgt_embed
    assert shared.generator.weight is shared.src_embed.embedding.weight
    untied = Transformer(TransformerConfig.small(50, 50))
    assert untied.num_parameters() - shared.num_parameters() == 2 * 50 * 128
    clone = Transformer(TransformerConfig.small(50, 50, share_embeddings=True, tie_embeddings=True))
    clone.load_state_dict(shared.state_dict())
    ids = torch.tensor([[4, 5, 6]])
    torch.testing.assert_close(clone.eval()(ids, ids), shared.eval()(ids, ids))


def test_parameter_counts_add_up():
    m = model(tie_embeddings=True)
    counts = parameter_counts(m)
    assert counts["total"] == m.num_parameters() == sum(p.numel() for p in m.parameters())
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    assert counts["generator"] == TGT_V  # tied: only the bias is new
    assert parameter_counts(m.config) == counts


def paper_formula(vocab: int, d: int = 512, ff: int = 2048, layers: int = 6) -> dict[str, int]:
    attention = 4 * (d * d + d)
    feed_forward = d * ff + ff + ff * d + d
    encoder_layer = attention + feed_forward + 2 * 2 * d
    decoder_layer = 2 * attention + feed_forward + 3 * 2 * d
    return {
        "embeddings": vocab * d,  # one shared matrix
        "encoder": layers * encoder_layer + 2 * d,  # + final LayerNorm
        "decoder": layers * decoder_layer + 2 * d,
        "generator": vocab,  # tied weight, its own bias
    }


def test_base_model_size_matches_the_formula_and_the_paper():
    config = TransformerConfig.base(share_embeddings=True, tie_embeddings=True)
    counts = parameter_counts(config)
    want = paper_formula(37000)
    assert {k: counts[k] for k in want} == want
    assert counts["total"] == 63_121_544
    assert 60e6 < counts["total"] < 66e6  # the paper: "65 x 10^6"
    unshared = parameter_counts(TransformerConfig.base())
    assert unshared["total"] == counts["total"] + 2 * 37000 * 512


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda m: m(torch.tensor([[5, 35]]), TGT[:1]),
            CourseLibError,
            "source contains token id 35, outside the vocabulary of size 30",
        ),
        (
            lambda m: m(SRC, torch.full((3, 2), 40)),
            CourseLibError,
            "target contains token id 40, outside the vocabulary of size 40",
        ),
        (lambda m: m(torch.tensor([[-1, 5]]), TGT[:1]), CourseLibError, "token id -1"),
        (lambda m: m(SRC, TGT[:2]), ShapeError, "source and target batch sizes differ: 3 vs 2"),
        (
            lambda m: m(torch.ones(1, 17, dtype=torch.long), TGT[:1]),
            CourseLibError,
            "source has 17 positions, more than the model's maximum length max_len=16",
        ),
        (
            lambda m: m(SRC, torch.ones(3, 17, dtype=torch.long)),
            CourseLibError,
            "target has 17 positions",
        ),
        (
            lambda m: m.decode(TGT[:, :2], m.encode(SRC), start=15),
            CourseLibError,
            "target has 17 positions",
        ),
        (lambda m: m(SRC.float(), TGT), ShapeError, "integer token ids, got dtype torch.float32"),
        (lambda m: m(SRC[0], TGT[0]), ShapeError, "source must have shape (batch, seq_len)"),
        (lambda m: m(SRC[:, :0], TGT), ShapeError, "source is empty"),
        (lambda m: m.encode(SRC.float()), ShapeError, "integer token ids"),
        (lambda m: m.encode(torch.tensor([[5, 30]])), CourseLibError, "token id 30"),
        (lambda m: m.attention(SRC, TGT[:, :0]), ShapeError, "target is empty"),
        (lambda m: m.attention(SRC, torch.full((3, 2), 40)), CourseLibError, "token id 40"),
        (lambda m: m.decode(TGT, m.encode(SRC), cache=[{}]), CourseLibError, "LayerCache"),
        (lambda m: m("I love pizza", TGT), ShapeError, "got str"),
        (
            lambda m: m.encode(SRC, src_mask=torch.ones(3, 1, 1, 4, dtype=torch.bool)),
            ShapeError,
            "mask of shape (3, 1, 1, 4) does not broadcast",
        ),
        (
            lambda m: m.encode(SRC, src_mask=torch.ones(3, 5, dtype=torch.bool)),
            ShapeError,
            "does not broadcast",
        ),
        (
            lambda m: m.decode(TGT, m.encode(SRC), padding_mask(TGT)),
            ShapeError,
            "does not broadcast",
        ),
        (
            lambda m: m.decode(TGT, m.encode(SRC), tgt_mask=torch.ones(6, 6)),
            ShapeError,
            "mask must be a bool tensor",
        ),
        (
            lambda m: m.decode(TGT[:2], m.encode(SRC)),
            ShapeError,
            "memory has batch size 3 but the target has 2",
        ),
        (
            lambda m: m.decode(TGT, torch.randn(3, 5, 8)),
            ShapeError,
            "memory must have shape (batch, seq_len, 32)",
        ),
    ],
)
def test_errors_are_named(call, error, message):
    with pytest.raises(error) as raised:
        call(model())
    assert message in str(raised.value)


def test_bad_config_type_is_named():
    with pytest.raises(CourseLibError, match="needs a TransformerConfig, got dict"):
        Transformer({"d_model": 8})
    with pytest.raises(CourseLibError, match="parameter_counts needs a Transformer"):
        parameter_counts("base")


def test_training_forward_compiles_without_graph_breaks():
    """Issue 18: no value is read back under ``torch.compile`` (the id-range check is skipped
    while tracing), so a training forward is one graph."""
    dynamo = getattr(torch, "_dynamo", None)
    if dynamo is None or not hasattr(dynamo, "explain"):
        pytest.skip("torch.compile is not available in this torch version")
    m = model(dropout=0.1).train()
    explanation = dynamo.explain(m)(SRC, TGT)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


def test_decoding_with_a_cache_reads_no_value_back(monkeypatch):
    """The per-token path never calls the id-range check (which reads values back)."""
    m = model()
    memory, cache = m.encode(SRC), m.new_cache()
    calls = []
    monkeypatch.setattr(model_module, "check_ids_in_vocab", lambda *args: calls.append(args))
    for t in range(3):
        m.decode(TGT[:, t : t + 1], memory, padding_mask(SRC), cache=cache, start=t)
    assert calls == []
    m.decode(TGT, memory)  # without a cache: checked once
    assert len(calls) == 1
