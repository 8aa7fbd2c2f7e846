"""Chapter 7 exercises: registered, references pass their own cases, the notebook's
solutions pass, and wrong answers fail with a helpful message."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch
from exercise_helpers import run_solution_alone

from course_lib.exercises import ExerciseFailed, all_exercises, check, expected_outputs
from course_lib.exercises.ch07 import EXERCISES

CHAPTER = Path(__file__).resolve().parent.parent / "chapters" / "07_inference.ipynb"
IDS = [
    "ch07_unknown_checkpoint",
    "ch07_detokenize_french",
    "ch07_clipped_precision",
    "ch07_strongest_source",
]
FUNCTIONS = [e for e in EXERCISES if e.kind != "checkpoint"]


def test_registered_with_stable_ids():
    registry = all_exercises()
    assert [e.id for e in EXERCISES] == IDS
    for exercise in EXERCISES:
        assert registry[exercise.id] is exercise
        assert exercise.chapter == 7 and exercise.points > 0 and exercise.hint


@pytest.mark.parametrize("exercise", FUNCTIONS, ids=lambda e: e.id)
def test_reference_passes_its_own_cases(exercise):
    outputs = expected_outputs(exercise)
    assert len(outputs) >= 3
    check(exercise, exercise.reference)


def test_expected_values_by_hand():
    unknown, detok, precision, strongest = (
        dict((e.id, e) for e in EXERCISES)[i].reference for i in IDS
    )
    assert detok(["j'", "aime", "la", "pizza"]) == "J'aime la pizza"
    assert detok(["tu", "aimes", "le", "fromage", "?"]) == "Tu aimes le fromage ?"
    assert detok(["je", "n'", "aime", "pas", "l'", "eau", "."]) == "Je n'aime pas l'eau."
    cat, mat = "the cat is on the mat".split(), "there is a cat on the mat".split()
    assert precision(["the"] * 7, [cat, mat], 1) == (2, 7)  # Papineni et al.'s example
    assert precision("a a b".split(), [["a", "b"], ["a", "a"]], 1) == (3, 3)
    assert precision("a b".split(), [["b", "a"]], 2) == (0, 1)
    weights = torch.zeros(1, 2, 2, 3)
    weights[0, :, 0, 2] = 1.0
    weights[0, :, 1, 0] = 1.0
    assert strongest(weights).tolist() == [2, 0]
    from course_lib.tokenize import UNK, WordTokenizer

    tokenizer = WordTokenizer.fit(["I love pizza"], "en")
    assert tokenizer.encode("I love sushi")[-1] == UNK == unknown()


def test_clipped_precision_agrees_with_sacrebleu_counts():
    sacrebleu = pytest.importorskip("sacrebleu")
    (precision,) = [e.reference for e in EXERCISES if e.id == "ch07_clipped_precision"]
    hypothesis = "le chat le chat est sur le tapis"
    references = ["le chat est sur le tapis", "il y a un chat sur le tapis"]
    stats = sacrebleu.metrics.BLEU().corpus_score([hypothesis], [[r] for r in references])
    mine = [precision(hypothesis.split(), [r.split() for r in references], n) for n in (1, 2, 3, 4)]
    assert [m for m, _ in mine] == stats.counts and [t for _, t in mine] == stats.totals


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_the_chapter_solution_passes_in_a_fresh_namespace(exercise):
    run_solution_alone(exercise, CHAPTER)


def test_wrong_answers_fail_with_a_hint():
    with pytest.raises(ExerciseFailed, match="(?s)ch07_detokenize_french.*Hint: Decide, for each"):
        check("ch07_detokenize_french", lambda tokens: " ".join(tokens))
    with pytest.raises(
        ExerciseFailed, match="(?s)ch07_clipped_precision.*clipped to 2.*Hint: Count"
    ):
        check("ch07_clipped_precision", _unclipped_precision)
    with pytest.raises(ExerciseFailed, match="(?s)ch07_clipped_precision.*clipped to 2.*got 3"):
        check("ch07_clipped_precision", _precision_summed_over_references)
    with pytest.raises(ExerciseFailed, match="(?s)ch07_strongest_source.*one head disagrees"):
        check("ch07_strongest_source", lambda w: w[0, 0].argmax(dim=-1))
    with pytest.raises(ExerciseFailed, match="not implemented yet"):
        check("ch07_clipped_precision", _not_implemented)
    with pytest.raises(ExerciseFailed, match="not quite"):
        check("ch07_unknown_checkpoint", 0)
    check("ch07_unknown_checkpoint", 3)


def _ngrams(tokens, n):
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _unclipped_precision(hypothesis, references, n):
    grams = _ngrams(hypothesis, n)
    seen = set().union(*(_ngrams(r, n) for r in references))
    return sum(c for g, c in grams.items() if g in seen), sum(grams.values())


def _precision_summed_over_references(hypothesis, references, n):
    grams, allowed = _ngrams(hypothesis, n), Counter()
    for reference in references:
        allowed += _ngrams(reference, n)  # sums instead of taking the maximum
    return sum(min(c, allowed[g]) for g, c in grams.items()), sum(grams.values())


def _not_implemented(*args):
    raise NotImplementedError()
