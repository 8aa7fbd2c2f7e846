"""Step 7: looking inside (course_lib.attention_maps): every kind of attention of a translation."""

from __future__ import annotations

import pytest
import torch
from tiny_translator import train_tiny_model

from course_lib.attention import AttentionWeights
from course_lib.attention_maps import (
    Alignment,
    AttentionMaps,
    attention_maps,
    cross_attention,
    hard_alignment,
    token_strings,
)
from course_lib.errors import CourseLibError
from course_lib.generate import greedy_decode
from course_lib.tokenize import START


@pytest.fixture(scope="module")
def tiny():
    return train_tiny_model()


def test_cross_attention_shapes_and_rows(tiny):
    model, src_tok, tgt_tok, _ = tiny
    alignment = cross_attention(model, "I love pizza", src_tok, tgt_tok)
    assert isinstance(alignment, Alignment)
    assert alignment.translation == "J'aime la pizza"
    assert alignment.source_tokens == ["i", "love", "pizza"]
    assert alignment.target_tokens == ["j'", "aime", "la", "pizza", "<end>"]
    config = model.config
    assert alignment.weights.shape == (config.n_decoder_layers, config.n_heads, 5, 3)
    torch.testing.assert_close(alignment.weights.sum(-1), torch.ones(1, 2, 5))
    assert alignment.average().shape == (5, 3)
    assert alignment.average(0).shape == (5, 3)
    assert [t for t, _ in alignment.strongest_source()] == alignment.target_tokens


def test_cross_attention_matches_generation_step_weights(tiny):
    """The teacher-forced weights equal those greedy decoding recorded step by step."""
    model, src_tok, tgt_tok, _ = tiny
    alignment = cross_attention(model, "I love pizza", src_tok, tgt_tok)
    src = torch.tensor([src_tok.encode("I love pizza")])
    result = greedy_decode(model, src, max_new_tokens=10, need_weights=True)
    recorded = torch.stack([w[0] for w in result.cross_attention])  # (L, H, steps, S)
    torch.testing.assert_close(alignment.weights, recorded, atol=1e-5, rtol=1e-5)


def test_cross_attention_of_a_given_translation_and_unknown_words(tiny):
    model, src_tok, tgt_tok, _ = tiny
    ids = tgt_tok.encode("J'aime la pizza")
    alignment = cross_attention(model, "I love sushi", src_tok, tgt_tok, translation_ids=ids)
    assert alignment.source_tokens == ["i", "love", "<unk>"]
    assert alignment.translation == "J'aime la pizza"
    assert alignment.weights.shape[2] == len(ids) + 1


def test_cross_attention_bad_input(tiny):
    model, src_tok, tgt_tok, _ = tiny
    with pytest.raises(CourseLibError, match="sentence is empty"):
        cross_attention(model, "  ", src_tok, tgt_tok)
    with pytest.raises(CourseLibError, match="sentence must be a string"):
        cross_attention(model, ["I love pizza"], src_tok, tgt_tok)
    with pytest.raises(CourseLibError, match="translation_ids must be a list"):
        cross_attention(model, "I love pizza", src_tok, tgt_tok, translation_ids="J'aime")


def test_attention_maps_hold_all_three_kinds(tiny):
    model, src_tok, tgt_tok, _ = tiny
    maps = attention_maps(model, "I love pizza", src_tok, tgt_tok)
    assert isinstance(maps, AttentionMaps)
    config = model.config
    assert maps.translation == "J'aime la pizza"
    assert maps.source_tokens == ["i", "love", "pizza"]
    assert maps.target_tokens == ["j'", "aime", "la", "pizza", "<end>"]
    assert maps.decoder_tokens == ["<start>", "j'", "aime", "la", "pizza"]
    heads = config.n_heads
    assert maps.encoder_self.shape == (config.n_encoder_layers, heads, 3, 3)
    assert maps.decoder_self.shape == (config.n_decoder_layers, heads, 5, 5)
    assert maps.cross.shape == (config.n_decoder_layers, heads, 5, 3)
    for kind in AttentionMaps.KINDS:
        weights = maps.weights(kind)
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
        rows, cols = maps.labels(kind)
        assert (len(rows), len(cols)) == tuple(weights.shape[-2:])
    # the causal mask: no weight on a French token after the one being read
    assert maps.decoder_self.triu(diagonal=1).abs().max() == 0
    # the cross-attention part is exactly cross_attention()'s alignment
    alignment = cross_attention(model, "I love pizza", src_tok, tgt_tok)
    torch.testing.assert_close(maps.alignment().weights, alignment.weights)
    assert maps.alignment().target_tokens == alignment.target_tokens


def test_attention_maps_match_the_model_weights(tiny):
    """Encoder weights equal those of model.encode; decoder self-attention rows equal the
    weights the cached generation steps used."""
    model, src_tok, tgt_tok, _ = tiny
    maps = attention_maps(model, "I love pizza", src_tok, tgt_tok)
    src = torch.tensor([src_tok.encode("I love pizza")])
    with torch.no_grad():
        encoder_weights = AttentionWeights()
        memory = model.encode(src, weights=encoder_weights)
        cache = model.new_cache()
        ids = [START] + tgt_tok.encode("J'aime la pizza")  # <start> j' aime la pizza
        for t, token in enumerate(ids):
            step = AttentionWeights()
            model.decode(torch.tensor([[token]]), memory, cache=cache, start=t, weights=step)
            for layer, weights in enumerate(step.decoder_self):  # (1, heads, 1, t + 1)
                torch.testing.assert_close(
                    maps.decoder_self[layer, :, t, : t + 1], weights[0, :, 0], atol=1e-5, rtol=1e-5
                )
    encoder = torch.stack([w[0] for w in encoder_weights.encoder])
    torch.testing.assert_close(maps.encoder_self, encoder)


def test_attention_maps_bad_input(tiny):
    model, src_tok, tgt_tok, _ = tiny
    with pytest.raises(CourseLibError, match="sentence is empty"):
        attention_maps(model, " ", src_tok, tgt_tok)
    maps = attention_maps(model, "I love pizza", src_tok, tgt_tok)
    with pytest.raises(CourseLibError, match="kind must be one of"):
        maps.weights("self")
    with pytest.raises(CourseLibError, match="kind must be one of"):
        maps.labels("cross_attention")
    with pytest.raises(CourseLibError, match="beam_size must be an integer >= 1"):
        attention_maps(model, "I love pizza", src_tok, tgt_tok, beam_size=0)
    with pytest.raises(CourseLibError, match="model must be a course_lib.model.Transformer"):
        attention_maps(torch.nn.Linear(2, 2), "I love pizza", src_tok, tgt_tok)
    with pytest.raises(CourseLibError, match="tgt_tokenizer must be a tokenizer"):
        attention_maps(model, "I love pizza", src_tok, None)


def test_hard_alignment():
    weights = torch.zeros(2, 2, 3, 4)
    weights[..., 0, 1] = 1.0
    weights[..., 1, 3] = 1.0
    weights[..., 2, 0] = 1.0
    assert hard_alignment(weights).tolist() == [1, 3, 0]
    with pytest.raises(
        CourseLibError, match=r"shape \(layers, heads, tgt_len, src_len\), got \(3, 4\)"
    ):
        hard_alignment(torch.zeros(3, 4))
    with pytest.raises(CourseLibError, match="floating-point tensor"):
        hard_alignment(torch.zeros(1, 1, 2, 2, dtype=torch.long))
    with pytest.raises(CourseLibError, match="empty"):
        hard_alignment(torch.zeros(1, 1, 0, 2))


def test_token_strings_name_each_id(tiny):
    _, src_tok, tgt_tok, _ = tiny
    assert token_strings(src_tok, src_tok.encode("I love sushi")) == ["i", "love", "<unk>"]
    assert token_strings(tgt_tok, tgt_tok.encode("J'aime la pizza")) == [
        "j'",
        "aime",
        "la",
        "pizza",
    ]
    assert token_strings(tgt_tok, []) == []
