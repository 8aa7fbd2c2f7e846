"""Splits of real data that keep every translation of one English sentence together.

Tatoeba has several translations for many English sentences. :func:`split_by_source` puts
all of them in one split, so the test set never rewards memorising a source seen in
training; :func:`leaked_sources` finds the sources two splits share; :func:`group_references`
collects each source's translations as the multiple references used for evaluation.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from course_lib.data.pairs import Pair, check_pairs
from course_lib.errors import CourseLibError


@dataclass
class Splits:
    """Train, validation and test pairs."""

    train: list[Pair]
    valid: list[Pair]
    test: list[Pair]


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
    check_pairs(pairs, "split_by_source")
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
    check_pairs(train, "leaked_sources (train)")
    check_pairs(test, "leaked_sources (test)")
    return sorted({english for english, _ in train} & {english for english, _ in test})


def group_references(pairs: Sequence[Pair]) -> list[tuple[str, list[str]]]:
    """Group the French translations of each English sentence, for multi-reference scores.

    ``[("Go.", "Va !"), ("Hi.", "Salut !"), ("Go.", "Marche.")]`` ->
    ``[("Go.", ["Va !", "Marche."]), ("Hi.", ["Salut !"])]``: sources in order of first
    appearance, references in order, exact duplicates dropped.
    """
    check_pairs(pairs, "group_references")
    groups: dict[str, list[str]] = {}
    for english, french in pairs:
        references = groups.setdefault(english, [])
        if french not in references:
            references.append(french)
    return list(groups.items())


__all__ = ["Splits", "group_references", "leaked_sources", "split_by_source"]
