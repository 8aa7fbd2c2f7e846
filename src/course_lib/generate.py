"""Step 5: output generation - the decoder writes the translation one word at a time.

    <start> --decoder--> "J'" --decoder--> "aime" --decoder--> ... --> <end>

At every step the decoder reads the source (through the encoder's memory) and the words it
has written so far, and scores every word of the French vocabulary as the next one. How a
word is *chosen* from those scores is the decoding strategy:

* :func:`greedy_decode` takes the most probable word each time, with or without a
  key/value cache (with the cache each step projects only the new position, instead of
  the whole prefix; its attention still reads all ``t`` cached keys and values);
* :func:`course_lib.beam.beam_search` keeps the ``beam_size`` best partial sentences and
  returns the one with the best length-normalised log-probability (GNMT's length penalty,
  Wu et al. 2016);
* :func:`course_lib.sampling.sample` draws the next word at random, sharpened or flattened
  by a temperature and optionally restricted to the ``top_k`` most probable words.

Every strategy runs the model in eval mode (dropout off) under ``torch.no_grad()`` and puts
the model's training flag back afterwards, so generating in the middle of training is safe.
Generation never produces ``<pad>`` or ``<start>``: their scores are set to ``-inf``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from course_lib.attention import AttentionWeights
from course_lib.checks import check_int, check_token_ids
from course_lib.errors import CourseLibError, ShapeError
from course_lib.masks import causal_mask, padding_mask
from course_lib.model import Transformer
from course_lib.tokenize import END, PAD, START

StepFn = Callable[[torch.Tensor], torch.Tensor]
ChooseFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class GenerationResult:
    """What a decoding strategy returns.

    Attributes:
        tokens: ``(batch, n)`` int64, the generated ids *after* ``<start>``, including
            ``<end>`` when it was produced and ``<pad>`` after a sentence has ended.
        scores: ``(batch,)`` sum of the model's log-probabilities of the generated tokens
            (``<pad>`` after the end counts 0).
        lengths: ``(batch,)`` number of generated tokens per sentence (``<end>`` included).
        normalized_scores: ``(batch,)`` ``scores / gnmt_penalty(lengths, alpha)`` (beam search
            only).
        cross_attention: with ``need_weights``, one tensor per decoder layer of shape
            ``(batch, heads, n, src_len)``: row ``i`` is where the decoder looked in the
            source while choosing token ``i``.
    """

    tokens: torch.Tensor
    scores: torch.Tensor
    lengths: torch.Tensor
    normalized_scores: torch.Tensor | None = None
    cross_attention: list[torch.Tensor] | None = None


# --------------------------------------------------------------------------- checks


def check_request(model: Any, src: Any, max_new_tokens: Any) -> None:
    """The checks every strategy shares: a Transformer, a non-empty id batch, a sane length."""
    if not isinstance(model, Transformer):
        raise CourseLibError(
            f"model must be a course_lib.model.Transformer, got {type(model).__name__}"
        )
    check_token_ids(src, "src")
    check_int(max_new_tokens, "max_new_tokens", 1)
    if max_new_tokens > model.config.max_len:
        raise CourseLibError(
            f"max_new_tokens={max_new_tokens} is more than the model's max_len="
            f"{model.config.max_len} positions"
        )


@contextmanager
def inference_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` in eval mode without gradients, then restore its training flag."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's parameters."""
    return next(model.parameters()).device


# --------------------------------------------------------------------------- the loop


def greedy_choice(log_probs: torch.Tensor) -> torch.Tensor:
    """The most probable token per row: ``(batch, vocab)`` -> ``(batch,)``."""
    return log_probs.argmax(dim=-1)


def decode_loop(
    step: StepFn,
    batch_size: int,
    *,
    max_new_tokens: int = 50,
    start_id: int = START,
    end_id: int = END,
    pad_id: int = PAD,
    choose: ChooseFn = greedy_choice,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The autoregressive loop: every new token is appended and fed back in.

    Args:
        step: ``tokens (batch, t)`` -> next-token logits ``(batch, vocab)``; ``tokens``
            starts with ``<start>`` and holds everything generated so far.
        batch_size: number of sentences.
        max_new_tokens: stop after this many new tokens at the latest.
        choose: log-probabilities ``(batch, vocab)`` -> chosen ids ``(batch,)``
            (:func:`greedy_choice`, or a sampler).

    Returns:
        ``(tokens, scores)``: ``(batch, n)`` ids after ``<start>`` (``<pad>`` after a
        sentence's ``<end>``; ``n < max_new_tokens`` when every sentence ended early) and
        ``(batch,)`` summed log-probabilities of the chosen tokens.
    """
    if not callable(step):
        raise CourseLibError(f"step must be a function tokens -> logits, got {type(step).__name__}")
    check_int(batch_size, "batch_size", 1)
    check_int(max_new_tokens, "max_new_tokens", 1)
    tokens = torch.full((batch_size, 1), start_id, dtype=torch.long, device=device)
    scores = torch.zeros(batch_size, device=device)
    finished = torch.zeros(batch_size, dtype=torch.bool, device=device)
    for _ in range(max_new_tokens):
        log_probs = step(tokens).float().log_softmax(dim=-1)  # (batch, vocab)
        next_token = choose(log_probs)  # (batch,)
        chosen = log_probs.gather(1, next_token[:, None]).squeeze(1)
        next_token = next_token.masked_fill(finished, pad_id)  # ended sentences get <pad>
        scores = scores + chosen.masked_fill(finished, 0.0)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        finished = finished | (next_token == end_id)
        # The one value read back per step: stop when every sentence has ended.
        if finished.all():
            break
    return tokens[:, 1:], scores


def generated_lengths(tokens: torch.Tensor, end_id: int) -> torch.Tensor:
    """Generated length per row, ``<end>`` included: ``(batch, n)`` -> ``(batch,)``."""
    is_end = tokens == end_id
    first_end = torch.where(is_end.any(dim=1), is_end.int().argmax(dim=1) + 1, tokens.size(1))
    return first_end.long()


def forbid(logits: torch.Tensor, *ids: int) -> torch.Tensor:
    """Set the logits of special tokens that must never be generated to ``-inf``."""
    logits = logits.clone()
    logits[..., list(ids)] = float("-inf")
    return logits


class ModelStep:
    """Turns a Transformer into the ``step`` function of :func:`decode_loop`.

    The source ``(batch, src_len)`` is encoded once. Each call gets ``tokens (batch, t)``
    (``<start>`` and the words so far) and returns the logits ``(batch, vocab)`` of the word
    that follows ``tokens[:, -1]``, with ``<pad>`` and ``<start>`` set to ``-inf``:

    * ``use_cache=False`` runs the decoder over the whole prefix ``tokens`` again
      (``t`` positions per step: ``O(n^2)`` projections and feed-forward passes and
      ``O(n^3)`` attention scores over a sentence of ``n`` tokens), with the causal mask
      only, exactly as the cached path sees it;
    * ``use_cache=True`` feeds only ``tokens[:, -1:]`` at position ``t - 1``; every
      self-attention layer appends that position's key and value to its cache, and the
      cross-attention keys/values are computed from the memory at the first step only.
      A step then projects one position (constant work) but its query still attends to
      all ``t`` cached keys (``O(t)``): ``O(n)`` projections and ``O(n^2)`` attention
      scores over the sentence.

    With ``need_weights``, :attr:`cross_attention` collects each step's
    cross-attention weights, one ``(batch, heads, 1, src_len)`` tensor per layer.
    """

    def __init__(
        self,
        model: Transformer,
        src: torch.Tensor,
        *,
        use_cache: bool = True,
        pad_id: int = PAD,
        start_id: int = START,
        need_weights: bool = False,
    ):
        self.model = model
        self.src_mask = padding_mask(src, pad_id)  # (batch, 1, 1, src_len)
        self.memory = model.encode(src, self.src_mask)  # (batch, src_len, d_model)
        self.cache = model.new_cache() if use_cache else None
        self.forbidden = (pad_id, start_id)
        self.need_weights = need_weights
        self.cross_attention: list[list[torch.Tensor]] = []  # per step, per layer

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        t = tokens.size(1)
        weights = AttentionWeights() if self.need_weights else None
        if self.cache is not None:
            logits = self.model.decode(
                tokens[:, -1:],
                self.memory,
                self.src_mask,
                cache=self.cache,
                start=t - 1,
                weights=weights,
            )
        else:
            logits = self.model.decode(
                tokens,
                self.memory,
                self.src_mask,
                tgt_mask=causal_mask(t, tokens.device),
                weights=weights,
            )
        if weights is not None:
            self.cross_attention.append([w[:, :, -1:, :] for w in weights.cross])
        return forbid(logits[:, -1, :], *self.forbidden)

    def stacked_cross_attention(self) -> list[torch.Tensor]:
        """Per layer ``(batch, heads, steps, src_len)``."""
        return [torch.cat(layer, dim=2) for layer in zip(*self.cross_attention)]


# --------------------------------------------------------------------------- greedy


def greedy_decode(
    model: Transformer,
    src: torch.Tensor,
    *,
    max_new_tokens: int = 50,
    use_cache: bool = True,
    start_id: int = START,
    end_id: int = END,
    pad_id: int = PAD,
    need_weights: bool = False,
) -> GenerationResult:
    """Greedy decoding: at every step take the single most probable next token.

    Args:
        model: a :class:`~course_lib.model.Transformer` (run in eval mode, no gradients).
        src: source ids ``(batch, src_len)``, padded with ``pad_id``.
        max_new_tokens: most tokens to generate per sentence (>= 1, <= ``max_len``).
        use_cache: keep keys/values between steps (fast) or recompute the prefix (slow);
            both give the same tokens.
        need_weights: also return the cross-attention weights of every step
            (``GenerationResult.cross_attention``).

    Returns:
        a :class:`GenerationResult`; ``tokens`` is ``(batch, n)`` with ``n <= max_new_tokens``.
        Each sentence stops at its own ``<end>``; the loop stops when all have ended.
    """
    check_request(model, src, max_new_tokens)
    with inference_mode(model):
        src = src.to(model_device(model))
        step = ModelStep(
            model,
            src,
            use_cache=use_cache,
            pad_id=pad_id,
            start_id=start_id,
            need_weights=need_weights,
        )
        tokens, scores = decode_loop(
            step,
            src.size(0),
            max_new_tokens=max_new_tokens,
            start_id=start_id,
            end_id=end_id,
            pad_id=pad_id,
            device=src.device,
        )
        attention = step.stacked_cross_attention() if need_weights else None
    return GenerationResult(tokens, scores, generated_lengths(tokens, end_id), None, attention)


# --------------------------------------------------------------------------- for teaching


def _token_text(tokenizer: Any, token: int) -> str:
    """The text of one token id: a word tokenizer's vocabulary entry, a BPE piece, or
    whatever a function ``id -> str`` or a list of tokens gives."""
    special = {PAD: "<pad>", START: "<start>", END: "<end>"}
    if token in special:
        return special[token]
    vocab = getattr(tokenizer, "vocab", None)
    if hasattr(vocab, "itos"):  # WordTokenizer
        return str(vocab.itos[token])
    inner = getattr(tokenizer, "tokenizer", None)
    if hasattr(inner, "id_to_token"):  # BPETokenizer (Hugging Face tokenizers inside)
        return str(inner.id_to_token(token))
    if callable(tokenizer):
        return str(tokenizer(token))
    if hasattr(tokenizer, "decode"):
        return str(tokenizer.decode([token]))
    return str(tokenizer[token])


def greedy_steps(
    model: Transformer,
    src: torch.Tensor,
    tgt_tokenizer: Any,
    *,
    top: int = 3,
    max_new_tokens: int = 50,
) -> list[dict[str, Any]]:
    """Greedy decoding of one sentence, step by step, for reading or display.

    Args:
        model: the Transformer.
        src: one source sentence ``(src_len,)`` or ``(1, src_len)``.
        tgt_tokenizer: turns an id into text: a tokenizer with ``decode(ids)``, a function
            ``id -> str`` or a list of tokens indexed by id.
        top: how many candidates to list per step.

    Returns:
        one dict per step: ``step`` (1, 2, ...), ``prefix`` (the tokens fed to the decoder,
        starting with ``"<start>"``), ``candidates`` (``top`` pairs ``(token, probability)``,
        most probable first), ``chosen`` and ``probability`` (the greedy pick). The rows are
        those of :func:`greedy_decode`: the picks are its tokens.
    """
    if isinstance(src, torch.Tensor) and src.dim() == 1:
        src = src[None, :]
    if isinstance(src, torch.Tensor) and src.dim() == 2 and src.size(0) != 1:
        raise ShapeError(f"greedy_steps decodes one sentence, got a batch of {src.size(0)}")
    check_request(model, src, max_new_tokens)
    check_int(top, "top", 1)
    rows: list[dict[str, Any]] = []

    with inference_mode(model):
        src = src.to(model_device(model))
        model_step = ModelStep(model, src, use_cache=True)

        def step(tokens: torch.Tensor) -> torch.Tensor:
            logits = model_step(tokens)
            probs = logits.float().softmax(dim=-1)[0]
            values, ids = probs.topk(min(top, probs.numel()))
            rows.append(
                {
                    "step": tokens.size(1),
                    "prefix": [_token_text(tgt_tokenizer, int(i)) for i in tokens[0]],
                    "candidates": [
                        (_token_text(tgt_tokenizer, int(i)), float(p)) for p, i in zip(values, ids)
                    ],
                    "chosen": _token_text(tgt_tokenizer, int(ids[0])),
                    "probability": float(values[0]),
                }
            )
            return logits

        decode_loop(step, 1, max_new_tokens=max_new_tokens, device=src.device)
    return rows


__all__ = [
    "GenerationResult",
    "ModelStep",
    "check_request",
    "decode_loop",
    "forbid",
    "generated_lengths",
    "greedy_choice",
    "greedy_decode",
    "greedy_steps",
    "inference_mode",
    "model_device",
]
