"""Hidden tests for the exercises of chapters 1 and 2 (see also test_exercise_design.py).

- every registered reference passes its own cases, and the cases are deterministic;
- the master notebooks' solution cells, run alone in a fresh namespace (as the grader runs
  them), pass the self-check;
- typical wrong answers fail with a message that says what was expected and gives the hint.
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from conftest import CHAPTERS_DIR
from exercise_helpers import (
    assert_cases_deterministic,
    assert_rejected_with_hint,
    assert_student_version_says_not_implemented,
    run_solution_alone,
)
from exercise_helpers import solution_cells as notebook_solution_cells

from course_lib.exercises import ExerciseFailed, ch01, ch02, check

EXERCISES = {exercise.id: exercise for exercise in ch01.EXERCISES + ch02.EXERCISES}
NOTEBOOKS = {
    1: CHAPTERS_DIR / "01_dataset_format.ipynb",
    2: CHAPTERS_DIR / "02_input_preprocessing.ipynb",
}


FUNCTIONS = [i for i, e in EXERCISES.items() if e.kind != "checkpoint"]


def test_registered_with_stable_ids():
    assert list(EXERCISES) == [
        "ch01_split_checkpoint",
        "ch01_count_words",
        "ch01_group_references",
        "ch01_near_duplicate_leaks",
        "ch02_pe_checkpoint",
        "ch02_build_vocab",
        "ch02_pad_batch",
        "ch02_masked_mean",
    ]
    assert all(e.id.startswith(f"ch0{e.chapter}_") for e in EXERCISES.values())


@pytest.mark.parametrize("exercise_id", FUNCTIONS)
def test_reference_passes_its_own_cases(exercise_id, capsys):
    exercise = EXERCISES[exercise_id]
    check(exercise, exercise.reference)
    assert f"✓ {exercise_id}" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", FUNCTIONS)
def test_cases_are_deterministic(exercise_id):
    assert_cases_deterministic(EXERCISES[exercise_id])


def solution_cells(chapter: int) -> dict[str, str]:
    return notebook_solution_cells(NOTEBOOKS[chapter])


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_master_notebook_solution_passes_in_a_fresh_namespace(exercise_id, capsys):
    exercise = EXERCISES[exercise_id]
    run_solution_alone(exercise, NOTEBOOKS[exercise.chapter])
    assert f"✓ {exercise_id}" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", FUNCTIONS)
def test_student_version_says_not_implemented(exercise_id):
    exercise = EXERCISES[exercise_id]
    assert_student_version_says_not_implemented(exercise, NOTEBOOKS[exercise.chapter])


# --- wrong answers -------------------------------------------------------------------------------


def count_words_keeps_case(sentences):
    return dict(Counter(word for sentence in sentences for word in sentence.split()))


def group_references_keeps_duplicates(pairs):
    groups: dict[str, list[str]] = {}
    for english, french in pairs:
        groups.setdefault(english, []).append(french)
    return list(groups.items())


def leaks_exact_only(train, test):
    return sorted({e for e, _ in train} & {e for e, _ in test})


def leaks_without_apostrophes(train, test):
    def normal(sentence):
        return " ".join("".join(c if c.isalnum() else " " for c in sentence.lower()).split())

    seen = {normal(e) for e, _ in train}
    return sorted({e for e, _ in test if normal(e) in seen})


def leaks_repeated(train, test):
    seen = {" ".join(e.lower().strip(".!?").split()) for e, _ in train}
    return [e for e, _ in test if " ".join(e.lower().strip(".!?").split()) in seen]


def build_vocab_without_tie_break(token_lists, min_freq):
    counts = Counter(token for tokens in token_lists for token in tokens)
    specials = ["<pad>", "<start>", "<end>", "<unk>"]
    words = [w for w, c in counts.most_common() if c >= min_freq and w not in specials]
    return specials + words


def build_vocab_keeps_rare_words(token_lists, min_freq):
    return build_vocab_without_tie_break(token_lists, 1)


def pad_batch_mask_from_ids(seqs, pad_id):
    longest = max(len(s) for s in seqs)
    ids = torch.tensor([list(s) + [pad_id] * (longest - len(s)) for s in seqs], dtype=torch.long)
    return ids, ids != pad_id


def pad_batch_int_mask(seqs, pad_id):
    ids, mask = pad_batch_mask_from_ids(seqs, pad_id)
    return ids, mask.long()


def masked_mean_counts_padding(x, mask):
    return (x * mask.unsqueeze(-1)).sum(dim=1) / x.size(1)


def masked_mean_nan_for_empty_rows(x, mask):
    keep = mask.unsqueeze(-1).float()
    return (x * keep).sum(dim=1) / keep.sum(dim=1)


WRONG = [
    ("ch01_count_words", count_words_keeps_case),
    ("ch01_group_references", group_references_keeps_duplicates),
    ("ch01_near_duplicate_leaks", leaks_exact_only),
    ("ch01_near_duplicate_leaks", leaks_without_apostrophes),
    ("ch01_near_duplicate_leaks", leaks_repeated),
    ("ch02_build_vocab", build_vocab_without_tie_break),
    ("ch02_build_vocab", build_vocab_keeps_rare_words),
    ("ch02_pad_batch", pad_batch_mask_from_ids),
    ("ch02_pad_batch", pad_batch_int_mask),
    ("ch02_masked_mean", masked_mean_counts_padding),
    ("ch02_masked_mean", masked_mean_nan_for_empty_rows),
]


@pytest.mark.parametrize(("exercise_id", "wrong"), WRONG, ids=[w.__name__ for _, w in WRONG])
def test_wrong_answer_fails_with_expected_and_hint(exercise_id, wrong):
    assert_rejected_with_hint(EXERCISES[exercise_id], wrong)


def test_a_crashing_answer_is_reported_with_the_hint():
    def crashes(sentences):
        return {word: 1 for word in sentences.lower().split()}  # a list has no .lower()

    with pytest.raises(ExerciseFailed, match=r"raised AttributeError.*\nHint: A word is"):
        check(EXERCISES["ch01_count_words"], crashes)


@pytest.mark.parametrize(
    ("exercise_id", "wrong", "right"),
    [
        ("ch01_split_checkpoint", "a", "B"),
        ("ch02_pe_checkpoint", 64, 32.0),
    ],
)
def test_checkpoints(exercise_id, wrong, right):
    with pytest.raises(ExerciseFailed, match="not quite"):
        check(EXERCISES[exercise_id], wrong)
    if exercise_id == "ch01_split_checkpoint":  # a letter is compared exactly
        with pytest.raises(ExerciseFailed):
            check(EXERCISES[exercise_id], right)
    else:
        check(EXERCISES[exercise_id], right)
