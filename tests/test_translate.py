"""Step 7: translating (course_lib.translate): strings in, strings out, and the Translator."""

from __future__ import annotations

import pytest
import torch
from tiny_translator import MAX_LEN, train_tiny_model

from course_lib.checkpoint import save_checkpoint
from course_lib.data import make_toy_corpus
from course_lib.errors import CourseLibError
from course_lib.tokenize import END, UNK
from course_lib.translate import (
    Translator,
    default_max_new_tokens,
    generate_ids,
    load_checkpoint_or_bundled,
    strip_special,
    translate,
    translate_ids,
)


@pytest.fixture(scope="module")
def tiny():
    return train_tiny_model()


# ----------------------------------------------------------------------------- translate


def test_translate_string_and_list(tiny):
    model, src_tok, tgt_tok, pairs = tiny
    assert translate(model, "I love pizza", src_tok, tgt_tok) == "J'aime la pizza"
    sources = [e for e, _ in pairs]
    out = translate(model, sources, src_tok, tgt_tok)
    assert isinstance(out, list) and len(out) == len(pairs)
    assert out == [f for _, f in pairs]  # memorised, detokenised with elision and capitals


def test_translate_keeps_order_whatever_the_batch_size(tiny):
    model, src_tok, tgt_tok, pairs = tiny
    sources = [e for e, _ in pairs][::-1]
    assert translate(model, sources, src_tok, tgt_tok, batch_size=3) == translate(
        model, sources, src_tok, tgt_tok, batch_size=64
    )
    assert translate(model, tuple(sources[:2]), src_tok, tgt_tok) == translate(
        model, sources[:2], src_tok, tgt_tok
    )


def test_beam_search_agrees_on_memorised_sentences(tiny):
    model, src_tok, tgt_tok, pairs = tiny
    sources = [e for e, _ in pairs[:10]]
    assert translate(model, sources, src_tok, tgt_tok, beam_size=3) == [f for _, f in pairs[:10]]


def test_empty_and_whitespace_give_empty_without_running_the_model(tiny):
    model, src_tok, tgt_tok, _ = tiny
    calls = []
    handle = model.encoder.register_forward_hook(lambda *args: calls.append(1))
    try:
        assert translate(model, "", src_tok, tgt_tok) == ""
        assert translate(model, " \t\n ", src_tok, tgt_tok) == ""
        assert translate(model, ["", "   "], src_tok, tgt_tok) == ["", ""]
        assert translate(model, [], src_tok, tgt_tok) == []
    finally:
        handle.remove()
    assert calls == []


def test_unknown_words_become_unk_and_are_still_translated(tiny):
    model, src_tok, tgt_tok, _ = tiny
    assert UNK in src_tok.encode("I love sushi")
    out = translate(model, "I love sushi", src_tok, tgt_tok)
    assert isinstance(out, str) and out.strip()
    assert translate(model, "zzz qqq", src_tok, tgt_tok).strip()  # every word unknown


def test_too_long_input_is_a_clear_error_naming_the_limit(tiny):
    model, src_tok, tgt_tok, _ = tiny
    long = " ".join(["pizza"] * (MAX_LEN + 5))
    with pytest.raises(
        CourseLibError, match=rf"sentence 0 has {MAX_LEN + 5} tokens.*max_len={MAX_LEN}"
    ):
        translate(model, long, src_tok, tgt_tok)
    exactly = " ".join(["pizza"] * MAX_LEN)  # at the limit: fine
    assert isinstance(translate(model, exactly, src_tok, tgt_tok), str)


def test_truncate_translates_the_first_max_len_tokens(tiny):
    model, src_tok, tgt_tok, _ = tiny
    words = ["I", "love", "pizza"] + ["pizza"] * (MAX_LEN + 10)
    cut = " ".join(words[:MAX_LEN])
    assert translate(model, " ".join(words), src_tok, tgt_tok, truncate=True) == translate(
        model, cut, src_tok, tgt_tok
    )


def test_a_batch_mixing_every_kind_of_input(tiny):
    model, src_tok, tgt_tok, _ = tiny
    long = "I love " + " ".join(["pizza"] * (MAX_LEN + 3))
    batch = ["I love pizza", "", "I love sushi", "   ", long, "I love pizza"]
    with pytest.raises(CourseLibError, match=r"sentence 4 has"):
        translate(model, batch, src_tok, tgt_tok)
    out = translate(model, batch, src_tok, tgt_tok, truncate=True)
    assert len(out) == len(batch)
    assert out[0] == out[5] == "J'aime la pizza"
    assert out[1] == out[3] == ""
    assert out[2].strip() and isinstance(out[4], str)
    assert out[2] == translate(model, "I love sushi", src_tok, tgt_tok)


def test_translate_restores_training_mode(tiny):
    model, src_tok, tgt_tok, _ = tiny
    model.train()
    try:
        translate(model, "I love pizza", src_tok, tgt_tok)
        assert model.training
    finally:
        model.eval()


def test_max_new_tokens_limits_the_output(tiny):
    model, src_tok, tgt_tok, _ = tiny
    assert translate(model, "I love pizza", src_tok, tgt_tok, max_new_tokens=2) == "J'aime"
    assert default_max_new_tokens(3, 256) == 16
    assert default_max_new_tokens(200, 256) == 255


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sentences": 42}, "sentences must be a string or a list of strings, got int"),
        ({"sentences": ["ok", None]}, r"sentences\[1\] must be a string, got NoneType"),
        ({"beam_size": 0}, "beam_size must be an integer >= 1, got 0"),
        ({"beam_size": 1.5}, "beam_size must be an integer, got 1.5"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"max_new_tokens": 0}, "max_new_tokens must be an integer >= 1"),
        ({"max_new_tokens": MAX_LEN + 1}, f"max_len={MAX_LEN}"),
        ({"src_tokenizer": "en"}, "src_tokenizer must be a tokenizer"),
        ({"tgt_tokenizer": None}, "tgt_tokenizer must be a tokenizer"),
        ({"model": torch.nn.Linear(2, 2)}, "model must be a course_lib.model.Transformer"),
    ],
)
def test_translate_bad_input(tiny, kwargs, message):
    model, src_tok, tgt_tok, _ = tiny
    args = {
        "model": model,
        "sentences": "I love pizza",
        "src_tokenizer": src_tok,
        "tgt_tokenizer": tgt_tok,
    }
    options = {k: v for k, v in kwargs.items() if k not in args}
    args.update({k: v for k, v in kwargs.items() if k in args})
    with pytest.raises(CourseLibError, match=message):
        translate(
            args["model"],
            args["sentences"],
            args["src_tokenizer"],
            args["tgt_tokenizer"],
            **options,
        )


def test_translate_ids_and_generate_ids(tiny):
    model, src_tok, tgt_tok, _ = tiny
    src = [src_tok.encode("I love pizza"), src_tok.encode("I love cats")]
    raw = generate_ids(model, src)
    assert raw[0][: raw[0].index(END) + 1] == tgt_tok.encode("J'aime la pizza", add_end=True)
    assert translate_ids(model, src) == [strip_special(row) for row in raw]
    assert tgt_tok.decode(translate_ids(model, src[:1])[0]) == "J'aime la pizza"
    assert translate_ids(model, []) == []
    with pytest.raises(CourseLibError, match="every source must have at least one token"):
        translate_ids(model, [src[0], []])


def test_strip_special():
    assert strip_special([5, 9, 2, 0, 0]) == [5, 9]
    assert strip_special(torch.tensor([1, 5, 6])) == [5, 6]
    assert strip_special([0, 5]) == []


# ----------------------------------------------------------------------------- Translator


def test_translator_from_checkpoint_round_trip(tiny, tmp_path):
    model, src_tok, tgt_tok, _ = tiny
    save_checkpoint(
        tmp_path, model, src_tokenizer=src_tok, tgt_tokenizer=tgt_tok, metadata={"command": "test"}
    )
    translator = Translator.load(tmp_path)
    assert translator("I love pizza") == "J'aime la pizza"
    assert translator.translate(["I love pizza", ""]) == ["J'aime la pizza", ""]
    assert translator.metadata["command"] == "test"
    assert "d_model=32" in repr(translator)


def test_translator_bad_input(tiny, tmp_path):
    model, src_tok, tgt_tok, _ = tiny
    with pytest.raises(CourseLibError, match="without .model"):
        Translator.from_checkpoint(object())
    with pytest.raises(CourseLibError, match="model must be a course_lib.model.Transformer"):
        Translator("model", src_tok, tgt_tok)
    with pytest.raises(CourseLibError, match="checkpoint not found: .*missing"):
        Translator.load(tmp_path / "missing")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(CourseLibError, match="corrupt.pt"):
        load_checkpoint_or_bundled(corrupt)
    with pytest.raises(CourseLibError, match="must be 'bundled' or a path"):
        load_checkpoint_or_bundled(3)


# ----------------------------------------------------------------------------- bundled


def test_bundled_translates_i_hate_pizza():
    corpus = make_toy_corpus()
    assert "I hate pizza" not in {e for e, _ in corpus.train + corpus.valid}
    assert Translator.load("bundled")("I hate pizza").rstrip(".") == "Je déteste la pizza"
