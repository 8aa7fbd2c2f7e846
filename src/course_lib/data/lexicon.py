"""The words of the bundled corpus: subjects, verbs, nouns and adjectives, in both languages.

Each word carries what the grammar (:mod:`course_lib.data.grammar`) needs to write correct
French: the six present-tense forms of a verb, a noun's gender and plural, where an
adjective goes and its four forms. :func:`noun_fits` says which nouns a verb takes.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def noun_fits(verb: Verb, noun: Noun) -> bool:
    """Whether the grammar lets ``verb`` take ``noun`` as its object ("cook" a pizza, not a cat)."""
    for category in verb.objects:
        if noun.category == category or noun.en in _EXTRA_CATEGORIES.get(category, ()):
            return True
    return False


__all__ = [
    "ADJECTIVES",
    "NOUNS",
    "SUBJECTS",
    "VERBS",
    "Adjective",
    "Noun",
    "Subject",
    "Verb",
    "noun_fits",
]
