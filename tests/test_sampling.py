"""Sampling with a temperature and top-k (course_lib.sampling)."""

from __future__ import annotations

import pytest
import torch
from generation_helpers import one_thread, source_batch, tiny_model  # noqa: F401 (autouse fixture)

from course_lib.errors import CourseLibError
from course_lib.generate import (
    greedy_decode,
)
from course_lib.sampling import next_token_distribution, sample
from course_lib.tokenize import PAD, START


@pytest.fixture(scope="module")
def model():
    return tiny_model()


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


@pytest.mark.parametrize("bad", [0, 0.0, -1.0])
def test_temperature_not_positive_is_a_clear_error(model, bad):
    with pytest.raises(CourseLibError, match="temperature must be > 0"):
        sample(model, source_batch(), temperature=bad)


@pytest.mark.parametrize("bad", [0, -2])
def test_top_k_below_one_is_a_clear_error(model, bad):
    with pytest.raises(CourseLibError, match="top_k must be an integer >= 1"):
        sample(model, source_batch(), top_k=bad)
