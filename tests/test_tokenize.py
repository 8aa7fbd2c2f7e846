"""Step 2a: word tokenizers, the vocabulary, BPE, serialisation and bad input."""

from __future__ import annotations

import json
import unicodedata

import pytest
import torch

from course_lib.data import make_toy_corpus
from course_lib.errors import CourseLibError
from course_lib.tokenize import (
    END,
    PAD,
    SPECIAL_TOKENS,
    START,
    UNK,
    BPETokenizer,
    Vocab,
    WordTokenizer,
    detokenize_en,
    detokenize_fr,
    load_tokenizer,
    save_tokenizer,
    tokenize_en,
    tokenize_fr,
    tokenizer_from_dict,
    unknown_rate,
)


@pytest.fixture(scope="module")
def corpus():
    return make_toy_corpus(0)


@pytest.fixture(scope="module")
def fr_tok(corpus):
    return WordTokenizer.fit([f for _, f in corpus.train], "fr")


@pytest.fixture(scope="module")
def bpe(corpus):
    return BPETokenizer.fit([f for _, f in corpus.train], vocab_size=300, language="fr")


def test_special_ids():
    assert (PAD, START, END, UNK) == (0, 1, 2, 3)
    assert SPECIAL_TOKENS == ["<pad>", "<start>", "<end>", "<unk>"]


# --- word tokenizers --------------------------------------------------------------------------


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


# --- the vocabulary ---------------------------------------------------------------------------


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
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"tokens": 3}', encoding="utf-8")
    with pytest.raises(CourseLibError, match="expected {'format': 'course_lib.vocab'"):
        Vocab.load(wrong)


# --- the word tokenizer -------------------------------------------------------------------------


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


def test_word_tokenizer_serialises(fr_tok, tmp_path):
    data = json.loads(json.dumps(fr_tok.to_dict()))
    again = tokenizer_from_dict(data)
    assert isinstance(again, WordTokenizer) and again.vocab == fr_tok.vocab
    assert again.language == "fr"
    path = tmp_path / "tok.json"
    save_tokenizer(fr_tok, path)
    assert load_tokenizer(path).encode("J'aime l'eau") == fr_tok.encode("J'aime l'eau")


# --- BPE ------------------------------------------------------------------------------------------


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


def test_unknown_rate_word_versus_bpe(bpe, fr_tok):
    real = ["J'aime les pizzas.", "Tu bois du thé vert ?", "Nous regardons la télévision."]
    assert unknown_rate(fr_tok, real) > 0.1
    assert unknown_rate(bpe, real) == 0.0
    with pytest.raises(CourseLibError, match="no sentences given"):
        unknown_rate(bpe, [])


def test_bpe_training_is_deterministic(corpus, bpe):
    again = BPETokenizer.fit([f for _, f in corpus.train], vocab_size=300, language="fr")
    assert again.to_dict() == bpe.to_dict()


def test_bpe_serialises_to_plain_json(bpe, tmp_path):
    data = json.loads(json.dumps(bpe.to_dict()))
    assert data["kind"] == "bpe" and isinstance(data["tokenizer_json"], str)
    again = tokenizer_from_dict(data)
    assert isinstance(again, BPETokenizer)
    sentence = "Elles achètent une voiture rouge"
    assert again.encode(sentence) == bpe.encode(sentence)
    path = tmp_path / "bpe.json"
    save_tokenizer(bpe, path)
    assert load_tokenizer(path).encode(sentence) == bpe.encode(sentence)


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


def test_tokenizer_from_dict_and_files_with_problems(tmp_path):
    with pytest.raises(CourseLibError, match="'kind' must be 'word' or 'bpe', got 'char'"):
        tokenizer_from_dict({"kind": "char"})
    with pytest.raises(CourseLibError, match="'kind' must be 'word' or 'bpe', got None"):
        tokenizer_from_dict([1, 2])
    with pytest.raises(CourseLibError, match=r"tokenizer file not found: .*nope\.json"):
        load_tokenizer(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("not json", encoding="utf-8")
    with pytest.raises(CourseLibError, match=r"corrupt tokenizer file .*bad\.json"):
        load_tokenizer(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"kind": "word", "language": "fr", "vocab": {}}', encoding="utf-8")
    with pytest.raises(CourseLibError, match=r"corrupt tokenizer file .*wrong\.json"):
        load_tokenizer(wrong)
