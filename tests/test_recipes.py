"""Tests for course_lib.recipes: the named model and training presets."""

from __future__ import annotations

import json

import pytest
import torch
from tiny_training import PAIRS, tiny_model, tokenizers

from course_lib.config import TransformerConfig
from course_lib.errors import CourseLibError
from course_lib.recipes import (
    COURSE_CHOICES,
    REAL_MODEL_CHANGES,
    RECIPE_MODEL_CHANGES,
    SMALL_MODEL,
    TOY_TRAINING,
    build_model,
    fit_tokenizers,
    read_config_file,
    recipe,
    train,
)
from course_lib.tokenize import BPETokenizer, WordTokenizer
from course_lib.trainer import TrainSettings

pytestmark = pytest.mark.usefixtures("one_thread")


def test_small_model_is_transformer_config_small_with_the_course_choices():
    small = TransformerConfig.small(7, 9)
    for name, value in small.to_dict().items():
        if name in COURSE_CHOICES:
            assert SMALL_MODEL[name] == COURSE_CHOICES[name]
        elif name not in ("src_vocab_size", "tgt_vocab_size"):
            assert SMALL_MODEL[name] == value, name
    assert SMALL_MODEL["norm_first"] and SMALL_MODEL["tie_embeddings"]


def test_recipe_presets():
    small = recipe("small", "toy")
    assert small["model"] == {**SMALL_MODEL, "dropout": 0.0} and small["training"] == TOY_TRAINING
    assert SMALL_MODEL["dropout"] == 0.1  # the paper's model keeps its dropout
    course = {**SMALL_MODEL, **RECIPE_MODEL_CHANGES}
    assert recipe("small", "tatoeba")["model"] == small["model"] == course
    assert REAL_MODEL_CHANGES is RECIPE_MODEL_CHANGES  # the 0.3 name
    assert small["model"]["n_encoder_layers"] == 3 and small["training"]["max_steps"]
    assert small["tokenizer"] == {"kind": "word", "min_freq": 1, "vocab_size": 8000}
    real = recipe("small", "tatoeba", "bpe")
    assert real["training"]["max_minutes"] and real["tokenizer"]["kind"] == "bpe"
    assert recipe("base", "tatoeba")["model"]["d_model"] == 512
    TrainSettings(**small["training"])  # every preset is valid settings
    TrainSettings(**real["training"])


@pytest.mark.parametrize(
    "args, message",
    [
        (("huge", "toy"), "config must be"),
        (("small", "toy", "chars"), "tokenizer must be"),
        (("missing.json", "toy"), "is not 'small', 'base' or an existing JSON file"),
    ],
)
def test_recipe_bad_input(args, message):
    with pytest.raises(CourseLibError, match=message):
        recipe(*args)


def test_config_file_fields_go_on_top_of_the_small_model(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"d_model": 64, "training": {"batch_size": 8}}))
    spec = recipe(str(path), "toy")
    assert spec["model"] == {**SMALL_MODEL, **RECIPE_MODEL_CHANGES, "d_model": 64}
    assert spec["training"]["batch_size"] == 8
    assert read_config_file(str(path)) == ({"d_model": 64}, {"batch_size": 8})
    path.write_text("[1, 2]")
    with pytest.raises(CourseLibError, match="expected a JSON object"):
        read_config_file(str(path))
    path.write_text("{nope")
    with pytest.raises(CourseLibError, match="not valid JSON"):
        read_config_file(str(path))


def test_fit_tokenizers_and_build_model():
    src_tok, tgt_tok = fit_tokenizers(PAIRS)
    assert isinstance(src_tok, WordTokenizer) and src_tok.encode("I love pizza")
    bpe_src, _ = fit_tokenizers(PAIRS, {"kind": "bpe", "vocab_size": 60})
    assert isinstance(bpe_src, BPETokenizer)
    with pytest.raises(CourseLibError, match="no training pairs"):
        fit_tokenizers([])
    model, config = build_model(src_tok, tgt_tok, seed=0)
    assert config == TransformerConfig(src_tok.vocab_size, tgt_tok.vocab_size, **SMALL_MODEL)
    again, _ = build_model(src_tok, tgt_tok, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))
    with pytest.raises(CourseLibError, match="invalid model config"):
        build_model(src_tok, tgt_tok, {"colour": "red"})


def test_train_function():
    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok)
    history = train(
        model,
        src_tok,
        tgt_tok,
        PAIRS,
        None,
        max_steps=3,
        batch_size=4,
        device="cpu",
        progress=False,
        log_every=1,
    )
    assert history.stopped == "max_steps" and not history.valid
    assert [r["step"] for r in history.train] == [1, 2, 3]
    with pytest.raises(CourseLibError, match="unknown|budget"):
        train(model, src_tok, tgt_tok, PAIRS, None, progress=False)
