"""Step 1: paired sentences - the bundled grammar corpus, the Tatoeba loader, grouped splits.

A translation data set is a list of ``(English, French)`` pairs of plain strings. This
module provides two of them:

* :func:`make_toy_corpus` generates the **bundled corpus** from a small grammar written for
  the course (subjects, verbs, nouns with gender, adjectives, negation). It needs no
  download, is identical for the same seed, and holds out some verb-noun combinations
  (always including "I hate pizza") so chapter 7 can translate sentences that were never
  seen in training.
* :func:`load_tatoeba` reads the **real corpus**, the Tatoeba English-French pairs in the
  Anki "fra-eng" export (CC-BY 2.0 FR, https://tatoeba.org), from a local file or by
  download with a SHA-256 check and a cache.

:func:`split_by_source` splits real data so that all translations of one English sentence
land in the same split, and :func:`group_references` collects those translations as the
multiple references used for evaluation.

Conventions of the bundled corpus: sentences start with a capital letter and carry **no
final punctuation** ("I love pizza" -> "J'aime la pizza"); English "you" is French *tu*,
"you all" is *vous*, "they" is *ils* (the French default for a group) and "they (f)" is
*elles*, so every English sentence has exactly one French translation.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import io
import os
import random
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from course_lib.errors import CourseLibError

Pair = tuple[str, str]

# ----------------------------------------------------------------------------------------
# The grammar of the bundled corpus
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """A subject pronoun: English text, French text and the conjugation slot (0-5)."""

    en: str
    fr: str
    person: int  # 0 je, 1 tu, 2 il/elle, 3 nous, 4 vous, 5 ils/elles

    @property
    def third_singular(self) -> bool:
        return self.person == 2


@dataclass(frozen=True)
class Verb:
    """A verb: English base and -s forms, French present tense for the six persons.

    ``taste`` verbs (love, like, hate, prefer) talk about things in general and take the
    French definite article ("I love pizza" -> "J'aime la pizza"); the others take the
    partitive or indefinite article ("He eats bread" -> "Il mange du pain").
    ``fr_after`` is a word placed after the verb in affirmative sentences only
    ("I like pizza" -> "J'aime bien la pizza", "I don't like pizza" -> "Je n'aime pas la pizza").
    """

    en: str
    en_s: str
    fr: tuple[str, str, str, str, str, str]
    objects: tuple[str, ...]
    taste: bool = False
    negatable: bool = True
    fr_after: str = ""


@dataclass(frozen=True)
class Noun:
    """A noun with its French gender, plural forms and the adjectives that suit it.

    ``mass`` nouns (pizza, water, bread) are uncountable: no "a", no plural, partitive
    "du/de la/de l'" after eat/drink/buy.
    """

    en: str
    fr: str
    gender: str  # "m" or "f"
    category: str
    mass: bool = False
    en_plural: str = ""
    fr_plural: str = ""
    adjectives: tuple[str, ...] = ()

    @property
    def en_pl(self) -> str:
        return self.en_plural or self.en + "s"

    @property
    def fr_pl(self) -> str:
        return self.fr_plural or self.fr + "s"


@dataclass(frozen=True)
class Adjective:
    """An adjective: French masculine/feminine, singular/plural, and where it goes.

    Most French adjectives follow the noun ("the red car" -> "la voiture rouge"); a few
    short ones precede it like in English ("the big car" -> "la grande voiture").
    """

    en: str
    fr_m: str
    fr_f: str
    fr_mpl: str
    fr_fpl: str
    before_noun: bool = False

    def fr(self, gender: str, plural: bool) -> str:
        if gender == "m":
            return self.fr_mpl if plural else self.fr_m
        return self.fr_fpl if plural else self.fr_f


SUBJECTS: tuple[Subject, ...] = (
    Subject("I", "je", 0),
    Subject("you", "tu", 1),
    Subject("he", "il", 2),
    Subject("she", "elle", 2),
    Subject("we", "nous", 3),
    Subject("you all", "vous", 4),
    Subject("they", "ils", 5),
    Subject("they (f)", "elles", 5),
)

FOOD = ("food", "food_count")
DRINK = ("drink",)
OBJECTS = ("object",)
ANIMALS = ("animal",)
TEXTS = ("text",)
EVERYTHING = FOOD + DRINK + OBJECTS + ANIMALS + TEXTS + ("film",)

VERBS: tuple[Verb, ...] = (
    Verb(
        "love",
        "loves",
        ("aime", "aimes", "aime", "aimons", "aimez", "aiment"),
        EVERYTHING,
        taste=True,
        negatable=False,
    ),
    Verb(
        "like",
        "likes",
        ("aime", "aimes", "aime", "aimons", "aimez", "aiment"),
        EVERYTHING,
        taste=True,
        fr_after="bien",
    ),
    Verb(
        "hate",
        "hates",
        ("déteste", "détestes", "déteste", "détestons", "détestez", "détestent"),
        EVERYTHING,
        taste=True,
    ),
    Verb(
        "prefer",
        "prefers",
        ("préfère", "préfères", "préfère", "préférons", "préférez", "préfèrent"),
        EVERYTHING,
        taste=True,
    ),
    Verb("eat", "eats", ("mange", "manges", "mange", "mangeons", "mangez", "mangent"), FOOD),
    Verb("drink", "drinks", ("bois", "bois", "boit", "buvons", "buvez", "boivent"), DRINK),
    Verb(
        "cook",
        "cooks",
        ("cuisine", "cuisines", "cuisine", "cuisinons", "cuisinez", "cuisinent"),
        ("cookable",),
    ),
    Verb(
        "want",
        "wants",
        ("veux", "veux", "veut", "voulons", "voulez", "veulent"),
        FOOD + DRINK + OBJECTS + ANIMALS,
    ),
    Verb("have", "has", ("ai", "as", "a", "avons", "avez", "ont"), EVERYTHING),
    Verb(
        "buy",
        "buys",
        ("achète", "achètes", "achète", "achetons", "achetez", "achètent"),
        FOOD + DRINK + OBJECTS + ANIMALS + ("sold_text",),
    ),
    Verb(
        "see",
        "sees",
        ("vois", "vois", "voit", "voyons", "voyez", "voient"),
        ("food_count",) + OBJECTS + ANIMALS + TEXTS + ("film",),
    ),
    Verb(
        "watch",
        "watches",
        ("regarde", "regardes", "regarde", "regardons", "regardez", "regardent"),
        ANIMALS + ("film",),
    ),
    Verb(
        "take",
        "takes",
        ("prends", "prends", "prend", "prenons", "prenez", "prennent"),
        ("food_count", "portable") + TEXTS,
    ),
    Verb("read", "reads", ("lis", "lis", "lit", "lisons", "lisez", "lisent"), TEXTS),
    Verb(
        "write",
        "writes",
        ("écris", "écris", "écrit", "écrivons", "écrivez", "écrivent"),
        ("writable",),
    ),
)

ADJECTIVES: tuple[Adjective, ...] = (
    Adjective("red", "rouge", "rouge", "rouges", "rouges"),
    Adjective("black", "noir", "noire", "noirs", "noires"),
    Adjective("white", "blanc", "blanche", "blancs", "blanches"),
    Adjective("green", "vert", "verte", "verts", "vertes"),
    Adjective("blue", "bleu", "bleue", "bleus", "bleues"),
    Adjective("hot", "chaud", "chaude", "chauds", "chaudes"),
    Adjective("cold", "froid", "froide", "froids", "froides"),
    Adjective("big", "grand", "grande", "grands", "grandes", before_noun=True),
    Adjective("small", "petit", "petite", "petits", "petites", before_noun=True),
)

NOUNS: tuple[Noun, ...] = (
    # things to eat, uncountable
    Noun("pizza", "pizza", "f", "food", mass=True, adjectives=("hot", "cold")),
    Noun("bread", "pain", "m", "food", mass=True, adjectives=("white",)),
    Noun("cheese", "fromage", "m", "food", mass=True),
    Noun("rice", "riz", "m", "food", mass=True, adjectives=("white",)),
    Noun("soup", "soupe", "f", "food", mass=True, adjectives=("hot", "cold")),
    Noun("meat", "viande", "f", "food", mass=True, adjectives=("red", "white")),
    Noun("fish", "poisson", "m", "food", mass=True),
    Noun("chocolate", "chocolat", "m", "food", mass=True, adjectives=("hot", "white")),
    Noun("salad", "salade", "f", "food", mass=True, adjectives=("green",)),
    # things to drink
    Noun("water", "eau", "f", "drink", mass=True, adjectives=("hot", "cold")),
    Noun("coffee", "café", "m", "drink", mass=True, adjectives=("hot", "cold", "black")),
    Noun("tea", "thé", "m", "drink", mass=True, adjectives=("hot", "green", "black")),
    Noun("milk", "lait", "m", "drink", mass=True, adjectives=("hot", "cold")),
    Noun("juice", "jus", "m", "drink", mass=True, adjectives=("cold",)),
    Noun("wine", "vin", "m", "drink", mass=True, adjectives=("red", "white")),
    # things to eat, countable
    Noun("apple", "pomme", "f", "food_count", adjectives=("red", "green", "small")),
    Noun("orange", "orange", "f", "food_count", adjectives=("small",)),
    Noun("cake", "gâteau", "m", "food_count", fr_plural="gâteaux", adjectives=("small",)),
    Noun("banana", "banane", "f", "food_count", adjectives=("green",)),
    Noun("egg", "œuf", "m", "food_count"),
    # objects
    Noun(
        "car",
        "voiture",
        "f",
        "object",
        adjectives=("red", "black", "white", "blue", "green", "big", "small"),
    ),
    Noun("bike", "vélo", "m", "object", adjectives=("red", "blue", "black")),
    Noun(
        "hat",
        "chapeau",
        "m",
        "object",
        fr_plural="chapeaux",
        adjectives=("red", "black", "blue", "white"),
    ),
    Noun("computer", "ordinateur", "m", "object", adjectives=("black", "white", "small")),
    Noun("phone", "téléphone", "m", "object", adjectives=("black", "white", "small")),
    Noun("house", "maison", "f", "object", adjectives=("white", "blue", "big", "small")),
    Noun("bag", "sac", "m", "object", adjectives=("red", "black", "big", "small")),
    # animals
    Noun("cat", "chat", "m", "animal", adjectives=("black", "white", "small")),
    Noun("dog", "chien", "m", "animal", adjectives=("black", "white", "big", "small")),
    Noun("bird", "oiseau", "m", "animal", fr_plural="oiseaux", adjectives=("blue", "small")),
    Noun(
        "horse", "cheval", "m", "animal", fr_plural="chevaux", adjectives=("black", "white", "big")
    ),
    # things to read or watch
    Noun("book", "livre", "m", "text", adjectives=("red", "blue", "small")),
    Noun("newspaper", "journal", "m", "text", fr_plural="journaux"),
    Noun("letter", "lettre", "f", "text"),
    Noun("film", "film", "m", "film"),
)

# Extra categories some verbs use: what can be cooked, carried, written or bought.
_EXTRA_CATEGORIES = {
    "cookable": {"pizza", "rice", "soup", "meat", "fish", "egg"},
    "portable": {"car", "bike", "hat", "computer", "phone", "bag"},
    "writable": {"book", "letter"},
    "sold_text": {"book", "newspaper"},
}

# The generalisation test: this verb is never negated in training.
GENERALISATION_VERB = "drink"
# Always held out (chapter 7 translates "I hate pizza") ...
ALWAYS_HELD_OUT: tuple[tuple[str, str], ...] = (("hate", "pizza"),)
# ... and never held out: the running examples must be seen in training.
NEVER_HELD_OUT = frozenset(
    {
        ("love", "pizza"),
        ("like", "pizza"),
        ("eat", "bread"),
        ("drink", "water"),
        ("eat", "pizza"),
        ("see", "car"),
    }
)
# Sentences always present in the bundled corpus (the seed's examples).
ANCHOR_SENTENCES: tuple[str, ...] = (
    "I love pizza",
    "I hate pizza",
    "I don't like pizza",
    "He doesn't eat bread",
    "She drinks water",
    "We eat pizza",
    "I see the red car",
    "They (f) love cats",
)
HELD_OUT_FRACTION = 0.10
VALID_FRACTION = 0.05
DEFAULT_SIZE = 6000

_VOWELS = set("aeiouyéèêàâîôûœ")
_ELIDABLE = {"je": "j'", "ne": "n'", "le": "l'", "la": "l'", "de": "d'"}


def _noun_fits(verb: Verb, noun: Noun) -> bool:
    for category in verb.objects:
        if noun.category == category or noun.en in _EXTRA_CATEGORIES.get(category, ()):
            return True
    return False


def verb_noun_combinations() -> list[tuple[str, str]]:
    """Every (English verb, English noun) pair the grammar allows, in grammar order."""
    return [(v.en, n.en) for v in VERBS for n in NOUNS if _noun_fits(v, n)]


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
    if not _noun_fits(v, n):
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


def grammar_sentences() -> list[ToySentence]:
    """Every sentence the grammar can generate (about 36,000), in a fixed order."""
    return list(_all_sentences())


@functools.lru_cache(maxsize=1)
def _all_sentences() -> tuple[ToySentence, ...]:
    out: list[ToySentence] = []
    for verb in VERBS:
        polarities = (False, True) if verb.negatable else (False,)
        clauses = {neg: [_clause(subject, verb, neg) for subject in SUBJECTS] for neg in polarities}
        for noun in NOUNS:
            if not _noun_fits(verb, noun):
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


@dataclass
class ToyCorpus:
    """The bundled corpus, already split.

    Attributes:
        train: pairs to learn from.
        valid: a seeded ~5% of the pairs whose combination is not held out.
        test: every pair whose (verb, noun) combination is in ``held_out_combinations``;
            none of these combinations occurs in ``train`` or ``valid``.
        generalisation: every negated sentence with the verb ``generalisation_verb``
            ("She doesn't drink water") the grammar writes: a whole construction never
            seen in training.
        held_out_combinations: the (English verb, English noun) pairs kept out of training;
            always includes ("hate", "pizza").
        generalisation_verb: the verb that is never negated in training ("drink").
        seed: the seed that chose the sample, the held-out combinations and the splits.
        description: a short human summary.
    """

    train: list[Pair]
    valid: list[Pair]
    test: list[Pair]
    generalisation: list[Pair]
    held_out_combinations: list[tuple[str, str]]
    generalisation_verb: str
    seed: int
    description: str = ""
    sentences: list[ToySentence] = field(default_factory=list, repr=False)

    @property
    def pairs(self) -> list[Pair]:
        """All pairs: train + valid + test + generalisation."""
        return self.train + self.valid + self.test + self.generalisation


def _choose_held_out(rng: random.Random) -> list[tuple[str, str]]:
    """~10% of the verb-noun combinations, always (hate, pizza); every verb and every noun
    keeps at least two combinations in training."""
    combos = verb_noun_combinations()
    candidates = [c for c in combos if c not in NEVER_HELD_OUT and c not in ALWAYS_HELD_OUT]
    count = round(HELD_OUT_FRACTION * len(combos)) - len(ALWAYS_HELD_OUT)
    while True:
        held = set(ALWAYS_HELD_OUT) | set(rng.sample(candidates, count))
        kept = [c for c in combos if c not in held]
        verbs_ok = all(sum(v == verb.en for v, _ in kept) >= 2 for verb in VERBS)
        nouns_ok = all(sum(n == noun.en for _, n in kept) >= 2 for noun in NOUNS)
        if verbs_ok and nouns_ok:
            return [c for c in combos if c in held]  # grammar order


def make_toy_corpus(seed: int = 0, size: int = DEFAULT_SIZE) -> ToyCorpus:
    """Generate the bundled English->French corpus and split it.

    The grammar generates every sentence of the form *subject verb object*, with or
    without negation, with the French conjugation, gender, elision and adjective position
    right (about 36,000 sentences). Then:

    * ``generalisation``: all ~200 negated sentences with "drink", a construction never
      seen in training;
    * ``size`` of the other sentences are sampled (the examples in
      :data:`ANCHOR_SENTENCES` are always in);
    * ``held_out_combinations``: ~10% of the verb-noun combinations (always including
      ("hate", "pizza")) are chosen with the seed; all their sampled sentences go to ``test``;
    * ``valid``: a seeded 5% of the rest; ``train``: everything else.

    So ``train + valid + test`` holds ``size`` pairs. The same seed always gives the same
    corpus. Returns a :class:`ToyCorpus`.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise CourseLibError(f"make_toy_corpus: seed must be an int, got {type(seed).__name__}")
    everything = _all_sentences()
    construction = [s for s in everything if s.negated and s.verb == GENERALISATION_VERB]
    others = [s for s in everything if not (s.negated and s.verb == GENERALISATION_VERB)]
    if isinstance(size, bool) or not isinstance(size, int) or not 100 <= size <= len(others):
        raise CourseLibError(
            f"make_toy_corpus: size must be an int from 100 to {len(others)} "
            f"(the sentences the grammar generates outside the generalisation set), got {size!r}"
        )
    rng = random.Random(seed)
    held_out = _choose_held_out(rng)
    anchors = set(ANCHOR_SENTENCES)
    chosen = [s for s in others if s.english in anchors]
    chosen += rng.sample([s for s in others if s.english not in anchors], size - len(chosen))
    rng.shuffle(chosen)
    generalisation = [s.pair for s in construction]
    rng.shuffle(generalisation)

    held = set(held_out)
    train, valid, test = [], [], []
    for sentence in chosen:
        if (sentence.verb, sentence.noun) in held:
            test.append(sentence.pair)
        elif rng.random() < VALID_FRACTION:
            valid.append(sentence.pair)
        else:
            train.append(sentence.pair)
    description = (
        f"Bundled grammar corpus (seed {seed}): {len(chosen)} English->French pairs sampled "
        f"from the {len(everything)} the grammar generates ({len(SUBJECTS)} subjects, "
        f"{len(VERBS)} verbs, {len(NOUNS)} nouns, {len(ADJECTIVES)} adjectives, negation): "
        f"train {len(train)}, valid {len(valid)}, test {len(test)} "
        f"({len(held_out)} held-out verb-noun combinations, including hate+pizza); "
        f"plus generalisation {len(generalisation)} (every negated '{GENERALISATION_VERB}' "
        f"sentence, a construction never seen in training)."
    )
    return ToyCorpus(
        train,
        valid,
        test,
        generalisation,
        held_out,
        GENERALISATION_VERB,
        seed,
        description,
        chosen + list(construction),
    )


def toy_pairs(seed: int = 0, size: int = DEFAULT_SIZE) -> list[Pair]:
    """All pairs of the bundled corpus for this seed (train + valid + test + generalisation)."""
    return make_toy_corpus(seed, size).pairs


def word_counts(sentences: Iterable[str]) -> dict[str, int]:
    """How often each lower-cased, whitespace-separated word occurs.

    ``word_counts(["I love pizza", "I hate pizza"])`` ->
    ``{"i": 2, "love": 1, "pizza": 2, "hate": 1}`` (first-seen order).
    """
    counts: Counter[str] = Counter()
    for i, sentence in enumerate(sentences):
        if not isinstance(sentence, str):
            raise CourseLibError(
                f"word_counts: sentence {i} must be a str, got {type(sentence).__name__}"
            )
        counts.update(sentence.lower().split())
    return dict(counts)


# ----------------------------------------------------------------------------------------
# Reading pairs from files: the Tatoeba/Anki export and user TSV files
# ----------------------------------------------------------------------------------------

TATOEBA_URL = "https://www.manythings.org/anki/fra-eng.zip"
# The Anki export is regenerated from Tatoeba every few months, so no checksum of it stays
# valid for long. ``None`` means "not verified": load_tatoeba prints the SHA-256 of what it
# downloaded so you can pin it (pass sha256=...) for a reproducible experiment.
TATOEBA_SHA256: str | None = None
TATOEBA_MEMBER = "fra.txt"
_USER_AGENT = "course-lib (The Transformer, Step by Step; +https://github.com/transformer-step-by-step/course)"


def _read_text(path: Path, member: str | None = None) -> tuple[str, str]:
    """The text of a TSV file, or of the TSV inside a zip; returns (text, name for messages)."""
    if not path.exists():
        raise CourseLibError(f"corpus file not found: {path}")
    if path.is_dir():
        raise CourseLibError(f"expected a corpus file, got a directory: {path}")
    data = path.read_bytes()
    name = str(path)
    if zipfile.is_zipfile(io.BytesIO(data)):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
                if member is None:
                    tables = [
                        n
                        for n in names
                        if n.endswith((".txt", ".tsv")) and not Path(n).name.startswith("_")
                    ]
                    if TATOEBA_MEMBER in names:
                        member = TATOEBA_MEMBER
                    elif len(tables) == 1:
                        member = tables[0]
                    else:
                        raise CourseLibError(
                            f"{path}: cannot tell which file in the zip holds the pairs "
                            f"(found {names}); pass member=..."
                        )
                if member not in names:
                    raise CourseLibError(f"{path}: no member {member!r} in the zip (found {names})")
                data = archive.read(member)
                name = f"{path}!{member}"
        except zipfile.BadZipFile as error:
            raise CourseLibError(f"{path}: corrupt zip file ({error})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CourseLibError(
            f"{name}: not UTF-8 text (bad byte at offset {error.start}); is it the right file?"
        ) from None
    return text, name


def _parse_pairs(text: str, name: str) -> list[Pair]:
    pairs: list[Pair] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        english = fields[0].strip()
        french = fields[1].strip() if len(fields) > 1 else ""
        if len(fields) < 2 or not english or not french:
            raise CourseLibError(
                f"{name}, line {number}: expected 'English<TAB>French' (optionally "
                f"<TAB>attribution), got {line[:80]!r}"
            )
        pairs.append((english, french))
    if not pairs:
        raise CourseLibError(f"{name}: the file is empty (no sentence pairs)")
    return pairs


def read_pairs_tsv(path: str | Path, member: str | None = None) -> list[Pair]:
    """Read ``English<TAB>French[<TAB>anything...]`` lines (UTF-8) into a list of pairs.

    Both Tatoeba layouts work: two columns, or three with the attribution (ignored).
    ``path`` may also be a zip holding such a file (``fra.txt`` in the Anki export, or the
    only ``.txt``/``.tsv`` member; ``member`` names another). Blank lines are skipped.

    Raises :class:`CourseLibError` naming the file for a missing, empty, corrupt or
    non-UTF-8 file, and the line number for a line without two non-empty columns.
    """
    if not isinstance(path, (str, Path)):
        raise CourseLibError(
            f"read_pairs_tsv: path must be a str or Path, got {type(path).__name__}"
        )
    text, name = _read_text(Path(path).expanduser(), member)
    return _parse_pairs(text, name)


def default_cache_dir() -> Path:
    """``$COURSE_LIB_CACHE`` if set, else ``~/.cache/course_lib``."""
    return Path(os.environ.get("COURSE_LIB_CACHE") or Path.home() / ".cache" / "course_lib")


def sha256_of(path: str | Path) -> str:
    """The SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_OFFLINE_HINT = (
    "Download it on a machine with internet access (or from a mirror), then pass the local "
    "file: load_tatoeba('path/to/fra-eng.zip') or load_tatoeba('path/to/fra.txt')."
)


def download(
    url: str,
    *,
    sha256: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Download ``url`` into the cache (once) and return the cached file's path.

    A cached copy is reused when its SHA-256 matches ``sha256`` (or when no checksum is
    given). A new download is written to a temporary file and moved into place only after
    its checksum matched, so a failed or corrupt download never poisons the cache.
    When ``sha256`` is None the digest of the download is printed so it can be pinned.
    """
    if not isinstance(url, str) or "://" not in url:
        raise CourseLibError(f"download: expected a URL such as https://..., got {url!r}")
    if sha256 is not None:
        sha256 = sha256.strip().lower()
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise CourseLibError(f"download: sha256 must be 64 hex digits, got {sha256!r}")
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    filename = url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "download"
    target = folder / filename
    if target.is_file() and (sha256 is None or sha256_of(target) == sha256):
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CourseLibError(f"cannot create the cache directory {folder}: {error}") from None
    partial = folder / (filename + ".part")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with (
            urllib.request.urlopen(request, timeout=timeout) as response,
            open(partial, "wb") as handle,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            from tqdm.auto import tqdm

            with tqdm(
                total=total, unit="B", unit_scale=True, desc=filename, disable=not progress
            ) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    handle.write(block)
                    bar.update(len(block))
            received = handle.tell()
    except urllib.error.HTTPError as error:  # the server answered, with an error
        partial.unlink(missing_ok=True)
        raise CourseLibError(
            f"could not download {url}: HTTP {error.code} {error.reason}. {_OFFLINE_HINT}"
        ) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", None) or error
        raise CourseLibError(
            f"could not download {url}: {reason}. Are you offline? {_OFFLINE_HINT}"
        ) from None
    # A server that closes the connection early may raise nothing: compare with what it
    # promised, so a truncated file never enters the cache as if it were complete.
    if total is not None and received != total:
        partial.unlink(missing_ok=True)
        raise CourseLibError(
            f"could not download {url}: the transfer stopped after {received:,} of "
            f"{total:,} bytes. Try again. {_OFFLINE_HINT}"
        )
    digest = sha256_of(partial)
    if sha256 is not None and digest != sha256:
        partial.unlink(missing_ok=True)
        raise CourseLibError(
            f"checksum mismatch for {url}: expected SHA-256 {sha256}, got {digest}. The file "
            f"may be corrupt or the server may have published a new version. {_OFFLINE_HINT} "
            "Or pass sha256=None to accept the new file (it will print the new checksum)."
        )
    partial.replace(target)
    if sha256 is None and progress:
        print(f"Downloaded {url} to {target}\nSHA-256 {digest} (pass sha256=... to pin it)")
    return target


def local_tatoeba_path() -> Path | None:
    """A Tatoeba file already on this machine, or None: ``$COURSE_LIB_TATOEBA`` if it names
    an existing file, else the cached download of :data:`TATOEBA_URL`. Never downloads."""
    named = os.environ.get("COURSE_LIB_TATOEBA")
    if named and Path(named).expanduser().is_file():
        return Path(named).expanduser()
    cached = default_cache_dir() / TATOEBA_URL.rsplit("/", 1)[-1]
    return cached if cached.is_file() else None


def load_tatoeba(
    path: str | Path | None = None,
    *,
    url: str = TATOEBA_URL,
    sha256: str | None = TATOEBA_SHA256,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> list[Pair]:
    """The Tatoeba English-French pairs (CC-BY 2.0 FR, https://tatoeba.org).

    With ``path``: read that local file (a 2- or 3-column TSV, or the Anki zip).
    Without: download ``url`` (the Anki "fra-eng" zip by default) into ``cache_dir``
    (default ``$COURSE_LIB_CACHE`` or ``~/.cache/course_lib``), check its SHA-256 when
    ``sha256`` is given, and read it. Offline or on a checksum mismatch the error says
    how to pass a local file instead.

    Returns a list of ``(english, french)`` pairs in file order (the export is sorted by
    length, shortest first; one English sentence may have several translations).
    """
    if path is None:
        path = download(url, sha256=sha256, cache_dir=cache_dir, progress=progress)
    return read_pairs_tsv(path)


# ----------------------------------------------------------------------------------------
# Splits that keep every translation of one source sentence together
# ----------------------------------------------------------------------------------------


@dataclass
class Splits:
    """Train, validation and test pairs."""

    train: list[Pair]
    valid: list[Pair]
    test: list[Pair]


def _check_pairs(pairs: Sequence[Pair], who: str) -> None:
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise CourseLibError(
            f"{who}: pairs must be a list of (english, french) tuples, got {type(pairs).__name__}"
        )
    for i, pair in enumerate(pairs):
        if (
            not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or not all(isinstance(s, str) for s in pair)
        ):
            raise CourseLibError(
                f"{who}: pair {i} must be (english, french) strings, got {pair!r:.80}"
            )


def split_by_source(
    pairs: Sequence[Pair], valid_fraction: float = 0.05, test_fraction: float = 0.05, seed: int = 0
) -> Splits:
    """Split pairs so that all translations of one English sentence land in one split.

    The distinct English sentences are shuffled with ``seed``; the first
    ``round(test_fraction * n)`` go to test, the next ``round(valid_fraction * n)`` to
    valid, the rest to train. Within each split the pairs keep their original order.
    A random split of *pairs* would put "Go." -> "Va !" in train and "Go." -> "Marche."
    in test, and the test score would reward memorising the source.
    """
    _check_pairs(pairs, "split_by_source")
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise CourseLibError(f"split_by_source: {name} must be in [0, 1), got {value!r}")
    if valid_fraction + test_fraction >= 1:
        raise CourseLibError(
            f"split_by_source: valid_fraction + test_fraction must be < 1, got "
            f"{valid_fraction} + {test_fraction}"
        )
    sources = list(dict.fromkeys(english for english, _ in pairs))
    random.Random(seed).shuffle(sources)
    n_test = round(test_fraction * len(sources))
    n_valid = round(valid_fraction * len(sources))
    where = {s: "test" for s in sources[:n_test]}
    where.update({s: "valid" for s in sources[n_test : n_test + n_valid]})
    splits = Splits([], [], [])
    for english, french in pairs:
        getattr(splits, where.get(english, "train")).append((english, french))
    return splits


def leaked_sources(train: Sequence[Pair], test: Sequence[Pair]) -> list[str]:
    """English sentences that occur in both ``train`` and ``test``, sorted.

    A non-empty result means the test set is not a fair test: the model has already seen
    those sources (with one of their translations) during training.
    """
    _check_pairs(train, "leaked_sources (train)")
    _check_pairs(test, "leaked_sources (test)")
    return sorted({english for english, _ in train} & {english for english, _ in test})


def group_references(pairs: Sequence[Pair]) -> list[tuple[str, list[str]]]:
    """Group the French translations of each English sentence, for multi-reference scores.

    ``[("Go.", "Va !"), ("Hi.", "Salut !"), ("Go.", "Marche.")]`` ->
    ``[("Go.", ["Va !", "Marche."]), ("Hi.", ["Salut !"])]``: sources in order of first
    appearance, references in order, exact duplicates dropped.
    """
    _check_pairs(pairs, "group_references")
    groups: dict[str, list[str]] = {}
    for english, french in pairs:
        references = groups.setdefault(english, [])
        if french not in references:
            references.append(french)
    return list(groups.items())


__all__ = [
    "ADJECTIVES",
    "ANCHOR_SENTENCES",
    "NOUNS",
    "SUBJECTS",
    "TATOEBA_SHA256",
    "TATOEBA_URL",
    "VERBS",
    "Splits",
    "ToyCorpus",
    "ToySentence",
    "default_cache_dir",
    "download",
    "grammar_sentences",
    "group_references",
    "join_french",
    "leaked_sources",
    "load_tatoeba",
    "local_tatoeba_path",
    "make_toy_corpus",
    "read_pairs_tsv",
    "sha256_of",
    "split_by_source",
    "toy_pair",
    "toy_pairs",
    "verb_noun_combinations",
    "word_counts",
]
