"""Step 2a: the special tokens and the vocabulary (course_lib.tokenize.vocab)."""

from __future__ import annotations

import json

import pytest
import torch

from course_lib.errors import CourseLibError
from course_lib.tokenize import (
    END,
    PAD,
    SPECIAL_TOKENS,
    START,
    UNK,
    Vocab,
)


def test_special_ids():
    assert (PAD, START, END, UNK) == (0, 1, 2, 3)
    assert SPECIAL_TOKENS == ["<pad>", "<start>", "<end>", "<unk>"]


def test_vocab_build_orders_by_frequency_then_alphabet():
    vocab = Vocab.build([["b", "a", "c"], ["c", "a"], ["c"]])
    assert vocab.itos == SPECIAL_TOKENS + ["c", "a", "b"]
    assert len(vocab) == 7 and "a" in vocab and "z" not in vocab
    assert Vocab.build([["b", "a", "c"], ["c", "a"]], min_freq=2).itos == SPECIAL_TOKENS + [
        "a",
        "c",
    ]
    assert Vocab.build([["b", "a", "c"], ["c", "a"]], max_size=5).itos == SPECIAL_TOKENS + ["a"]
    assert Vocab.build([["<unk>", "x"]]).itos == SPECIAL_TOKENS + ["x"]


def test_unknown_tokens_become_unk_never_an_error():
    vocab = Vocab.build([["j'", "aime", "la", "pizza"]])
    ids = vocab.encode(["j'", "aime", "les", "sushis"])
    assert ids[2:] == [UNK, UNK]
    assert vocab.decode(ids) == ["j'", "aime", "<unk>", "<unk>"]


def test_decode_strips_special_tokens_on_request():
    vocab = Vocab.build([["a", "b"]])
    ids = [START, 4, 5, END, PAD]
    assert vocab.decode(ids) == ["a", "b"]
    assert vocab.decode(ids, strip_special=False) == ["<start>", "a", "b", "<end>", "<pad>"]
    assert vocab.decode(torch.tensor(ids)) == ["a", "b"]


@pytest.mark.parametrize("bad_id", [6, 100, -1])
def test_ids_outside_the_vocabulary_are_named(bad_id):
    vocab = Vocab.build([["a", "b"]])
    with pytest.raises(CourseLibError, match=rf"id {bad_id} is outside the vocabulary \(size 6"):
        vocab.decode([4, bad_id])


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([4, 1.0], "id 1 must be an int, got float"),
        ([True], "id 0 must be an int, got bool"),
        ("45", "expected a list of token ids, got str"),
        (torch.tensor([[4, 5]]), "expected a 1-D integer tensor"),
        (torch.tensor([4.0]), "expected a 1-D integer tensor"),
    ],
)
def test_bad_ids_are_refused(ids, message):
    with pytest.raises(CourseLibError, match=message):
        Vocab.build([["a"]]).decode(ids)


def test_vocab_encode_refuses_a_sentence():
    with pytest.raises(CourseLibError, match="tokenize the sentence first"):
        Vocab.build([["a"]]).encode("a b")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Vocab(["a", "b"]), "the first tokens must be"),
        (lambda: Vocab(SPECIAL_TOKENS + ["a", "a"]), r"repeated: \['a'\]"),
        (lambda: Vocab.build([["a"]], min_freq=0), "min_freq must be an int >= 1"),
        (lambda: Vocab.build([["a"]], max_size=2), "max_size must be None or an int >= 4"),
        (lambda: Vocab.build([["a"], "b c"]), r"sentence 1\): expected a list of tokens"),
    ],
)
def test_bad_vocab_arguments(call, message):
    with pytest.raises(CourseLibError, match=message):
        call()


def test_vocab_serialises_to_plain_json(tmp_path):
    vocab = Vocab.build([["j'", "aime", "l'", "été"]])
    data = json.loads(json.dumps(vocab.to_dict()))
    assert Vocab.from_dict(data) == vocab
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert Vocab.load(path) == vocab
    assert "été" in path.read_text(encoding="utf-8")


def test_missing_or_corrupt_vocab_file_is_named(tmp_path):
    with pytest.raises(CourseLibError, match=r"vocabulary file not found: .*missing\.json"):
        Vocab.load(tmp_path / "missing.json")
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "course_lib.vocab", "tokens": [', encoding="utf-8")
    with pytest.raises(CourseLibError, match=r"corrupt vocabulary file .*corrupt\.json"):
        Vocab.load(corrupt)


@pytest.mark.parametrize("bad", [{"tokens": 3}, {"format": "other", "tokens": []}, [1, 2], None])
def test_vocab_from_dict_refuses_other_data(bad):
    with pytest.raises(CourseLibError, match="expected {'format': 'course_lib.vocab'"):
        Vocab.from_dict(bad)
