"""Chapter 1 exercises: counting a vocabulary, grouping references, finding split leaks.

Every case is plain data (lists of strings and tuples), so the grader can exchange it
with a sandboxed submission. The references are the ``course_lib.data`` functions the
chapter builds.
"""

from __future__ import annotations

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


def reference_group_references(pairs: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """``course_lib.data.group_references``."""
    return group_references(pairs)


def _group_cases() -> list[Case]:
    return [
        Case("Tatoeba-style multiple translations", (_TATOEBA,)),
        Case("one translation each", (list(zip(_TOY, _FRENCH)),)),
        Case("a single pair", ([("I love pizza", "J'aime la pizza")],)),
    ]


def reference_leaked_sources(
    train: list[tuple[str, str]], test: list[tuple[str, str]]
) -> list[str]:
    """``course_lib.data.leaked_sources``."""
    return leaked_sources(train, test)


def _leak_cases() -> list[Case]:
    return [
        Case(
            "a random split of pairs leaks 'Go.' and 'Run!'",
            (_TATOEBA[:3] + _TATOEBA[5:], _TATOEBA[3:5]),
        ),
        Case(
            "a split by source leaks nothing",
            ([p for p in _TATOEBA if p[0] != "Go."], [p for p in _TATOEBA if p[0] == "Go."]),
        ),
        Case("several leaks, sorted", (_TATOEBA, _TATOEBA[::-1])),
        Case("empty test set", (_TATOEBA, [])),
    ]


EXERCISES = [
    Exercise(
        id="ch01_count_words",
        chapter=1,
        title="Count the words of a corpus",
        function="count_words",
        reference=reference_count_words,
        cases=_count_cases,
        points=1,
        hint=(
            "Lower-case each sentence, split it with str.split() (no argument: any run of "
            "spaces), and add 1 to the count of every word; return a plain dict."
        ),
    ),
    Exercise(
        id="ch01_group_references",
        chapter=1,
        title="Group the translations of each English sentence",
        function="group_references",
        reference=reference_group_references,
        cases=_group_cases,
        points=2,
        hint=(
            "Use a dict from English sentence to a list of French sentences (dicts keep "
            "insertion order); append each French sentence unless it is already in the list; "
            "return list(d.items())."
        ),
    ),
    Exercise(
        id="ch01_leaked_sources",
        chapter=1,
        title="Find English sentences that are in both train and test",
        function="leaked_sources",
        reference=reference_leaked_sources,
        cases=_leak_cases,
        points=1,
        hint=(
            "Build the set of English sentences of each split and intersect them; "
            "return the result as a sorted list."
        ),
    ),
]
