"""Beam search and the model's score of a translation (course_lib.beam)."""

from __future__ import annotations

import itertools

import pytest
import torch
from generation_helpers import one_thread, source_batch, tiny_model  # noqa: F401 (autouse fixture)

from course_lib.beam import beam_search, gnmt_penalty, score_sequences
from course_lib.errors import CourseLibError, ShapeError
from course_lib.generate import (
    greedy_decode,
)
from course_lib.tokenize import END, PAD, START


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def pad_to(tokens: torch.Tensor, width: int) -> torch.Tensor:
    return torch.nn.functional.pad(tokens, (0, width - tokens.size(1)), value=PAD)


@pytest.mark.parametrize("norm_first", [False, True])
def test_beam_size_one_equals_greedy(norm_first):
    model = tiny_model(norm_first=norm_first, sharpness=2.0)
    with torch.no_grad():
        model.generator.bias[END] = 2.5
    src = source_batch(batch=5)
    greedy = greedy_decode(model, src, max_new_tokens=12)
    for alpha in (0.0, 0.6, 1.0):
        beam = beam_search(model, src, beam_size=1, max_new_tokens=12, length_penalty=alpha)
        width = max(greedy.tokens.size(1), beam.tokens.size(1))
        assert torch.equal(pad_to(beam.tokens, width), pad_to(greedy.tokens, width)), alpha
        torch.testing.assert_close(beam.scores, greedy.scores, atol=1e-4, rtol=1e-5)
        assert torch.equal(beam.lengths, greedy.lengths)


def exhaustive_best(model, src_row, max_len, alpha):
    """Score every possible output of at most ``max_len`` tokens; return the best one.

    Outputs are sequences over the allowed tokens (not <pad>/<start>) that either end with
    <end> or reach ``max_len`` tokens without it, ranked by log P / gnmt_penalty(length)."""
    vocab = model.config.tgt_vocab_size
    allowed = [t for t in range(vocab) if t not in (PAD, START)]
    words = [t for t in allowed if t != END]
    candidates = []
    for length in range(1, max_len + 1):
        for body in itertools.product(words, repeat=length - 1):
            candidates.append(list(body) + [END])
    candidates += [list(body) for body in itertools.product(words, repeat=max_len)]
    src = src_row[None, :]
    memory = model.encode(src)
    best = None
    with torch.no_grad():
        for sequence in candidates:
            tgt = torch.tensor([[START] + sequence[:-1]])
            logits = model.decode(tgt, memory, (src != PAD)[:, None, None, :])
            logits[..., [PAD, START]] = float("-inf")
            log_probs = logits.log_softmax(-1)[0, torch.arange(len(sequence)), sequence]
            score = float(log_probs.sum()) / gnmt_penalty(len(sequence), alpha)
            if best is None or score > best[0]:
                best = (score, sequence)
    return best


@pytest.mark.parametrize(("vocab", "max_len", "alpha"), [(6, 3, 0.6), (5, 4, 0.0), (5, 4, 1.0)])
def test_large_beam_finds_the_exhaustive_search_best(vocab, max_len, alpha):
    model = tiny_model(tgt_vocab=vocab, seed=3, sharpness=4.0)
    with torch.no_grad():
        model.generator.bias[END] = 1.0
    src = source_batch(seed=4, batch=3)
    result = beam_search(model, src, beam_size=64, max_new_tokens=max_len, length_penalty=alpha)
    for row in range(src.size(0)):
        length = int((src[row] != PAD).sum())
        score, sequence = exhaustive_best(model, src[row, :length], max_len, alpha)
        got = result.tokens[row, : int(result.lengths[row])].tolist()
        assert got == sequence, f"row {row}: beam {got} vs exhaustive {sequence}"
        assert float(result.normalized_scores[row]) == pytest.approx(score, abs=1e-4)


def test_the_exhaustive_check_is_not_trivial():
    """On the exhaustive-search models, greedy misses the best sequence at least once, so
    the test above checks more than beam search == greedy."""
    misses = 0
    for vocab, max_len, alpha in [(6, 3, 0.6), (5, 4, 0.0), (5, 4, 1.0)]:
        model = tiny_model(tgt_vocab=vocab, seed=3, sharpness=4.0)
        with torch.no_grad():
            model.generator.bias[END] = 1.0
        src = source_batch(seed=4, batch=3)
        greedy = greedy_decode(model, src, max_new_tokens=max_len)
        for row in range(src.size(0)):
            length = int((src[row] != PAD).sum())
            _, best = exhaustive_best(model, src[row, :length], max_len, alpha)
            misses += greedy.tokens[row, : int(greedy.lengths[row])].tolist() != best
    assert misses >= 1


def test_beam_search_results_are_consistent():
    model = tiny_model(sharpness=3.0)
    with torch.no_grad():
        model.generator.bias[END] = 2.0
    src = source_batch(batch=4)
    result = beam_search(model, src, beam_size=4, max_new_tokens=10, length_penalty=0.6)
    assert result.tokens.shape[0] == 4 and result.tokens.dtype == torch.long
    for row, length, score, normalized in zip(
        result.tokens.tolist(), result.lengths.tolist(), result.scores, result.normalized_scores
    ):
        assert all(t == PAD for t in row[length:])
        assert PAD not in row[:length] and START not in row[:length]
        if END in row:
            assert row.index(END) == length - 1
        assert float(normalized) == pytest.approx(float(score) / gnmt_penalty(length, 0.6))
    # A wider beam never returns a worse length-normalised score than a narrower one here
    # (the search is exhaustive enough on this tiny model), and batching does not matter.
    alone = beam_search(model, src[:1, :6], beam_size=4, max_new_tokens=10, length_penalty=0.6)
    assert (
        alone.tokens[0, : alone.lengths[0]].tolist()
        == result.tokens[0, : result.lengths[0]].tolist()
    )


@pytest.mark.parametrize("norm_first", [False, True])
def test_score_sequences_reproduces_the_scores_of_greedy_and_beam(norm_first):
    model = tiny_model(sharpness=3.0, norm_first=norm_first)
    with torch.no_grad():
        model.generator.bias[END] = 2.0
    src = source_batch(batch=4)
    greedy = greedy_decode(model, src, max_new_tokens=10)
    scored = score_sequences(model, src, greedy.tokens)
    torch.testing.assert_close(scored.scores, greedy.scores, atol=1e-4, rtol=1e-5)
    assert scored.lengths.tolist() == greedy.lengths.tolist()
    beam = beam_search(model, src, beam_size=3, max_new_tokens=10, length_penalty=0.6)
    scored = score_sequences(model, src, beam.tokens, length_penalty=0.6)
    torch.testing.assert_close(scored.scores, beam.scores, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(
        scored.normalized_scores, beam.normalized_scores, atol=1e-4, rtol=1e-5
    )


def test_score_sequences_counts_up_to_end_and_matches_a_hand_sum():
    model = tiny_model()
    src = source_batch(batch=2)
    tokens = torch.tensor([[5, 6, END, PAD], [7, 8, 9, 10]])  # the second never ends
    result = score_sequences(model, src, tokens, length_penalty=0.0)
    assert result.lengths.tolist() == [3, 4]
    with torch.no_grad():
        logits = model(src, torch.tensor([[START, 5, 6, END], [START, 7, 8, 9]]))
    logits[..., [PAD, START]] = float("-inf")
    log_probs = logits.log_softmax(-1)
    by_hand = [
        float(log_probs[0, [0, 1, 2], [5, 6, END]].sum()),
        float(log_probs[1, [0, 1, 2, 3], [7, 8, 9, 10]].sum()),
    ]
    assert result.scores.tolist() == pytest.approx(by_hand, abs=1e-4)
    torch.testing.assert_close(result.normalized_scores, result.scores)  # alpha = 0


def test_score_sequences_rejects_bad_input():
    model = tiny_model()
    src = source_batch(batch=2)
    with pytest.raises(ShapeError, match="tokens must have shape"):
        score_sequences(model, src, torch.tensor([5, 6, END]))
    with pytest.raises(ShapeError, match="batch size 1 but src has 2"):
        score_sequences(model, src, torch.tensor([[5, END]]))
    with pytest.raises(ShapeError, match="tokens is empty"):
        score_sequences(model, src, torch.zeros(2, 0, dtype=torch.long))
    with pytest.raises(CourseLibError, match="more than the model's max_len"):
        score_sequences(model, src, torch.full((2, 61), 5))
    with pytest.raises(CourseLibError, match="length_penalty"):
        score_sequences(model, src, torch.tensor([[5, END], [6, END]]), length_penalty=-1)


def test_gnmt_penalty_values():
    assert gnmt_penalty(1, 0.6) == pytest.approx(1.0)
    assert gnmt_penalty(7, 1.0) == pytest.approx(2.0)
    assert gnmt_penalty(10, 0.0) == 1.0


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_beam_size_below_one_is_a_clear_error(model, bad):
    with pytest.raises(CourseLibError, match="beam_size"):
        beam_search(model, source_batch(), beam_size=bad)


def test_negative_length_penalty_is_a_clear_error(model):
    with pytest.raises(CourseLibError, match="length_penalty"):
        beam_search(model, source_batch(), length_penalty=-0.5)
