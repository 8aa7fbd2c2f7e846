"""Step 1: splits that keep a source's translations together, references (course_lib.data.splits)."""

from __future__ import annotations

import random

import pytest
from conftest import LARGE, needs_shared_data

from course_lib.data import (
    group_references,
    leaked_sources,
    load_tatoeba,
    split_by_source,
)
from course_lib.errors import CourseLibError

# --- splits by source sentence, references ---------------------------------------------------

MULTI = [
    ("Go.", "Va !"),
    ("Go.", "Marche."),
    ("Hi.", "Salut !"),
    ("Run!", "Cours !"),
    ("Go.", "Bouge !"),
    ("Run!", "Courez !"),
    ("Hi.", "Salut !"),
]


def many_pairs(n_sources: int = 400) -> list[tuple[str, str]]:
    rng = random.Random(1)
    return [
        (f"source {i}", f"cible {i}.{k}")
        for i in range(n_sources)
        for k in range(rng.randint(1, 4))
    ]


def test_split_keeps_all_translations_of_a_source_together():
    pairs = many_pairs()
    splits = split_by_source(pairs, valid_fraction=0.1, test_fraction=0.2, seed=0)
    assert len(splits.train) + len(splits.valid) + len(splits.test) == len(pairs)
    assert leaked_sources(splits.train, splits.test) == []
    assert leaked_sources(splits.train, splits.valid) == []
    assert leaked_sources(splits.valid, splits.test) == []
    assert len({e for e, _ in splits.test}) == 80 and len({e for e, _ in splits.valid}) == 40
    order = {p: i for i, p in enumerate(pairs)}
    assert [order[p] for p in splits.train] == sorted(order[p] for p in splits.train)


def test_split_is_seeded():
    pairs = many_pairs()
    assert split_by_source(pairs, seed=3) == split_by_source(pairs, seed=3)
    assert split_by_source(pairs, seed=3).test != split_by_source(pairs, seed=4).test


@needs_shared_data
def test_split_of_real_data_has_no_leak_while_a_pair_split_does():
    pairs = load_tatoeba(LARGE)
    splits = split_by_source(pairs, seed=0)
    assert leaked_sources(splits.train, splits.test) == []
    shuffled = pairs[:]
    random.Random(0).shuffle(shuffled)
    cut = len(shuffled) // 20
    assert len(leaked_sources(shuffled[cut:], shuffled[:cut])) > 100


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"valid_fraction": -0.1}, "valid_fraction must be in"),
        ({"test_fraction": 1.0}, "test_fraction must be in"),
        ({"valid_fraction": 0.6, "test_fraction": 0.5}, "must be < 1"),
    ],
)
def test_bad_split_fractions(kwargs, message):
    with pytest.raises(CourseLibError, match=message):
        split_by_source(MULTI, **kwargs)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ("Go.\tVa !", "pairs must be a list of .* got str"),
        ([("Go.", "Va !", "extra")], "pair 0 must be"),
        ([("Go.", None)], "pair 0 must be"),
    ],
)
def test_bad_pairs_are_refused(pairs, message):
    with pytest.raises(CourseLibError, match=message):
        split_by_source(pairs)
    with pytest.raises(CourseLibError, match=message):
        group_references(pairs)


def test_group_references_keeps_order_and_drops_duplicates():
    assert group_references(MULTI) == [
        ("Go.", ["Va !", "Marche.", "Bouge !"]),
        ("Hi.", ["Salut !"]),
        ("Run!", ["Cours !", "Courez !"]),
    ]
    assert group_references([]) == []


def test_leaked_sources():
    assert leaked_sources(MULTI[:3], MULTI[3:]) == ["Go.", "Hi."]
    with pytest.raises(CourseLibError, match=r"leaked_sources \(test\): pair 0"):
        leaked_sources(MULTI, [("x",)])
