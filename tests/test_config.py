"""TransformerConfig: the paper's sizes, the CPU preset, validation, plain-data round trip."""

from __future__ import annotations

import json

import pytest

from course_lib.config import TransformerConfig
from course_lib.errors import CourseLibError


def test_base_is_the_paper_base_model():
    c = TransformerConfig.base()
    assert (c.d_model, c.n_heads, c.n_encoder_layers, c.n_decoder_layers, c.d_ff) == (
        512,
        8,
        6,
        6,
        2048,
    )
    assert c.dropout == 0.1 and c.d_head == 64 and not c.norm_first
    assert c.src_vocab_size == c.tgt_vocab_size == 37000


def test_small_is_cpu_friendly_and_accepts_overrides():
    c = TransformerConfig.small(100, 120)
    assert (c.d_model, c.n_heads, c.n_encoder_layers, c.n_decoder_layers, c.d_ff) == (
        128,
        4,
        3,
        3,
        512,
    )
    assert (c.src_vocab_size, c.tgt_vocab_size) == (100, 120)
    assert TransformerConfig.small(100, 120, d_model=64, norm_first=True).d_model == 64


def test_round_trip_through_json():
    c = TransformerConfig.small(50, 60, norm_first=True, tie_embeddings=True, dropout=0.0)
    data = json.loads(json.dumps(c.to_dict()))
    assert TransformerConfig.from_dict(data) == c


def test_missing_keys_take_defaults_so_old_checkpoints_load():
    data = TransformerConfig.small(50, 60).to_dict()
    del data["share_embeddings"]
    assert TransformerConfig.from_dict(data).share_embeddings is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"d_model": 100, "n_heads": 8}, "d_model (100) must be divisible by n_heads (8)"),
        ({"d_model": 0}, "d_model must be an integer >= 1, got 0"),
        ({"n_heads": -1}, "n_heads must be an integer >= 1, got -1"),
        ({"n_encoder_layers": 0}, "n_encoder_layers must be an integer >= 1"),
        ({"d_ff": -5}, "d_ff must be an integer >= 1"),
        ({"max_len": 0}, "max_len must be an integer >= 1"),
        ({"src_vocab_size": 0}, "src_vocab_size must be an integer >= 1"),
        ({"d_model": 128.0}, "d_model must be an integer, got 128.0"),
        ({"n_heads": True}, "n_heads must be an integer"),
        ({"dropout": 1.0}, "dropout must be in [0, 1)"),
        ({"dropout": -0.1}, "dropout must be in [0, 1)"),
        ({"dropout": "0.1"}, "dropout must be a number"),
        ({"norm_first": "yes"}, "norm_first must be True or False"),
        ({"layer_norm_eps": 0}, "layer_norm_eps must be > 0"),
        ({"pad_id": 50}, "pad_id 50 is outside the vocabularies"),
        ({"pad_id": -1}, "pad_id -1 is outside"),
        ({"share_embeddings": True}, "share_embeddings needs one shared vocabulary"),
    ],
)
def test_bad_values_are_named(changes, message):
    with pytest.raises(CourseLibError) as error:
        TransformerConfig(**{**TransformerConfig.small(50, 60).to_dict(), **changes})
    assert message in str(error.value)


def test_from_dict_errors():
    with pytest.raises(CourseLibError, match="unknown config keys: colour"):
        TransformerConfig.from_dict({**TransformerConfig.small(5, 5).to_dict(), "colour": 1})
    with pytest.raises(CourseLibError, match="a config must be a dict, got list"):
        TransformerConfig.from_dict([1, 2])
