"""Hidden tests for the exercises of chapter 5 (two checkpoints, <end>, top-p); see also
test_exercise_design.py.

- every registered reference passes its own cases, and the cases are deterministic and
  cover what they claim to (sentences ending at different steps, one never ending, ...);
- the master notebook's solution cells, run alone in a fresh namespace (as the grader runs
  them), pass the self-check, and the student version says "not implemented";
- typical wrong answers fail with a message that says what was expected and gives the hint;
- the exercise loop is the library's loop: with the real model's step it gives
  ``greedy_decode``'s tokens.
"""

from __future__ import annotations

import nbformat
import pytest
import torch
from conftest import CHAPTERS_DIR
from exercise_helpers import (
    assert_cases_deterministic,
    assert_rejected_with_hint,
    assert_solution_followed_by_its_self_check,
    assert_student_version_says_not_implemented,
    run_solution_alone,
)
from exercise_helpers import solution_cells as notebook_solution_cells

from course_lib.config import TransformerConfig
from course_lib.errors import ShapeError
from course_lib.exercises import ExerciseFailed, ch05, check, expected_outputs
from course_lib.generate import ModelStep, decode_loop, greedy_decode, inference_mode
from course_lib.model import Transformer
from course_lib.sampling import next_token_distribution

EXERCISES = {exercise.id: exercise for exercise in ch05.EXERCISES}
FUNCTIONS = [i for i, e in EXERCISES.items() if e.kind != "checkpoint"]
NOTEBOOK = CHAPTERS_DIR / "05_output_generation.ipynb"


def test_registered_with_stable_ids():
    assert list(EXERCISES) == [
        "ch05_output_shape",
        "ch05_cold_checkpoint",
        "ch05_stop_at_end",
        "ch05_top_p",
    ]
    assert all(e.chapter == 5 and e.id.startswith("ch05_") for e in EXERCISES.values())


@pytest.mark.parametrize("exercise_id", FUNCTIONS)
def test_reference_passes_its_own_cases(exercise_id, capsys):
    exercise = EXERCISES[exercise_id]
    check(exercise, exercise.reference)
    assert f"✓ {exercise_id}" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", FUNCTIONS)
def test_cases_are_deterministic(exercise_id):
    assert_cases_deterministic(EXERCISES[exercise_id])


def test_end_cases_cover_every_situation():
    outputs = {
        case.name: (case, tokens)
        for case, tokens in expected_outputs(EXERCISES["ch05_stop_at_end"])
    }
    case, tokens = outputs["sentences end at different steps"]
    end_id, pad_id, max_new_tokens = case.args[2], case.args[3], case.args[4]
    ends = [row.index(end_id) for row in tokens.tolist()]
    assert len(set(ends)) == 3 and tokens.size(1) == max(ends) + 1 < max_new_tokens
    assert all(all(t == pad_id for t in row[e + 1 :]) for row, e in zip(tokens.tolist(), ends))
    case, tokens = outputs["one sentence never ends: stop at max_new_tokens"]
    assert tokens.size(1) == case.args[4] and case.args[2] not in tokens[1].tolist()
    _, tokens = outputs["every sentence ends at once"]
    assert tokens.tolist() == [[2], [2]]
    case, tokens = outputs["other special ids (start 7, end 3, pad 9)"]
    assert tokens.tolist() == [[1, 3, 9], [4, 5, 3]]


def test_top_p_cases_sum_to_one_and_keep_a_nucleus():
    for case, probs in expected_outputs(EXERCISES["ch05_top_p"]):
        logits, temperature, top_p = case.args
        torch.testing.assert_close(probs.sum(-1), torch.ones(probs.size(0)))
        full = (logits / temperature).softmax(-1)
        kept = probs > 0
        mass = (full * kept).sum(-1)
        assert bool((mass >= top_p - 1e-6).all()), case.name  # the nucleus holds top_p
        smallest = full.masked_fill(~kept, 2.0).min(-1).values
        assert bool((mass - smallest < top_p).all()), case.name  # and is the smallest such set
    outputs = {case.name: probs for case, probs in expected_outputs(EXERCISES["ch05_top_p"])}
    assert outputs["top_p 0.5: only the most probable token"].gt(0).sum(-1).tolist() == [1, 1]
    assert outputs["top_p 1.0 keeps every token"].gt(0).all()


def test_checkpoint_answers_follow_from_the_library():
    # the shape: three sentences ending after 4, 2 and 6 tokens
    table = ch05.chain_table([[1, 4, 5, 6, 2], [1, 7, 2], [1, 3, 4, 5, 6, 7, 2]], 9, seed=0)
    tokens = ch05.reference_greedy_loop_with_end(table, 1, 2, 0, 10)
    assert tuple(tokens.shape) == ch05.reference_output_shape_checkpoint()
    # a very low temperature is greedy
    cold = next_token_distribution(torch.tensor([[3.0, 1.0, 1.0, -5.0]]), 1e-3)[0]
    torch.testing.assert_close(cold, torch.tensor(ch05.reference_cold_checkpoint()))


@pytest.mark.parametrize(
    ("exercise_id", "wrong", "right"),
    [
        ("ch05_output_shape", (3, 10), (3, 6)),
        ("ch05_output_shape", (3, 5), [3, 6]),
        ("ch05_cold_checkpoint", [0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0]),
        ("ch05_cold_checkpoint", [0.5, 0.25, 0.25, 0.0], (1.0, 0.0, 0.0, 0.0)),
    ],
)
def test_checkpoints(exercise_id, wrong, right):
    with pytest.raises(ExerciseFailed, match="not quite"):
        check(EXERCISES[exercise_id], wrong)
    check(EXERCISES[exercise_id], right)


# --- the master notebook --------------------------------------------------------------------


def notebook_cells() -> list:
    return nbformat.read(NOTEBOOK, as_version=4).cells


def solution_cells() -> dict[str, str]:
    return notebook_solution_cells(NOTEBOOK)


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_master_notebook_solution_passes_in_a_fresh_namespace(exercise_id, capsys):
    exercise = EXERCISES[exercise_id]
    run_solution_alone(exercise, NOTEBOOK)
    assert f"✓ {exercise_id}" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_solution_cell_is_followed_by_its_self_check(exercise_id):
    assert_solution_followed_by_its_self_check(EXERCISES[exercise_id], NOTEBOOK)


@pytest.mark.parametrize("exercise_id", FUNCTIONS)
def test_student_version_says_not_implemented(exercise_id):
    assert_student_version_says_not_implemented(EXERCISES[exercise_id], NOTEBOOK)


# --- wrong answers ----------------------------------------------------------------------------


def end_loop_without_padding(table, start_id, end_id, pad_id, max_new_tokens):
    rows = torch.arange(table.size(0))
    tokens = torch.full((table.size(0), 1), start_id, dtype=torch.long)
    finished = torch.zeros(table.size(0), dtype=torch.bool)
    for _ in range(max_new_tokens):
        next_token = table[rows, tokens[:, -1]].argmax(-1)  # keeps writing after <end>
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        finished |= next_token == end_id
        if finished.all():
            break
    return tokens[:, 1:]


def end_loop_stops_at_first_end(table, start_id, end_id, pad_id, max_new_tokens):
    rows = torch.arange(table.size(0))
    tokens = torch.full((table.size(0), 1), start_id, dtype=torch.long)
    for _ in range(max_new_tokens):
        next_token = table[rows, tokens[:, -1]].argmax(-1)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        if (next_token == end_id).any():  # stops the whole batch at the first <end>
            break
    return tokens[:, 1:]


def top_p_keeps_up_to_top_p(logits, temperature, top_p):
    probs = (logits / temperature).softmax(-1)
    ranked, order = probs.sort(-1, descending=True)
    keep = ranked.cumsum(-1) <= top_p  # drops the token that crosses top_p
    keep[:, 0] = True
    kept = probs * keep.gather(-1, order.argsort(-1))
    return kept / kept.sum(-1, keepdim=True)


def top_p_not_renormalised(logits, temperature, top_p):
    probs = (logits / temperature).softmax(-1)
    ranked, order = probs.sort(-1, descending=True)
    keep = (ranked.cumsum(-1) - ranked) < top_p
    return probs * keep.gather(-1, order.argsort(-1))


def top_p_forgets_the_order(logits, temperature, top_p):
    probs = (logits / temperature).softmax(-1)
    ranked, _ = probs.sort(-1, descending=True)
    kept = ranked * ((ranked.cumsum(-1) - ranked) < top_p)
    return kept / kept.sum(-1, keepdim=True)  # still sorted, not in vocabulary order


WRONG = [
    ("ch05_stop_at_end", end_loop_without_padding),
    ("ch05_stop_at_end", end_loop_stops_at_first_end),
    ("ch05_top_p", top_p_keeps_up_to_top_p),
    ("ch05_top_p", top_p_not_renormalised),
    ("ch05_top_p", top_p_forgets_the_order),
]


@pytest.mark.parametrize(("exercise_id", "wrong"), WRONG, ids=[w.__name__ for _, w in WRONG])
def test_wrong_answer_fails_with_expected_and_hint(exercise_id, wrong):
    assert_rejected_with_hint(EXERCISES[exercise_id], wrong)


def test_a_crashing_answer_is_reported_with_the_hint():
    def crashes(table, start_id, end_id, pad_id, max_new_tokens):
        return table.argmax(-1, keepdims=True, out=5)  # not a valid call

    with pytest.raises(ExerciseFailed, match=r"raised TypeError.*\nHint: The loop needs"):
        check(EXERCISES["ch05_stop_at_end"], crashes)


# --- the exercise loop is the library's loop -----------------------------------------------------


def test_the_loop_with_the_real_model_gives_greedy_decode():
    torch.manual_seed(0)
    config = TransformerConfig(
        src_vocab_size=12,
        tgt_vocab_size=10,
        d_model=16,
        n_heads=2,
        n_encoder_layers=1,
        n_decoder_layers=1,
        d_ff=32,
        max_len=20,
    )
    model = Transformer(config).eval()
    src = torch.tensor([[4, 5, 6], [7, 8, 0]])
    with inference_mode(model):
        tokens, _ = decode_loop(ModelStep(model, src), 2, max_new_tokens=8)
    assert torch.equal(tokens, greedy_decode(model, src, max_new_tokens=8).tokens)


# --- bad input to the helpers -------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        torch.zeros(3, 3),
        torch.zeros(2, 3, 4),
        torch.zeros(2, 3, 3, dtype=torch.long),
        torch.zeros(0, 3, 3),
        [[1.0]],
    ],
)
def test_table_step_rejects_a_bad_table(bad):
    with pytest.raises(ShapeError, match=r"table must be .* \(batch, vocab, vocab\)"):
        ch05.reference_greedy_loop_with_end(bad, 1, 2, 0, 3)
