"""Step 2a: the word rules and the word tokenizer (course_lib.tokenize.words)."""

from __future__ import annotations

import json
import unicodedata

import pytest

from course_lib.errors import CourseLibError
from course_lib.tokenize import (
    END,
    PAD,
    START,
    UNK,
    WordTokenizer,
    detokenize_en,
    detokenize_fr,
    tokenize_en,
    tokenize_fr,
    tokenizer_from_dict,
)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("J'aime la pizza", ["j'", "aime", "la", "pizza"]),
        ("Elle boit de l'eau.", ["elle", "boit", "de", "l'", "eau", "."]),
        ("Je n'aime pas la pizza !", ["je", "n'", "aime", "pas", "la", "pizza", "!"]),
        ("Qu'est-ce que c'est ?", ["qu'", "est-ce", "que", "c'", "est", "?"]),
        ("Aujourd'hui, il pleut.", ["aujourd'hui", ",", "il", "pleut", "."]),
        ("L’école est fermée.", ["l'", "école", "est", "fermée", "."]),  # typographic apostrophe
        ("Ça alors\u202f!", ["ça", "alors", "!"]),  # narrow no-break space
        ("Il est 8:30.", ["il", "est", "8:30", "."]),
        ("ÉLÈVE Œuf", ["élève", "œuf"]),
    ],
)
def test_tokenize_fr(text, tokens):
    assert tokenize_fr(text) == tokens


def test_tokenize_fr_normalises_accents_to_nfc():
    decomposed = unicodedata.normalize("NFD", "Je déteste le café")
    assert decomposed != "Je déteste le café"
    assert tokenize_fr(decomposed) == ["je", "déteste", "le", "café"]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("I love pizza", ["i", "love", "pizza"]),
        ("I don't like pizza!", ["i", "don't", "like", "pizza", "!"]),
        ("They (f) love cats", ["they", "(", "f", ")", "love", "cats"]),
        ("Tom's car, please.", ["tom's", "car", ",", "please", "."]),
        ("It's 8:30.", ["it's", "8:30", "."]),
    ],
)
def test_tokenize_en(text, tokens):
    assert tokenize_en(text) == tokens


def test_empty_text_has_no_tokens():
    assert tokenize_en("") == [] and tokenize_fr("   ") == []


@pytest.mark.parametrize("bad", [None, 3, ["I", "love"], b"bytes"])
def test_non_string_text_is_refused(bad):
    with pytest.raises(CourseLibError, match=r"tokenize_fr: expected a sentence \(str\), got"):
        tokenize_fr(bad)
    with pytest.raises(CourseLibError, match=r"tokenize_en: expected a sentence \(str\), got"):
        tokenize_en(bad)


def test_round_trip_on_the_whole_toy_corpus(corpus):
    for english, french in corpus.pairs:
        assert detokenize_fr(tokenize_fr(french)) == french
        assert detokenize_en(tokenize_en(english)) == english


@pytest.mark.parametrize(
    ("tokens", "text"),
    [
        (["va", "!"], "Va !"),
        (["j'", "aime", "l'", "eau", "."], "J'aime l'eau."),
        (["oui", ",", "c'", "est", "ça", "?", "non", "!"], "Oui, c'est ça ? Non !"),
        (["élise", "arrive", "."], "Élise arrive."),
        ([], ""),
    ],
)
def test_detokenize_fr(tokens, text):
    assert detokenize_fr(tokens) == text


@pytest.mark.parametrize(
    ("tokens", "text"),
    [
        (["i", "don't", "like", "pizza", "!"], "I don't like pizza!"),
        (["go", ".", "i'm", "here", "."], "Go. I'm here."),
        (["they", "(", "f", ")", "eat"], "They (f) eat"),
    ],
)
def test_detokenize_en(tokens, text):
    assert detokenize_en(tokens) == text


def test_detokenize_refuses_a_string_or_non_string_tokens():
    with pytest.raises(CourseLibError, match="expected a list of tokens, got str"):
        detokenize_fr("j'aime")
    with pytest.raises(CourseLibError, match="token 1 must be a str, got int"):
        detokenize_en(["i", 3])


def test_word_tokenizer_encode_decode(fr_tok):
    ids = fr_tok.encode("J'aime la pizza", add_start=True, add_end=True)
    assert ids[0] == START and ids[-1] == END and len(ids) == 6
    assert UNK not in ids
    assert fr_tok.encode("J'aime la pizza") == ids[1:-1]
    assert fr_tok.decode(ids + [PAD, PAD]) == "J'aime la pizza"
    assert fr_tok.decode(ids[:-1] + [END] + ids[1:3]) == "J'aime la pizza", "stops at <end>"
    assert fr_tok.vocab_size == len(fr_tok.vocab)


def test_word_tokenizer_unknown_word(fr_tok):
    ids = fr_tok.encode("J'aime les sushis")
    assert ids[-1] == UNK
    assert fr_tok.decode(ids) == "J'aime les <unk>"


def test_word_tokenizer_round_trips_the_corpus(corpus):
    for language, column in (("en", 0), ("fr", 1)):
        texts = [pair[column] for pair in corpus.pairs]
        tokenizer = WordTokenizer.fit(texts, language)
        assert all(tokenizer.decode(tokenizer.encode(t)) == t for t in texts)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "cannot encode an empty sentence"),
        ("   ", "cannot encode an empty sentence"),
        (None, r"expected a sentence \(str\), got NoneType"),
        (42, r"expected a sentence \(str\), got int"),
        (["J'aime"], r"expected a sentence \(str\), got list"),
    ],
)
def test_encode_refuses_empty_or_non_string(fr_tok, bpe, text, message):
    with pytest.raises(CourseLibError, match=message):
        fr_tok.encode(text)
    with pytest.raises(CourseLibError, match=message):
        bpe.encode(text)


def test_word_tokenizer_bad_arguments(fr_tok):
    with pytest.raises(CourseLibError, match="language must be 'en' or 'fr', got 'de'"):
        WordTokenizer.fit(["Hallo"], "de")
    with pytest.raises(CourseLibError, match="got one str"):
        WordTokenizer.fit("J'aime la pizza", "fr")
    with pytest.raises(CourseLibError, match="no sentences"):
        WordTokenizer.fit([], "fr")
    with pytest.raises(CourseLibError, match=r"sentence 1\): cannot encode an empty sentence"):
        WordTokenizer.fit(["a", ""], "fr")
    with pytest.raises(CourseLibError, match="vocab must be a Vocab"):
        WordTokenizer("fr", ["a"])
    with pytest.raises(CourseLibError, match=r"id 9999 is outside the vocabulary \(size"):
        fr_tok.decode([4, 9999])


def test_word_tokenizer_serialises(fr_tok):
    data = json.loads(json.dumps(fr_tok.to_dict()))
    again = tokenizer_from_dict(data)
    assert isinstance(again, WordTokenizer) and again.vocab == fr_tok.vocab
    assert again.language == "fr"
    assert again.encode("J'aime l'eau") == fr_tok.encode("J'aime l'eau")
