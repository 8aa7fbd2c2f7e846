"""Step 5: beam search, and the model's own score of any translation.

Greedy decoding (:mod:`course_lib.generate`) commits to the most probable word at every
step. Beam search keeps the ``beam_size`` most probable partial translations instead and
returns the one with the best length-normalised log-probability (GNMT's length penalty,
Wu et al. 2016). :func:`score_sequences` scores any given translation the same way, so a
strategy's output can be compared with a reference or with another strategy's output.
"""

from __future__ import annotations

from typing import Any

import torch

from course_lib.checks import check_int, check_number
from course_lib.errors import CourseLibError, ShapeError
from course_lib.generate import (
    GenerationResult,
    check_request,
    forbid,
    generated_lengths,
    inference_mode,
    model_device,
)
from course_lib.kv_cache import reorder_cache
from course_lib.masks import causal_mask, padding_mask
from course_lib.model import Transformer
from course_lib.tokenize import END, PAD, START


def gnmt_penalty(length: int | torch.Tensor, alpha: float) -> float | torch.Tensor:
    """GNMT's length penalty ``((5 + length) / 6) ** alpha`` (Wu et al. 2016, eq. 14).

    Beam search ranks finished hypotheses by ``log P(y) / gnmt_penalty(|y|, alpha)``;
    ``alpha = 0`` is the raw log-probability, larger values favour longer outputs.
    """
    return ((5 + length) / 6) ** alpha


def _check_beam_options(beam_size: Any, alpha: Any) -> None:
    check_int(beam_size, "beam_size", 1)
    check_number(alpha, "length_penalty", 0)


def beam_search(
    model: Transformer,
    src: torch.Tensor,
    *,
    beam_size: int = 4,
    max_new_tokens: int = 50,
    length_penalty: float = 0.6,
    start_id: int = START,
    end_id: int = END,
    pad_id: int = PAD,
) -> GenerationResult:
    """Beam search: keep the ``beam_size`` most probable partial translations per sentence.

    At each step every live hypothesis is extended by every token; the ``2 * beam_size``
    best extensions (by summed log-probability) are examined in order: an ``<end>`` among
    the first ``beam_size`` finishes a hypothesis, the best ``beam_size`` others stay
    alive. Finished hypotheses are ranked by ``score / ((5 + length) / 6) ** length_penalty``
    (GNMT). A sentence is done when no live hypothesis can still beat its best finished one
    (scores only fall as a hypothesis grows, so ``best_alive / penalty(max_new_tokens)``
    bounds them); stopping as soon as ``beam_size`` hypotheses have finished would be faster
    but can return a worse sentence. At ``max_new_tokens`` live hypotheses count as finished.
    The key/value cache is reordered after every step (:func:`reorder_cache`).

    Shapes: src ``(batch, src_len)`` -> ``tokens (batch, n)`` (best hypothesis per sentence,
    ``<pad>`` after its ``<end>``), ``scores``/``normalized_scores``/``lengths`` ``(batch,)``.
    ``beam_size=1`` gives exactly :func:`greedy_decode`'s tokens.
    """
    alpha = length_penalty
    check_request(model, src, max_new_tokens)
    _check_beam_options(beam_size, alpha)
    batch, k = src.size(0), beam_size
    finished: list[list[tuple[float, float, list[int]]]] = [[] for _ in range(batch)]
    done = [False] * batch
    with inference_mode(model):
        src = src.to(model_device(model))
        device = src.device
        src_mask = padding_mask(src, pad_id).repeat_interleave(k, dim=0)  # (batch*k, 1, 1, S)
        memory = model.encode(src, padding_mask(src, pad_id)).repeat_interleave(k, dim=0)
        cache = model.new_cache()
        tokens = torch.full((batch * k, 1), start_id, dtype=torch.long, device=device)
        beam_scores = torch.full((batch, k), float("-inf"), device=device)
        beam_scores[:, 0] = 0.0  # all beams start identical: expand only the first one
        bound_penalty = gnmt_penalty(max_new_tokens, alpha)
        for t in range(max_new_tokens):
            logits = model.decode(tokens[:, -1:], memory, src_mask, cache=cache, start=t)
            log_probs = forbid(logits[:, -1, :], pad_id, start_id).float().log_softmax(-1)
            vocab = log_probs.size(-1)
            candidates = (beam_scores[:, :, None] + log_probs.view(batch, k, vocab)).view(batch, -1)
            top_scores, top_ids = candidates.topk(min(2 * k, k * vocab), dim=1)
            top_scores, top_ids = top_scores.tolist(), top_ids.tolist()
            new_scores = torch.full((batch, k), float("-inf"))
            new_origin = torch.arange(k).repeat(batch, 1)  # (batch, k) beam each comes from
            new_tokens = torch.full((batch, k), pad_id, dtype=torch.long)
            history = tokens[:, 1:].tolist()
            for b in range(batch):
                if done[b]:
                    continue
                alive = 0
                for rank, (score, flat) in enumerate(zip(top_scores[b], top_ids[b])):
                    if score == float("-inf") or alive == k:
                        break
                    origin, token = divmod(flat, vocab)
                    if token == end_id:
                        if rank < k:
                            hypothesis = history[b * k + origin] + [end_id]
                            normalized = score / gnmt_penalty(t + 1, alpha)
                            finished[b].append((normalized, score, hypothesis))
                        continue
                    new_scores[b, alive], new_origin[b, alive] = score, origin
                    new_tokens[b, alive] = token
                    alive += 1
                if t == max_new_tokens - 1:  # out of room: live hypotheses count as finished
                    for i in range(alive):
                        hypothesis = history[b * k + int(new_origin[b, i])] + [
                            int(new_tokens[b, i])
                        ]
                        score = float(new_scores[b, i])
                        finished[b].append((score / gnmt_penalty(t + 1, alpha), score, hypothesis))
                best = max((h[0] for h in finished[b]), default=float("-inf"))
                best_alive = float(new_scores[b].max())
                # Log-probabilities only decrease, so no live hypothesis can end above
                # best_alive / penalty(max_new_tokens) (alpha >= 0, scores <= 0).
                if alive == 0 or best >= best_alive / bound_penalty:
                    done[b] = True
                    new_scores[b] = float("-inf")
            if all(done):
                break
            flat_origin = (torch.arange(batch)[:, None] * k + new_origin).view(-1).to(device)
            reorder_cache(cache, flat_origin)
            tokens = torch.cat([tokens[flat_origin], new_tokens.view(-1, 1).to(device)], dim=1)
            beam_scores = new_scores.to(device)
    return _best_hypotheses(finished, pad_id, device)


def _best_hypotheses(
    finished: list[list[tuple[float, float, list[int]]]], pad_id: int, device: torch.device
) -> GenerationResult:
    """The best finished hypothesis per sentence, padded into one :class:`GenerationResult`."""
    best = [max(hypotheses, key=lambda h: h[0]) for hypotheses in finished]
    width = max(len(h[2]) for h in best)
    tokens = torch.full((len(best), width), pad_id, dtype=torch.long)
    for i, (_, _, ids) in enumerate(best):
        tokens[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return GenerationResult(
        tokens=tokens.to(device),
        scores=torch.tensor([h[1] for h in best], device=device),
        lengths=torch.tensor([len(h[2]) for h in best], dtype=torch.long, device=device),
        normalized_scores=torch.tensor([h[0] for h in best], device=device),
    )


def score_sequences(
    model: Transformer,
    src: torch.Tensor,
    tokens: torch.Tensor,
    *,
    length_penalty: float = 0.6,
    start_id: int = START,
    end_id: int = END,
    pad_id: int = PAD,
) -> GenerationResult:
    """The model's own score of given translations, as the decoding strategies compute it.

    One teacher-forced pass: the decoder reads ``<start>`` + ``tokens`` and the
    log-probability of each token is summed up to and including the first ``<end>``
    (``<pad>`` after it counts 0), with ``<pad>`` and ``<start>`` forbidden exactly as in
    generation. So the score of greedy decoding's or beam search's own output equals the
    score it reported, and any other sentence (a reference, the other strategy's output)
    can be compared with it: a higher score means the *model* prefers that sentence.

    Shapes: src ``(batch, src_len)``, tokens ``(batch, n)`` ids after ``<start>`` ->
    a :class:`GenerationResult` with ``scores``, ``lengths`` and ``normalized_scores``
    (``scores / gnmt_penalty(lengths, length_penalty)``), each ``(batch,)``.
    """
    check_request(model, src, 1)
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2:
        shape = tuple(tokens.shape) if isinstance(tokens, torch.Tensor) else type(tokens).__name__
        raise ShapeError(f"tokens must have shape (batch, n), got {shape}")
    if tokens.size(0) != src.size(0):
        raise ShapeError(
            f"tokens has batch size {tokens.size(0)} but src has {src.size(0)}: "
            "give one translation per source sentence"
        )
    if tokens.size(1) == 0:
        raise ShapeError("tokens is empty: nothing to score (a translation has at least <end>)")
    if tokens.size(1) > model.config.max_len:
        raise CourseLibError(
            f"tokens has {tokens.size(1)} positions, more than the model's max_len="
            f"{model.config.max_len}"
        )
    _check_beam_options(1, length_penalty)
    with inference_mode(model):
        device = model_device(model)
        src, tokens = src.to(device), tokens.to(device).long()
        src_mask = padding_mask(src, pad_id)
        memory = model.encode(src, src_mask)
        decoder_input = torch.cat(
            [torch.full_like(tokens[:, :1], start_id), tokens[:, :-1]], dim=1
        )  # (batch, n): <start> + all but the last token
        n = tokens.size(1)
        logits = model.decode(
            decoder_input, memory, src_mask, tgt_mask=causal_mask(n, device)
        )  # the causal mask only, as in generation
        log_probs = forbid(logits, pad_id, start_id).float().log_softmax(dim=-1)
        chosen = log_probs.gather(2, tokens[:, :, None]).squeeze(2)  # (batch, n)
        lengths = generated_lengths(tokens, end_id)
        counted = torch.arange(n, device=device)[None, :] < lengths[:, None]
        scores = chosen.masked_fill(~counted, 0.0).sum(dim=1)
    return GenerationResult(
        tokens=tokens,
        scores=scores,
        lengths=lengths,
        normalized_scores=scores / gnmt_penalty(lengths, length_penalty),
    )


__all__ = ["beam_search", "gnmt_penalty", "score_sequences"]
