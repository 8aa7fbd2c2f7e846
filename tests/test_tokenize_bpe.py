"""Step 2a: the byte-pair-encoding tokenizer (course_lib.tokenize.bpe)."""

from __future__ import annotations

import json

import pytest

from course_lib.errors import CourseLibError
from course_lib.tokenize import (
    END,
    PAD,
    SPECIAL_TOKENS,
    START,
    UNK,
    BPETokenizer,
    tokenize_fr,
    tokenizer_from_dict,
)


def test_bpe_special_ids_and_round_trip(bpe, corpus):
    for token, expected in zip(SPECIAL_TOKENS, range(4)):
        assert bpe.tokenizer.token_to_id(token) == expected
    assert bpe.vocab_size == 300
    for _, french in corpus.test[:200]:
        ids = bpe.encode(french, add_start=True, add_end=True)
        assert ids[0] == START and ids[-1] == END
        assert bpe.decode(ids + [PAD]) == french, "exact text back, capitals included"


def test_bpe_spells_unseen_words_with_known_pieces(bpe, fr_tok):
    sentence = "J'aime les pizzas"  # "pizzas" never occurs in the toy corpus
    assert fr_tok.encode(sentence)[-1] == UNK
    ids = bpe.encode(sentence)
    assert UNK not in ids
    assert bpe.decode(ids) == sentence
    assert len(bpe.tokenize(sentence)) > len(tokenize_fr(sentence))


def test_bpe_unseen_character_becomes_unk(bpe):
    ids = bpe.encode("J'aime 寿司")
    assert UNK in ids
    assert "<unk>" in bpe.decode(ids)


def test_bpe_training_is_deterministic(corpus, bpe):
    again = BPETokenizer.fit([f for _, f in corpus.train], vocab_size=300, language="fr")
    assert again.to_dict() == bpe.to_dict()


def test_bpe_serialises_to_plain_json(bpe):
    data = json.loads(json.dumps(bpe.to_dict()))
    assert data["kind"] == "bpe" and isinstance(data["tokenizer_json"], str)
    again = tokenizer_from_dict(data)
    assert isinstance(again, BPETokenizer)
    sentence = "Elles achètent une voiture rouge"
    assert again.encode(sentence) == bpe.encode(sentence)


def test_bpe_bad_input(bpe, tmp_path):
    with pytest.raises(CourseLibError, match="vocab_size must be an int > 4"):
        BPETokenizer.fit(["a b"], vocab_size=4)
    with pytest.raises(CourseLibError, match="got one str"):
        BPETokenizer.fit("a b")
    with pytest.raises(CourseLibError, match=r"id 300 is outside the vocabulary \(size 300"):
        bpe.decode([5, 300])
    with pytest.raises(CourseLibError, match="corrupt tokenizer JSON"):
        BPETokenizer.from_dict({"kind": "bpe", "language": "fr", "tokenizer_json": "{nope"})
    with pytest.raises(CourseLibError, match="expected a tokenizers.Tokenizer"):
        BPETokenizer("not a tokenizer", "fr")
