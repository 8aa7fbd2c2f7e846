"""Tests for step 5, output generation: greedy (cached and not), beam search, sampling."""

from __future__ import annotations

import itertools

import pytest
import torch

from course_lib.beam import beam_search, gnmt_penalty, score_sequences
from course_lib.config import TransformerConfig
from course_lib.errors import CourseLibError, ShapeError
from course_lib.generate import (
    GenerationResult,
    decode_loop,
    greedy_decode,
    greedy_steps,
    inference_mode,
)
from course_lib.kv_cache import KVCache, LayerCache, reorder_cache
from course_lib.model import Transformer
from course_lib.sampling import next_token_distribution, sample
from course_lib.tokenize import END, PAD, START


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and a busy shared machine cannot slow them."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tiny_model(
    tgt_vocab: int = 20, seed: int = 0, norm_first: bool = False, sharpness: float = 1.0
) -> Transformer:
    """A random 2+2-layer d_model=32 model; ``sharpness`` scales the output layer so that
    next-token distributions are less flat."""
    torch.manual_seed(seed)
    config = TransformerConfig(
        src_vocab_size=15,
        tgt_vocab_size=tgt_vocab,
        d_model=32,
        n_heads=4,
        n_encoder_layers=2,
        n_decoder_layers=2,
        d_ff=64,
        dropout=0.1,
        max_len=60,
        norm_first=norm_first,
    )
    model = Transformer(config).eval()
    with torch.no_grad():
        model.generator.weight.mul_(sharpness)
    return model


def source_batch(seed: int = 1, batch: int = 4, length: int = 6) -> torch.Tensor:
    """Random source ids with some padding at the end of the later rows."""
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(4, 15, (batch, length), generator=generator)
    for row in range(1, batch):
        src[row, length - row :] = PAD
    return src


# --------------------------------------------------------------------------- greedy


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


# --------------------------------------------------------------------------- beam search


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


# --------------------------------------------------------------------------- scoring


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


def test_reorder_cache_selects_rows_of_every_layer():
    rows = torch.arange(3.0)[:, None]
    cache = [LayerCache(KVCache(False, rows, rows * 10), KVCache(True, rows + 1, rows - 1))]
    reorder_cache(cache, torch.tensor([2, 2, 0]))
    assert cache[0].self_attn.keys.flatten().tolist() == [2.0, 2.0, 0.0]
    assert cache[0].self_attn.values.flatten().tolist() == [20.0, 20.0, 0.0]
    assert cache[0].cross_attn.keys.flatten().tolist() == [3.0, 3.0, 1.0]
    assert cache[0].cross_attn.values.flatten().tolist() == [1.0, 1.0, -1.0]


def test_gnmt_penalty_values():
    assert gnmt_penalty(1, 0.6) == pytest.approx(1.0)
    assert gnmt_penalty(7, 1.0) == pytest.approx(2.0)
    assert gnmt_penalty(10, 0.0) == 1.0


# --------------------------------------------------------------------------- sampling


def test_sampling_is_repeatable_with_a_seeded_generator():
    model = tiny_model()
    src = source_batch()
    first = sample(model, src, max_new_tokens=10, generator=torch.Generator().manual_seed(0))
    second = sample(model, src, max_new_tokens=10, generator=torch.Generator().manual_seed(0))
    other = sample(model, src, max_new_tokens=10, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first.tokens, second.tokens)
    assert not torch.equal(first.tokens, other.tokens)
    assert not ((first.tokens == PAD) | (first.tokens == START))[:, :1].any()


def test_sampling_with_top_1_or_a_tiny_temperature_is_greedy():
    model = tiny_model(sharpness=2.0)
    src = source_batch()
    greedy = greedy_decode(model, src, max_new_tokens=8)
    top1 = sample(model, src, top_k=1, max_new_tokens=8, generator=torch.Generator().manual_seed(0))
    cold = sample(model, src, temperature=1e-4, max_new_tokens=8, generator=torch.Generator())
    assert torch.equal(top1.tokens, greedy.tokens)
    assert torch.equal(cold.tokens, greedy.tokens)
    torch.testing.assert_close(top1.scores, greedy.scores, atol=1e-4, rtol=1e-5)


def test_next_token_distribution():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0], [0.0, 0.0, 3.0, 1.0]])
    probs = next_token_distribution(logits)
    torch.testing.assert_close(probs, logits.softmax(-1))
    top2 = next_token_distribution(logits, top_k=2)
    assert (top2 > 0).sum(-1).tolist() == [2, 2]
    torch.testing.assert_close(top2.sum(-1), torch.ones(2))
    hot, cold = next_token_distribution(logits, 10.0), next_token_distribution(logits, 0.1)
    assert hot.max() < probs.max() < cold.max()
    torch.testing.assert_close(next_token_distribution(logits, top_k=100), probs)


# --------------------------------------------------------------------------- teaching helper


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


# --------------------------------------------------------------------------- errors


@pytest.fixture(scope="module")
def model():
    return tiny_model()


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


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_beam_size_below_one_is_a_clear_error(model, bad):
    with pytest.raises(CourseLibError, match="beam_size"):
        beam_search(model, source_batch(), beam_size=bad)


def test_negative_length_penalty_is_a_clear_error(model):
    with pytest.raises(CourseLibError, match="length_penalty"):
        beam_search(model, source_batch(), length_penalty=-0.5)


@pytest.mark.parametrize("bad", [0, 0.0, -1.0])
def test_temperature_not_positive_is_a_clear_error(model, bad):
    with pytest.raises(CourseLibError, match="temperature must be > 0"):
        sample(model, source_batch(), temperature=bad)


@pytest.mark.parametrize("bad", [0, -2])
def test_top_k_below_one_is_a_clear_error(model, bad):
    with pytest.raises(CourseLibError, match="top_k must be an integer >= 1"):
        sample(model, source_batch(), top_k=bad)


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
