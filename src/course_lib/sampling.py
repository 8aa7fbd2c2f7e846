"""Step 5: sampling - draw the next word at random instead of taking the most probable one.

The temperature sharpens (below 1) or flattens (above 1) the model's distribution, and
``top_k`` keeps only the k most probable words. The loop is greedy decoding's
(:func:`course_lib.generate.decode_loop`); only the choice of the next token differs.
"""

from __future__ import annotations

import torch

from course_lib.checks import check_int, check_number
from course_lib.errors import ShapeError
from course_lib.generate import (
    GenerationResult,
    ModelStep,
    check_request,
    decode_loop,
    generated_lengths,
    inference_mode,
    model_device,
)
from course_lib.model import Transformer
from course_lib.tokenize import END, PAD, START


def next_token_distribution(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None
) -> torch.Tensor:
    """Sampling probabilities from logits: ``softmax(logits / temperature)`` over the top k.

    Shapes: ``(batch, vocab)`` -> ``(batch, vocab)``, rows summing to 1. A temperature
    below 1 sharpens the distribution (towards greedy), above 1 flattens it; ``top_k``
    keeps only the k highest-scoring tokens (ties at the k-th score are all kept).
    """
    check_number(temperature, "temperature", 0, low_inclusive=False)
    if top_k is not None:
        check_int(top_k, "top_k", 1)
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ShapeError(f"logits must have shape (batch, vocab), got {shape}")
    scaled = logits.float() / temperature
    if top_k is not None and top_k < scaled.size(-1):
        kth_best = scaled.topk(top_k, dim=-1).values[:, -1:]  # (batch, 1)
        scaled = scaled.masked_fill(scaled < kth_best, float("-inf"))
    return scaled.softmax(dim=-1)


def sample(
    model: Transformer,
    src: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    max_new_tokens: int = 50,
    generator: torch.Generator | None = None,
    start_id: int = START,
    end_id: int = END,
    pad_id: int = PAD,
) -> GenerationResult:
    """Random sampling: draw each next token from :func:`next_token_distribution`.

    Shapes as :func:`greedy_decode`. Pass a seeded ``torch.Generator`` for repeatable
    samples. ``scores`` are the *model's* log-probabilities of the drawn tokens (before
    temperature and top-k), so they compare directly with greedy and beam scores.
    """
    check_request(model, src, max_new_tokens)
    next_token_distribution(torch.zeros(1, 1), temperature, top_k)  # validates the options

    def choose(log_probs: torch.Tensor) -> torch.Tensor:
        probs = next_token_distribution(log_probs, temperature, top_k)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    with inference_mode(model):
        src = src.to(model_device(model))
        step = ModelStep(model, src, use_cache=True, pad_id=pad_id, start_id=start_id)
        tokens, scores = decode_loop(
            step,
            src.size(0),
            max_new_tokens=max_new_tokens,
            start_id=start_id,
            end_id=end_id,
            pad_id=pad_id,
            choose=choose,
            device=src.device,
        )
    return GenerationResult(tokens, scores, generated_lengths(tokens, end_id))


__all__ = ["next_token_distribution", "sample"]
