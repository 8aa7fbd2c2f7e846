"""Chapter 1 exercises: a checkpoint on leaky splits, counting words, grouping references,
finding near-duplicate leaks.

Every case is plain data (lists of strings and tuples), so the grader can exchange it
with a sandboxed submission. ``fresh_cases(seed)`` draws new inputs of the same kind at
grade time.
"""

from __future__ import annotations

import random

from course_lib.data import group_references, leaked_sources, word_counts
from course_lib.exercises.core import Case, Exercise

_TOY = [
    "I love pizza",
    "I hate pizza",
    "She drinks water",
    "I don't like pizza",
]
_FRENCH = ["J'aime la pizza", "Je déteste la pizza", "Elle boit de l'eau", "Je n'aime pas la pizza"]
_TATOEBA = [
    ("Go.", "Va !"),
    ("Go.", "Marche."),
    ("Hi.", "Salut !"),
    ("Run!", "Cours !"),
    ("Go.", "Bouge !"),
    ("Run!", "Courez !"),
    ("Hi.", "Salut !"),
]
_WORDS = ["I", "you", "she", "we", "love", "hate", "eat", "drink", "the", "red", "pizza", "water"]
_WORDS += ["Cake", "CATS", "don't", "l'eau", "déteste", "Élan"]
_FRENCH_WORDS = ["je", "tu", "aime", "la", "pizza", "l'eau", "bois", "mange", "!", "?", "Va"]


# --- checkpoint: why a random split of pairs flatters a model -----------------------------


def _answer() -> list[Case]:
    return [Case("answer")]


def reference_split_checkpoint() -> str:
    """The letter of the right answer."""
    return "b"


# --- count the words --------------------------------------------------------------------------


def reference_count_words(sentences: list[str]) -> dict[str, int]:
    """Lower-cased, whitespace-separated word counts (``course_lib.data.word_counts``)."""
    return word_counts(sentences)


def _count_cases() -> list[Case]:
    return [
        Case("English toy sentences", (_TOY,)),
        Case("French toy sentences: elision stays in the word", (_FRENCH,)),
        Case("capitals and repeated spaces", (["The  red car", "the RED Car", "  "],)),
        Case("no sentences", ([],)),
    ]


def _random_sentence(rng: random.Random, words: list[str], longest: int = 6) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(1, longest)))


def _messy(rng: random.Random, sentence: str) -> str:
    """Extra spaces and tabs between and around the words."""
    gaps = [rng.choice([" ", " ", "  ", "\t"]) for _ in sentence.split()]
    return "".join(gap + word for gap, word in zip(gaps, sentence.split())) + rng.choice(["", " "])


def _fresh_count_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    return [
        Case(
            f"random sentences {i + 1} (seed {seed})",
            ([_messy(rng, _random_sentence(rng, _WORDS)) for _ in range(n)],),
        )
        for i, n in enumerate((rng.randint(2, 6), rng.randint(6, 12)))
    ]


# --- group the references ---------------------------------------------------------------------


def reference_group_references(pairs: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """``course_lib.data.group_references``."""
    return group_references(pairs)


def _group_cases() -> list[Case]:
    return [
        Case("Tatoeba-style multiple translations", (_TATOEBA,)),
        Case("one translation each", (list(zip(_TOY, _FRENCH)),)),
        Case("a single pair", ([("I love pizza", "J'aime la pizza")],)),
    ]


def _fresh_group_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    sources = [_random_sentence(rng, _WORDS, 3) for _ in range(rng.randint(2, 5))]
    targets = [_random_sentence(rng, _FRENCH_WORDS, 3) for _ in range(rng.randint(2, 5))]
    pairs = [(rng.choice(sources), rng.choice(targets)) for _ in range(rng.randint(4, 14))]
    return [Case(f"random pairs with repeats (seed {seed})", (pairs,))]


# --- near-duplicate leaks ---------------------------------------------------------------------


def _normal_form(sentence: str) -> str:
    kept = "".join(c if c.isalnum() or c == "'" else " " for c in sentence.lower())
    return " ".join(kept.split())


def reference_near_duplicate_leaks(
    train: list[tuple[str, str]], test: list[tuple[str, str]]
) -> list[str]:
    """The distinct test sources whose normal form is the normal form of a training source,
    sorted."""
    seen = {_normal_form(english) for english, _ in train}
    return sorted({english for english, _ in test if _normal_form(english) in seen})


def _leak_cases() -> list[Case]:
    train = [("Go.", "Va !"), ("I love pizza", "J'aime la pizza"), ("Don't run!", "Ne cours pas !")]
    return [
        Case(
            "punctuation and case differ: 'go!' and 'I love pizza.' leak",
            (
                train,
                [("go!", "Vas-y !"), ("I love pizza.", "J'aime la pizza."), ("Hi.", "Salut !")],
            ),
        ),
        Case(
            "the apostrophe is part of the word: 'Dont run' is not 'Don't run!'",
            (
                train,
                [
                    ("Dont run", "Ne cours pas"),
                    ("Don t run", "Ne cours pas"),
                    ("don't  RUN", "Ne cours pas"),
                ],
            ),
        ),
        Case(
            "each leaked test sentence once, sorted",
            (train, [("Go!", "Bouge !"), ("Go!", "Marche !"), ("GO", "Va !"), ("Run!", "Cours !")]),
        ),
        Case("exact duplicates leak too", (_TATOEBA, _TATOEBA[3:5])),
        Case("nothing leaks", (train, [("Who?", "Qui ?")])),
        Case("empty test set", (train, [])),
    ]


def _perturb(rng: random.Random, sentence: str) -> str:
    text = rng.choice([sentence, sentence.upper(), sentence.lower(), sentence.capitalize()])
    text = text.replace(" ", rng.choice([" ", "  ", " , "]))
    return text + rng.choice(["", ".", "!", " ?", "..."])


def _fresh_leak_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    base = list(dict.fromkeys(_random_sentence(rng, _WORDS[:-3], 4) for _ in range(10)))
    train = [(_perturb(rng, s), "fr") for s in base[: len(base) // 2]]
    test = [(_perturb(rng, rng.choice(base)), "fr") for _ in range(rng.randint(3, 8))]
    return [Case(f"random near-duplicates (seed {seed})", (train, test))]


EXERCISES = [
    Exercise(
        id="ch01_split_checkpoint",
        chapter=1,
        title="Why does a random split of pairs flatter a model?",
        function="ANSWER_CH1_SPLIT",
        reference=reference_split_checkpoint,
        cases=_answer,
        points=1,
        kind="checkpoint",
        minutes=3,
        hint=(
            "Think of an English sentence with several translations, such as 'Run!'. Where do "
            "its pairs go when pairs, not sentences, are shuffled?"
        ),
        explanation=(
            "(b). Shuffling pairs sends some translations of 'Run!' to train and others to "
            "test: the model has learnt to translate that very English sentence, and its test "
            "score measures memory more than translation. Splitting by source sentence (all "
            "pairs of one English sentence on the same side) removes the leak; the other "
            "answers describe nothing a random split does."
        ),
    ),
    Exercise(
        id="ch01_count_words",
        chapter=1,
        title="Count the words of a corpus",
        function="count_words",
        reference=reference_count_words,
        cases=_count_cases,
        fresh_cases=_fresh_count_cases,
        points=1,
        minutes=5,
        forbidden=(word_counts,),
        hint=(
            "A word is what str.split() returns for the lower-cased sentence: no argument, so "
            "that any run of spaces or tabs separates words. Return a plain dict."
        ),
        explanation=(
            "Counting words is the first statistic of any corpus: it says how large a "
            "vocabulary must be and how many words occur only once."
        ),
    ),
    Exercise(
        id="ch01_group_references",
        chapter=1,
        title="Group the translations of each English sentence",
        function="group_references",
        reference=reference_group_references,
        cases=_group_cases,
        fresh_cases=_fresh_group_cases,
        points=2,
        minutes=10,
        forbidden=(group_references,),
        hint=(
            "The order matters twice: English sentences in the order they first appear, and "
            "each one's translations in order. A Python dict remembers insertion order."
        ),
        explanation=(
            "Grouped references let a score accept every correct translation ('Courez !' as "
            "well as 'Cours !'); chapter 7's BLEU and chrF use them."
        ),
    ),
    Exercise(
        id="ch01_near_duplicate_leaks",
        chapter=1,
        title="Find test sentences that are near-duplicates of training sentences",
        function="near_duplicate_leaks",
        reference=reference_near_duplicate_leaks,
        cases=_leak_cases,
        fresh_cases=_fresh_leak_cases,
        points=2,
        minutes=12,
        forbidden=(leaked_sources,),
        hint=(
            "Two sentences leak when their normal forms are equal, so compare normal forms, "
            "not sentences. What you return are the test set's own sentences, each once."
        ),
        explanation=(
            "An exact-match leak check misses 'Go!' in test when train has 'Go.': the model "
            "has still seen that sentence. Normalising before comparing catches such leaks; "
            "real pipelines go further (stemming, edit distance, n-gram overlap)."
        ),
    ),
]
