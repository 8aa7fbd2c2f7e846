"""Step 1: the bundled corpus, sampled and split (course_lib.data.toy_corpus)."""

from __future__ import annotations

import pytest

from course_lib import data
from course_lib.data import (
    ANCHOR_SENTENCES,
    grammar,
    make_toy_corpus,
    word_counts,
)
from course_lib.errors import CourseLibError
from course_lib.tokenize import tokenize_en, tokenize_fr


@pytest.fixture(scope="module")
def corpus() -> data.ToyCorpus:
    return make_toy_corpus(0)


# --- the bundled corpus ---------------------------------------------------------------------


def test_same_seed_gives_the_identical_corpus():
    first, second = make_toy_corpus(0), make_toy_corpus(0)
    assert first.train == second.train
    assert first.valid == second.valid
    assert first.test == second.test
    assert first.generalisation == second.generalisation
    assert first.held_out_combinations == second.held_out_combinations
    assert first.description == second.description


def test_identical_in_a_fresh_grammar_cache():
    before = make_toy_corpus(3)
    grammar.grammar_sentences.cache_clear()
    after = make_toy_corpus(3)
    assert before.pairs == after.pairs


def test_other_seed_holds_out_other_combinations_but_always_hate_pizza():
    held = [set(make_toy_corpus(seed).held_out_combinations) for seed in range(4)]
    assert all(("hate", "pizza") in h for h in held)
    assert len({frozenset(h) for h in held}) == 4


def test_held_out_combinations_never_appear_in_train_or_valid(corpus):
    held = set(corpus.held_out_combinations)
    by_english = {s.english: s for s in corpus.sentences}
    for english, _ in corpus.train + corpus.valid:
        info = by_english[english]
        assert (info.verb, info.noun) not in held, english
    for english, _ in corpus.test:
        info = by_english[english]
        assert (info.verb, info.noun) in held, english


def test_hate_pizza_is_only_in_test_checked_on_the_words(corpus):
    assert ("I hate pizza", "Je déteste la pizza") in corpus.test
    for english, french in corpus.train + corpus.valid:
        words = tokenize_en(english)
        assert not ({"hate", "hates"} & set(words) and "pizza" in words), english
        assert not ("déteste" in french.lower() and "pizza" in french), french


def test_about_ten_percent_of_combinations_are_held_out(corpus):
    total = len(data.verb_noun_combinations())
    assert abs(len(corpus.held_out_combinations) - 0.10 * total) <= 1
    assert len(set(corpus.held_out_combinations)) == len(corpus.held_out_combinations)


def test_generalisation_is_a_construction_never_seen_in_training(corpus):
    assert corpus.generalisation_verb == "drink"
    assert len(corpus.generalisation) == 200, "every negated 'drink' the grammar writes"
    for english, french in corpus.generalisation:
        assert "don't drink" in english or "doesn't drink" in english, english
        assert " ne " in f" {french.lower()} " and " pas " in french, french
    for english, _ in corpus.train + corpus.valid + corpus.test:
        assert "don't drink" not in english and "doesn't drink" not in english, english
    # ... while "drink" (affirmative) and negation (other verbs) are both in training.
    assert any(" drink" in e for e, _ in corpus.train)
    assert any("don't" in e for e, _ in corpus.train)


def test_running_examples_are_in_the_corpus_with_the_right_french(corpus):
    pairs = dict(corpus.pairs)
    assert pairs["I love pizza"] == "J'aime la pizza"
    assert ("I love pizza", "J'aime la pizza") in corpus.train + corpus.valid
    assert pairs["I don't like pizza"] == "Je n'aime pas la pizza"
    assert pairs["He doesn't eat bread"] == "Il ne mange pas de pain"
    assert pairs["I see the red car"] == "Je vois la voiture rouge"
    assert all(sentence in pairs for sentence in ANCHOR_SENTENCES)


def test_every_french_subject_and_person_appears(corpus):
    first_words = {tokenize_fr(french)[0] for _, french in corpus.pairs}
    assert {"je", "j'", "tu", "il", "elle", "nous", "vous", "ils", "elles"} <= first_words


def test_size_vocabulary_and_shape_of_the_corpus(corpus):
    assert 3000 <= len(corpus.pairs) <= 8000
    english = {t for e, _ in corpus.pairs for t in tokenize_en(e)}
    french = {t for _, f in corpus.pairs for t in tokenize_fr(f)}
    assert 100 <= len(english) <= 300 and 100 <= len(french) <= 300
    sources = [e for e, _ in corpus.pairs]
    assert len(sources) == len(set(sources)), "each English sentence once"
    assert 0.03 <= len(corpus.valid) / (len(corpus.train) + len(corpus.valid)) <= 0.07
    for english, french in corpus.pairs:
        assert english[0].isupper() and french[0].isupper()
        assert english[-1].isalpha() and french[-1].isalpha(), "no final punctuation"
    assert "6000" in corpus.description and "hate" in corpus.description


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": "0"}, "seed must be an int, got str"),
        ({"seed": 1.5}, "seed must be an int, got float"),
        ({"size": 10}, "size must be an int from 100"),
        ({"size": 10**7}, "size must be an int from 100"),
    ],
)
def test_bad_corpus_arguments(kwargs, message):
    with pytest.raises(CourseLibError, match=message):
        make_toy_corpus(**kwargs)


def test_smaller_corpus_keeps_the_anchors():
    small = make_toy_corpus(0, size=500)
    assert len(small.train) + len(small.valid) + len(small.test) == 500
    assert len(small.generalisation) == len(make_toy_corpus(0).generalisation) == 200
    assert {"I love pizza", "I hate pizza"} <= {e for e, _ in small.pairs}


def test_word_counts():
    assert word_counts(["I love pizza", "i HATE  pizza"]) == {
        "i": 2,
        "love": 1,
        "pizza": 2,
        "hate": 1,
    }
    assert word_counts([]) == {}
    with pytest.raises(CourseLibError, match="sentence 1 must be a str, got int"):
        word_counts(["ok", 3])
