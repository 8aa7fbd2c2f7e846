"""The grammar of the bundled corpus: English subject-verb-object sentences and their French.

:func:`toy_pair` builds one pair ("I love pizza" -> "J'aime la pizza"); :func:`grammar_sentences`
every pair the grammar can write (about 36,000), generated once and cached. The French is
right for conjugation, gender, elision ("j'aime"), contraction ("du pain"), negation
("ne ... pas de") and adjective position ("la voiture rouge", "la grande voiture").

Conventions: sentences start with a capital letter and carry **no final punctuation**;
English "you" is French *tu*, "you all" is *vous*, "they" is *ils* (the French default for
a group) and "they (f)" is *elles*, so every English sentence has exactly one French
translation.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from course_lib.data.lexicon import (
    ADJECTIVES,
    NOUNS,
    SUBJECTS,
    VERBS,
    Adjective,
    Noun,
    Subject,
    Verb,
    noun_fits,
)
from course_lib.data.pairs import Pair
from course_lib.errors import CourseLibError

_VOWELS = set("aeiouyéèêàâîôûœ")
_ELIDABLE = {"je": "j'", "ne": "n'", "le": "l'", "la": "l'", "de": "d'"}


def verb_noun_combinations() -> list[tuple[str, str]]:
    """Every (English verb, English noun) pair the grammar allows, in grammar order."""
    return [(v.en, n.en) for v in VERBS for n in NOUNS if noun_fits(v, n)]


def _join(words: Sequence[str]) -> str:
    """French words -> lower-case text with elision and contraction (see join_french)."""
    out: list[str] = []
    for i, word in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else ""
        if word in _ELIDABLE and following[:1] in _VOWELS:
            word = _ELIDABLE[word]
        if out and out[-1] == "de" and word in ("le", "les"):  # de + le -> du, de + les -> des
            out[-1] = "du" if word == "le" else "des"
            continue
        out.append(word)
    return " ".join(out).replace("' ", "'")


def join_french(words: list[str]) -> str:
    """Join French words with elision and contraction, capitalise the first letter.

    Elision: "je", "ne", "le", "la", "de" lose their vowel before a vowel ("j'aime",
    "n'aime", "l'eau", "d'eau"). Contraction: "de le" -> "du", "de les" -> "des".

    ``["je", "ne", "aime", "pas", "de", "la", "eau"]`` -> ``"Je n'aime pas de l'eau"``;
    ``["de", "le", "pain"]`` -> ``"Du pain"``.
    """
    text = _join(words)
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class _NounPhrase:
    en: str  # the English noun phrase ("the red car", "bread", "an apple")
    article: str  # French article kind: "def", "indef", "part"
    plural: bool
    adjective: Adjective | None


def _noun_phrases(verb: Verb, noun: Noun) -> list[_NounPhrase]:
    """The object noun phrases the grammar builds for one verb and noun."""
    adjectives = [a for a in ADJECTIVES if a.en in noun.adjectives]
    phrases: list[_NounPhrase] = []
    if noun.mass:
        general = "def" if verb.taste else "part"
        phrases.append(_NounPhrase(noun.en, general, False, None))  # pizza / bread
        phrases.append(_NounPhrase(f"the {noun.en}", "def", False, None))
        for adj in adjectives:
            if not adj.before_noun:
                phrases.append(_NounPhrase(f"{adj.en} {noun.en}", general, False, adj))
        return phrases
    if verb.taste:  # things in general: "I love cats" -> "J'aime les chats"
        phrases.append(_NounPhrase(noun.en_pl, "def", True, None))
        phrases.append(_NounPhrase(f"the {noun.en}", "def", False, None))
        for adj in adjectives:
            phrases.append(_NounPhrase(f"{adj.en} {noun.en_pl}", "def", True, adj))
            phrases.append(_NounPhrase(f"the {adj.en} {noun.en}", "def", False, adj))
        return phrases
    article = "an" if noun.en[0] in "aeiou" else "a"
    phrases.append(_NounPhrase(f"{article} {noun.en}", "indef", False, None))
    phrases.append(_NounPhrase(noun.en_pl, "indef", True, None))
    phrases.append(_NounPhrase(f"the {noun.en}", "def", False, None))
    phrases.append(_NounPhrase(f"the {noun.en_pl}", "def", True, None))
    for adj in adjectives:
        article = "an" if adj.en[0] in "aeiou" else "a"
        phrases.append(_NounPhrase(f"{article} {adj.en} {noun.en}", "indef", False, adj))
        phrases.append(_NounPhrase(f"the {adj.en} {noun.en}", "def", False, adj))
        phrases.append(_NounPhrase(f"the {adj.en} {noun.en_pl}", "def", True, adj))
        if not adj.before_noun:  # "de grands chiens" is avoided: only post-nominal here
            phrases.append(_NounPhrase(f"{adj.en} {noun.en_pl}", "indef", True, adj))
    return phrases


def _french_noun_phrase(noun: Noun, phrase: _NounPhrase, negated: bool) -> list[str]:
    """French words of a noun phrase, before elision: ``["la", "voiture", "rouge"]``."""
    if negated and phrase.article in ("indef", "part"):
        determiner = ["de"]  # "pas de pain", "pas d'eau", "pas de voitures"
    elif phrase.article == "def":
        determiner = ["les"] if phrase.plural else ["le" if noun.gender == "m" else "la"]
    elif phrase.article == "part":
        determiner = ["de", "le" if noun.gender == "m" else "la"]
    else:  # indefinite
        determiner = ["des"] if phrase.plural else ["un" if noun.gender == "m" else "une"]
    word = noun.fr_pl if phrase.plural else noun.fr
    adj = phrase.adjective
    if adj is None:
        return [*determiner, word]
    form = adj.fr(noun.gender, phrase.plural)
    return [*determiner, form, word] if adj.before_noun else [*determiner, word, form]


def _clause(subject: Subject, verb: Verb, negated: bool) -> Pair:
    """Subject and verb in both languages: ("I don't like", "Je n'aime pas")."""
    if negated:
        aux = "doesn't" if subject.third_singular else "don't"
        english = f"{subject.en} {aux} {verb.en}"
        french_verb = ["ne", verb.fr[subject.person], "pas"]
    else:
        english = f"{subject.en} {verb.en_s if subject.third_singular else verb.en}"
        french_verb = [verb.fr[subject.person]] + ([verb.fr_after] if verb.fr_after else [])
    # The clause's last word ("pas", "bien", a verb) never elides or contracts, so clause and
    # object can be joined separately.
    return english[:1].upper() + english[1:], join_french([subject.fr, *french_verb])


def _sentence(subject: Subject, verb: Verb, noun: Noun, phrase: _NounPhrase, negated: bool) -> Pair:
    """One (English, French) pair."""
    english, french = _clause(subject, verb, negated)
    return f"{english} {phrase.en}", f"{french} {_join(_french_noun_phrase(noun, phrase, negated))}"


def _find(items: Sequence, english: str, what: str):
    for item in items:
        if item.en.lower() == english.lower():
            return item
    known = ", ".join(repr(i.en) for i in items)
    raise CourseLibError(f"unknown {what} {english!r}; the grammar knows {known}")


def toy_pair(
    subject: str,
    verb: str,
    noun: str,
    *,
    negated: bool = False,
    article: str = "",
    adjective: str | None = None,
    plural: bool = False,
) -> Pair:
    """Build one sentence pair with the grammar of the bundled corpus.

    ``toy_pair("I", "love", "pizza")`` -> ``("I love pizza", "J'aime la pizza")``;
    ``toy_pair("he", "eat", "bread", negated=True)`` -> ``("He doesn't eat bread",
    "Il ne mange pas de pain")``; ``toy_pair("I", "see", "car", article="the",
    adjective="red")`` -> ``("I see the red car", "Je vois la voiture rouge")``.

    Args:
        subject, verb, noun: English words from :data:`SUBJECTS`, :data:`VERBS`, :data:`NOUNS`.
        negated: "don't"/"doesn't" in English, "ne ... pas" in French.
        article: ``""`` (no article: "pizza", "cats"), ``"the"`` or ``"a"``.
        adjective: an English adjective from :data:`ADJECTIVES` that suits the noun.
        plural: with ``article="the"``, "the cars".

    Raises :class:`CourseLibError` when the grammar cannot build that sentence, listing
    what it can build instead.
    """
    subj = _find(SUBJECTS, subject, "subject")
    v = _find(VERBS, verb, "verb")
    n = _find(NOUNS, noun, "noun")
    if not noun_fits(v, n):
        raise CourseLibError(f"the grammar does not combine {v.en!r} with {n.en!r}")
    if negated and not v.negatable:
        raise CourseLibError(
            f"the grammar never negates {v.en!r}: 'I don't love' and 'I don't like' would "
            "both be 'Je n'aime pas'"
        )
    if article not in ("", "the", "a"):
        raise CourseLibError(f"article must be '', 'the' or 'a', got {article!r}")
    adj = f"{_find(ADJECTIVES, adjective, 'adjective').en} " if adjective else ""
    if article == "the":
        wanted = f"the {adj}{n.en_pl if plural else n.en}"
    elif article == "a":
        first = (adj or n.en)[0]
        wanted = f"{'an' if first in 'aeiou' else 'a'} {adj}{n.en}"
    else:
        wanted = f"{adj}{n.en if n.mass else n.en_pl}"
    phrases = _noun_phrases(v, n)
    for phrase in phrases:
        if phrase.en == wanted:
            return _sentence(subj, v, n, phrase, negated)
    known = ", ".join(repr(p.en) for p in phrases)
    raise CourseLibError(f"the grammar has no object {wanted!r} after {v.en!r}; it builds: {known}")


class ToySentence(NamedTuple):
    """A generated pair with what it was built from (verb, noun, negation)."""

    english: str
    french: str
    verb: str
    noun: str
    negated: bool

    @property
    def pair(self) -> Pair:
        return (self.english, self.french)


@functools.lru_cache(maxsize=1)
def grammar_sentences() -> tuple[ToySentence, ...]:
    """Every sentence the grammar can generate (about 36,000), in a fixed order.

    Generated once and cached: every corpus (any seed, any size) samples from this tuple.
    """
    out: list[ToySentence] = []
    for verb in VERBS:
        polarities = (False, True) if verb.negatable else (False,)
        clauses = {neg: [_clause(subject, verb, neg) for subject in SUBJECTS] for neg in polarities}
        for noun in NOUNS:
            if not noun_fits(verb, noun):
                continue
            for phrase in _noun_phrases(verb, noun):
                for negated in polarities:
                    french_object = _join(_french_noun_phrase(noun, phrase, negated))
                    for english, french in clauses[negated]:
                        out.append(
                            ToySentence(
                                f"{english} {phrase.en}",
                                f"{french} {french_object}",
                                verb.en,
                                noun.en,
                                negated,
                            )
                        )
    return tuple(out)


__all__ = [
    "ToySentence",
    "grammar_sentences",
    "join_french",
    "toy_pair",
    "verb_noun_combinations",
]
