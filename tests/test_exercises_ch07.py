"""Chapter 7 exercises: registered, references pass their own cases, the notebook's
solutions pass, and wrong answers fail with a helpful message."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from exercise_helpers import run_solution_alone

from course_lib.exercises import ExerciseFailed, all_exercises, check, expected_outputs
from course_lib.exercises.ch07 import EXERCISES

CHAPTER = Path(__file__).resolve().parent.parent / "chapters" / "07_inference.ipynb"
IDS = ["ch07_detokenize_french", "ch07_exact_match", "ch07_strongest_source"]


def test_registered_with_stable_ids():
    registry = all_exercises()
    assert [e.id for e in EXERCISES] == IDS
    for exercise in EXERCISES:
        assert registry[exercise.id] is exercise
        assert exercise.chapter == 7 and exercise.points > 0 and exercise.hint


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_reference_passes_its_own_cases(exercise):
    outputs = expected_outputs(exercise)
    assert len(outputs) >= 3
    check(exercise, exercise.reference)


def test_expected_values_by_hand():
    detok, exact, strongest = (dict((e.id, e) for e in EXERCISES)[i].reference for i in IDS)
    assert detok(["j'", "aime", "la", "pizza"]) == "J'aime la pizza"
    assert detok(["tu", "aimes", "le", "fromage", "?"]) == "Tu aimes le fromage ?"
    assert detok(["je", "n'", "aime", "pas", "l'", "eau", "."]) == "Je n'aime pas l'eau."
    assert exact(["a  b", "c"], [["x", "a b"], ["C"]]) == 0.5
    weights = torch.zeros(1, 2, 2, 3)
    weights[0, :, 0, 2] = 1.0
    weights[0, :, 1, 0] = 1.0
    assert strongest(weights).tolist() == [2, 0]


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_the_chapter_solution_passes_in_a_fresh_namespace(exercise):
    run_solution_alone(exercise, CHAPTER)


def test_wrong_answers_fail_with_a_hint():
    with pytest.raises(ExerciseFailed, match="(?s)ch07_detokenize_french.*Hint: Join the tokens"):
        check("ch07_detokenize_french", lambda tokens: " ".join(tokens))
    with pytest.raises(ExerciseFailed, match="(?s)ch07_exact_match.*extra spaces"):
        check("ch07_exact_match", lambda h, r: sum(x in refs for x, refs in zip(h, r)) / len(h))
    with pytest.raises(ExerciseFailed, match="(?s)ch07_strongest_source.*one head disagrees"):
        check("ch07_strongest_source", lambda w: w[0, 0].argmax(dim=-1))
    with pytest.raises(ExerciseFailed, match="not implemented yet"):
        check("ch07_exact_match", _not_implemented)


def _not_implemented(*args):
    raise NotImplementedError()
