"""Step 1: the grammar of the bundled corpus (course_lib.data.lexicon, course_lib.data.grammar)."""

from __future__ import annotations

import random

import pytest

from course_lib import data
from course_lib.data import (
    grammar,
    grammar_sentences,
    lexicon,
    make_toy_corpus,
)
from course_lib.errors import CourseLibError


@pytest.mark.parametrize(
    ("english", "french"),
    [
        ("We eat pizza", "Nous mangeons de la pizza"),
        ("She drinks water", "Elle boit de l'eau"),
        ("She doesn't drink water", "Elle ne boit pas d'eau"),
        ("I buy a red car", "J'achète une voiture rouge"),
        ("They (f) don't have a car", "Elles n'ont pas de voiture"),
        ("You all want the big car", "Vous voulez la grande voiture"),
        ("He likes the small computer", "Il aime bien le petit ordinateur"),
        ("I see the bird", "Je vois l'oiseau"),
        ("I eat an egg", "Je mange un œuf"),
        ("We drink cold water", "Nous buvons de l'eau froide"),
        ("I don't eat apples", "Je ne mange pas de pommes"),
        ("They love horses", "Ils aiment les chevaux"),
        ("You prefer white wine", "Tu préfères le vin blanc"),
        ("They (f) prefer small apples", "Elles préfèrent les petites pommes"),
        ("He doesn't have red bikes", "Il n'a pas de vélos rouges"),
        ("You don't hate the black cat", "Tu ne détestes pas le chat noir"),
        ("I hate pizza", "Je déteste la pizza"),
        ("They take the newspapers", "Ils prennent les journaux"),
        ("You all write a letter", "Vous écrivez une lettre"),
        ("She buys white bread", "Elle achète du pain blanc"),
        ("I like white houses", "J'aime bien les maisons blanches"),
    ],
)
def test_grammar_writes_correct_french(english, french):
    translations = {s.english: s.french for s in grammar_sentences()}
    assert translations[english] == french


def test_grammar_sentences_are_generated_once_and_reused():
    """Corpora for several seeds share one generated sentence list (how fast that is, is the
    benchmarks' business, not a test's)."""
    grammar.grammar_sentences.cache_clear()
    make_toy_corpus(5)
    first = grammar.grammar_sentences.cache_info()
    make_toy_corpus(6)
    second = grammar.grammar_sentences.cache_info()
    assert first.misses == 1
    assert second.misses == 1 and second.hits > first.hits


# --- building single pairs with the grammar ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "pair"),
    [
        (("I", "love", "pizza"), {}, ("I love pizza", "J'aime la pizza")),
        (
            ("he", "eat", "bread"),
            {"negated": True},
            ("He doesn't eat bread", "Il ne mange pas de pain"),
        ),
        (
            ("I", "see", "car"),
            {"article": "the", "adjective": "red"},
            ("I see the red car", "Je vois la voiture rouge"),
        ),
        (("they (f)", "love", "cat"), {}, ("They (f) love cats", "Elles aiment les chats")),
        (("we", "buy", "apple"), {"article": "a"}, ("We buy an apple", "Nous achetons une pomme")),
        (
            ("you all", "see", "car"),
            {"article": "the", "plural": True},
            ("You all see the cars", "Vous voyez les voitures"),
        ),
    ],
)
def test_toy_pair(args, kwargs, pair):
    assert data.toy_pair(*args, **kwargs) == pair


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("I", "love", "pizza"), {"negated": True}, "never negates 'love'"),
        (("I", "drink", "car"), {}, "does not combine 'drink' with 'car'"),
        (
            ("I", "eat", "pizza"),
            {"article": "a"},
            "no object 'a pizza' after 'eat'; it builds: 'pizza'",
        ),
        (("it", "eat", "bread"), {}, "unknown subject 'it'; the grammar knows 'I'"),
        (("I", "eat", "bread"), {"article": "an"}, "article must be '', 'the' or 'a'"),
        (("I", "eat", "bread"), {"adjective": "purple"}, "unknown adjective 'purple'"),
    ],
)
def test_toy_pair_explains_what_it_cannot_build(args, kwargs, message):
    with pytest.raises(CourseLibError, match=message):
        data.toy_pair(*args, **kwargs)


def test_join_french_elides_and_contracts():
    assert (
        data.join_french(["je", "ne", "aime", "pas", "de", "la", "eau"]) == "Je n'aime pas de l'eau"
    )
    assert data.join_french(["de", "le", "pain"]) == "Du pain"
    assert data.join_french(["il", "mange", "de", "les", "pommes"]) == "Il mange des pommes"
    assert data.join_french(["le", "petit", "ordinateur"]) == "Le petit ordinateur"


def test_fast_generation_equals_sentence_by_sentence_construction():
    """grammar_sentences() joins subject-verb and object separately; check it against
    joining every word of the sentence at once."""
    generated = iter(grammar_sentences())
    rng = random.Random(0)
    for verb in data.VERBS:
        for noun in data.NOUNS:
            if not lexicon.noun_fits(verb, noun):
                continue
            for phrase in grammar._noun_phrases(verb, noun):
                for negated in (False, True) if verb.negatable else (False,):
                    for subject in data.SUBJECTS:
                        sentence = next(generated)
                        if rng.random() < 0.05:
                            verb_words = (
                                ["ne", verb.fr[subject.person], "pas"]
                                if negated
                                else [verb.fr[subject.person]]
                                + [verb.fr_after] * bool(verb.fr_after)
                            )
                            words = [
                                subject.fr,
                                *verb_words,
                                *grammar._french_noun_phrase(noun, phrase, negated),
                            ]
                            assert sentence.french == data.join_french(words)
                            assert sentence.pair == grammar._sentence(
                                subject, verb, noun, phrase, negated
                            )
    assert next(generated, None) is None
