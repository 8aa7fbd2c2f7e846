"""Step 5, output generation (course_lib.generate): the loop, greedy (cached and not), errors."""

from __future__ import annotations

import pytest
import torch
from generation_helpers import one_thread, source_batch, tiny_model  # noqa: F401 (autouse fixture)

from course_lib.beam import beam_search
from course_lib.errors import CourseLibError, ShapeError
from course_lib.generate import (
    GenerationResult,
    decode_loop,
    greedy_decode,
    greedy_steps,
    inference_mode,
)
from course_lib.kv_cache import LayerCache, reorder_cache
from course_lib.sampling import next_token_distribution, sample
from course_lib.tokenize import END, PAD, START


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.mark.parametrize("norm_first", [False, True])
def test_cached_and_uncached_greedy_give_identical_tokens(norm_first):
    model = tiny_model(norm_first=norm_first)
    src = source_batch()
    cached = greedy_decode(model, src, max_new_tokens=15, use_cache=True)
    uncached = greedy_decode(model, src, max_new_tokens=15, use_cache=False)
    assert torch.equal(cached.tokens, uncached.tokens)
    torch.testing.assert_close(cached.scores, uncached.scores, atol=1e-4, rtol=1e-5)
    assert cached.tokens.shape == (4, 15)
    assert cached.tokens.dtype == torch.long


def test_greedy_picks_the_argmax_of_a_full_decode_at_every_step():
    model = tiny_model()
    src = source_batch(batch=2)
    result = greedy_decode(model, src, max_new_tokens=6)
    prefix = torch.cat([torch.full((2, 1), START), result.tokens], dim=1)
    logits = model.decode(prefix[:, :-1], model.encode(src), (src != PAD)[:, None, None, :])
    logits[..., [PAD, START]] = float("-inf")
    assert torch.equal(logits.argmax(-1), result.tokens)
    log_probs = logits.log_softmax(-1).gather(2, result.tokens[..., None]).squeeze(-1)
    torch.testing.assert_close(result.scores, log_probs.sum(1), atol=1e-4, rtol=1e-5)


def test_greedy_never_generates_pad_or_start():
    model = tiny_model()
    with torch.no_grad():  # make <pad> and <start> the most likely tokens everywhere
        model.generator.bias[PAD] = 50.0
        model.generator.bias[START] = 40.0
    result = greedy_decode(model, source_batch(), max_new_tokens=5)
    assert not (result.tokens == PAD).any()
    assert not (result.tokens == START).any()


def test_each_sentence_stops_at_its_own_end_then_pads():
    model = tiny_model(sharpness=3.0)
    src = source_batch(batch=6)
    with torch.no_grad():  # <end> almost as likely as the best token: rows end at different steps
        model.generator.bias[END] = 3.0
    result = greedy_decode(model, src, max_new_tokens=20)
    ended_at = []
    for row, length in zip(result.tokens.tolist(), result.lengths.tolist()):
        if END in row:
            first = row.index(END)
            assert all(t == PAD for t in row[first + 1 :])
            assert length == first + 1
            ended_at.append(first)
        else:
            assert length == len(row)
    assert len(set(ended_at)) >= 2, f"want rows ending at different steps, got {ended_at}"
    # The loop stops as soon as every sentence has ended.
    if len(ended_at) == src.size(0):
        assert result.tokens.size(1) == max(ended_at) + 1


def test_loop_stops_when_every_sentence_has_ended():
    model = tiny_model()
    with torch.no_grad():
        model.generator.bias[END] = 100.0
    result = greedy_decode(model, source_batch(), max_new_tokens=10)
    assert result.tokens.tolist() == [[END]] * 4
    assert result.lengths.tolist() == [1] * 4


def test_decode_loop_with_a_table_step():
    # Sentence 0 goes start -> 5 -> end, sentence 1 start -> 4 -> 4 -> ... never ends.
    table = torch.zeros(2, 6, 6)
    table[0, START, 5] = table[0, 5, END] = 1.0
    table[1, START, 4] = table[1, 4, 4] = 1.0
    rows = torch.arange(2)
    tokens, scores = decode_loop(lambda t: table[rows, t[:, -1]], 2, max_new_tokens=4)
    assert tokens.tolist() == [[5, END, PAD, PAD], [4, 4, 4, 4]]
    assert scores.shape == (2,)


def test_need_weights_shapes_and_rows_sum_to_one_over_real_source_words():
    model = tiny_model()
    src = source_batch()
    for use_cache in (True, False):
        result = greedy_decode(model, src, max_new_tokens=7, use_cache=use_cache, need_weights=True)
        assert isinstance(result, GenerationResult)
        assert len(result.cross_attention) == model.config.n_decoder_layers
        for weights in result.cross_attention:
            assert weights.shape == (4, 4, result.tokens.size(1), src.size(1))
            torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
            padded = (src == PAD)[:, None, None, :].expand_as(weights)
            assert (weights[padded] == 0).all()
    plain = greedy_decode(model, src, max_new_tokens=7)
    assert plain.cross_attention is None
    assert torch.equal(plain.tokens, result.tokens)


def test_generation_runs_in_eval_mode_and_restores_training_mode():
    model = tiny_model().train()
    src = source_batch()
    first = greedy_decode(model, src, max_new_tokens=8)
    second = greedy_decode(model, src, max_new_tokens=8)
    assert model.training, "the model's training flag must be restored"
    assert torch.equal(first.tokens, second.tokens), "dropout must be off while generating"
    model.eval()
    assert torch.equal(greedy_decode(model, src, max_new_tokens=8).tokens, first.tokens)
    with inference_mode(model):
        assert not model.training and not torch.is_grad_enabled()


def test_single_unpadded_sentence_equals_its_row_in_a_padded_batch():
    model = tiny_model()
    src = source_batch()
    batch = greedy_decode(model, src, max_new_tokens=10)
    row = 2
    alone = src[row : row + 1, : int((src[row] != PAD).sum())]
    single = greedy_decode(model, alone, max_new_tokens=10)
    width = single.tokens.size(1)
    assert torch.equal(single.tokens[0], batch.tokens[row, :width])


def test_greedy_steps_follow_greedy_decode():
    model = tiny_model(sharpness=3.0)
    with torch.no_grad():
        model.generator.bias[END] = 2.0
    src = source_batch(batch=1)[0]
    vocabulary = [f"w{i}" for i in range(model.config.tgt_vocab_size)]
    steps = greedy_steps(model, src, vocabulary, top=3, max_new_tokens=12)
    result = greedy_decode(model, src[None], max_new_tokens=12)
    picked = [step["chosen"] for step in steps]
    expected = [vocabulary[t] if t != END else "<end>" for t in result.tokens[0].tolist()]
    assert picked == expected
    for k, step in enumerate(steps, start=1):
        assert step["step"] == k
        assert step["prefix"][0] == "<start>" and step["prefix"][1:] == picked[: k - 1]
        probs = [p for _, p in step["candidates"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True)
        assert step["probability"] == probs[0] and step["chosen"] == step["candidates"][0][0]


@pytest.mark.parametrize("strategy", [greedy_decode, beam_search, sample])
def test_empty_batch_is_a_clear_error(model, strategy):
    with pytest.raises(ShapeError, match="empty batch"):
        strategy(model, torch.zeros(0, 5, dtype=torch.long))


@pytest.mark.parametrize("strategy", [greedy_decode, beam_search, sample])
@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_max_new_tokens_below_one_is_a_clear_error(model, strategy, bad):
    with pytest.raises(CourseLibError, match="max_new_tokens"):
        strategy(model, source_batch(), max_new_tokens=bad)


def test_max_new_tokens_beyond_max_len_is_a_clear_error(model):
    with pytest.raises(CourseLibError, match="max_len"):
        greedy_decode(model, source_batch(), max_new_tokens=model.config.max_len + 1)


def test_wrong_inputs_name_the_problem(model):
    with pytest.raises(CourseLibError, match="model must be a course_lib.model.Transformer"):
        greedy_decode(torch.nn.Linear(2, 2), source_batch())
    with pytest.raises(ShapeError, match=r"src must have shape \(batch, seq_len\)"):
        greedy_decode(model, torch.tensor([4, 5, 6]))
    with pytest.raises(ShapeError, match="integer token ids"):
        greedy_decode(model, torch.rand(2, 3))
    with pytest.raises(ShapeError, match="src must be a tensor"):
        greedy_decode(model, [[4, 5, 6]])
    with pytest.raises(ShapeError, match="empty sentences"):
        beam_search(model, torch.zeros(2, 0, dtype=torch.long))
    with pytest.raises(ShapeError, match="logits must have shape"):
        next_token_distribution(torch.zeros(5))
    with pytest.raises(ShapeError, match="one sentence"):
        greedy_steps(model, source_batch(batch=2), ["w"] * 20)
    with pytest.raises(CourseLibError, match="top must be an integer >= 1"):
        greedy_steps(model, source_batch(batch=1), ["w"] * 20, top=0)


def test_decode_loop_and_reorder_cache_reject_bad_input():
    with pytest.raises(CourseLibError, match="step must be a function"):
        decode_loop("not a function", 2)
    with pytest.raises(CourseLibError, match="batch_size must be an integer >= 1"):
        decode_loop(lambda tokens: torch.zeros(0, 5), 0)
    with pytest.raises(CourseLibError, match="max_new_tokens must be an integer >= 1"):
        decode_loop(lambda tokens: torch.zeros(2, 5), 2, max_new_tokens=0)
    with pytest.raises(ShapeError, match="index must be a 1-D int64 tensor"):
        reorder_cache([LayerCache()], torch.tensor([[0, 1]]))
