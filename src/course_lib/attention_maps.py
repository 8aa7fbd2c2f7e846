"""Step 7: looking inside - which words each word attended to, for every layer and head.

:func:`attention_maps` translates a sentence and returns all three kinds of attention
(encoder self-attention, decoder masked self-attention, cross-attention) as an
:class:`AttentionMaps`; :func:`cross_attention` returns the cross-attention alone as an
:class:`Alignment`. :func:`hard_alignment` turns cross-attention into a word alignment.
The pictures of these are drawn by :mod:`course_lib.viz`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from course_lib.checks import check_int, check_tokenizer
from course_lib.errors import CourseLibError
from course_lib.generate import model_device
from course_lib.model import Transformer
from course_lib.tokenize import END, SPECIAL_TOKENS, START
from course_lib.translate import check_model, encode_sources, generate_ids, strip_special


@dataclass(frozen=True)
class Alignment:
    """Cross-attention of one translation.

    ``weights[layer, head, i, j]`` is how much the decoder, when it produced target token
    ``i`` (``target_tokens[i]``, the last one being ``<end>``), attended to source token
    ``j`` (``source_tokens[j]``). Shape ``(layers, heads, tgt_len, src_len)``; each row
    sums to 1.
    """

    source: str
    translation: str
    source_tokens: list[str]
    target_tokens: list[str]
    weights: torch.Tensor

    def average(self, layer: int | None = None) -> torch.Tensor:
        """``(tgt_len, src_len)``: the mean over heads of ``layer``, or over all layers and heads."""
        if layer is None:
            return self.weights.mean(dim=(0, 1))
        if not -self.weights.size(0) <= layer < self.weights.size(0):
            raise CourseLibError(f"layer must be in 0..{self.weights.size(0) - 1}, got {layer}")
        return self.weights[layer].mean(dim=0)

    def strongest_source(self) -> list[tuple[str, str]]:
        """For each target token, the source token it attended to most (:func:`hard_alignment`)."""
        best = hard_alignment(self.weights).tolist()
        return [(self.target_tokens[i], self.source_tokens[j]) for i, j in enumerate(best)]


def hard_alignment(weights: torch.Tensor) -> torch.Tensor:
    """Average cross-attention over layers and heads, then pick each row's strongest key.

    Shapes: weights ``(layers, heads, tgt_len, src_len)`` -> ``(tgt_len,)`` int64: for each
    generated token, the index of the source token it attended to most on average.
    """
    if not isinstance(weights, torch.Tensor) or not weights.is_floating_point():
        raise CourseLibError(
            "weights must be a floating-point tensor of shape (layers, heads, tgt_len, src_len)"
        )
    if weights.dim() != 4:
        raise CourseLibError(
            f"weights must have shape (layers, heads, tgt_len, src_len), got {tuple(weights.shape)}"
        )
    if weights.numel() == 0:
        raise CourseLibError(f"weights is empty: shape {tuple(weights.shape)}")
    return weights.mean(dim=(0, 1)).argmax(dim=-1)


def token_strings(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """One readable string per id: the word (or sub-word piece), ``<unk>`` for unknown words.

    Works with :class:`~course_lib.tokenize.WordTokenizer` (its vocabulary) and
    :class:`~course_lib.tokenize.BPETokenizer` (its pieces); other tokenizers decode each
    id alone.
    """
    vocab = getattr(tokenizer, "vocab", None)
    if hasattr(vocab, "itos"):
        return [str(vocab.itos[int(i)]) for i in ids]
    inner = getattr(tokenizer, "tokenizer", None)
    if hasattr(inner, "id_to_token"):
        return [str(inner.id_to_token(int(i))) for i in ids]
    return [tokenizer.decode([int(i)]) or f"<{int(i)}>" for i in ids]


@dataclass(frozen=True)
class AttentionMaps:
    """All three kinds of attention of one translation, every layer and head.

    * ``encoder_self[layer, head, i, j]``: how much English token ``i`` attended to English
      token ``j`` in the encoder, shape ``(encoder layers, heads, src_len, src_len)``;
    * ``decoder_self[layer, head, i, j]``: masked self-attention of the decoder. Row ``i``
      is the step that chose ``target_tokens[i]``; column ``j`` is the French token
      ``decoder_tokens[j]`` it could read (``<start>`` and the words written before).
      Shape ``(decoder layers, heads, tgt_len, tgt_len)``; the causal mask makes every
      entry with ``j > i`` exactly 0;
    * ``cross[layer, head, i, j]``: how much the step that chose ``target_tokens[i]``
      attended to English token ``j``, shape ``(decoder layers, heads, tgt_len, src_len)``.

    Every row sums to 1. ``target_tokens`` are the generated tokens (the last one ``<end>``
    when the translation ended); ``decoder_tokens`` are the decoder's inputs:
    ``<start>`` followed by all generated tokens but the last.
    """

    source: str
    translation: str
    source_tokens: list[str]
    target_tokens: list[str]
    decoder_tokens: list[str]
    encoder_self: torch.Tensor
    decoder_self: torch.Tensor
    cross: torch.Tensor

    KINDS = ("encoder_self", "decoder_self", "cross")

    def weights(self, kind: str) -> torch.Tensor:
        """The ``(layers, heads, queries, keys)`` weights of one kind (see :attr:`KINDS`)."""
        if kind not in self.KINDS:
            raise CourseLibError(f"kind must be one of {', '.join(self.KINDS)}; got {kind!r}")
        return getattr(self, kind)

    def labels(self, kind: str) -> tuple[list[str], list[str]]:
        """``(row labels, column labels)``: the query and key tokens of one kind."""
        self.weights(kind)
        if kind == "encoder_self":
            return self.source_tokens, self.source_tokens
        if kind == "decoder_self":
            return self.target_tokens, self.decoder_tokens
        return self.target_tokens, self.source_tokens

    def alignment(self) -> Alignment:
        """The cross-attention part as an :class:`Alignment`."""
        return Alignment(
            source=self.source,
            translation=self.translation,
            source_tokens=self.source_tokens,
            target_tokens=self.target_tokens,
            weights=self.cross,
        )


@torch.inference_mode()
def attention_maps(
    model: Transformer,
    sentence: str,
    src_tokenizer: Any,
    tgt_tokenizer: Any,
    *,
    beam_size: int = 1,
    translation_ids: Sequence[int] | None = None,
) -> AttentionMaps:
    """Translate ``sentence`` and return its encoder self-, decoder self- and cross-attention.

    The translation is generated (greedy or beam), then the model runs once more with
    teacher forcing on ``<start> + translation`` (:meth:`Transformer.attention
    <course_lib.model.Transformer.attention>`, every layer's weights). The decoder is
    causal, so row ``i`` of the decoder's weights is exactly what the generation step that
    produced token ``i`` used. Pass
    ``translation_ids`` (French ids, ``<end>`` optional) to inspect a given translation
    instead, for example the reference.

    Returns an :class:`AttentionMaps` (weights on the CPU, float32).
    """
    check_model(model)
    if not isinstance(sentence, str):
        raise CourseLibError(f"sentence must be a string, got {type(sentence).__name__}")
    if not sentence.strip():
        raise CourseLibError("sentence is empty: there is nothing to align")
    check_tokenizer(src_tokenizer, "src_tokenizer")
    check_tokenizer(tgt_tokenizer, "tgt_tokenizer")
    check_int(beam_size, "beam_size", minimum=1)
    max_len = model.config.max_len
    (src_ids,) = encode_sources([sentence], src_tokenizer, max_len)
    if translation_ids is None:
        (generated,) = generate_ids(model, [src_ids], beam_size=beam_size)
    else:
        if isinstance(translation_ids, torch.Tensor):
            translation_ids = translation_ids.tolist()
        if isinstance(translation_ids, str) or not isinstance(translation_ids, Sequence):
            raise CourseLibError("translation_ids must be a list of French token ids")
        generated = [int(i) for i in translation_ids]
    out_ids = strip_special(generated)
    ended = END in generated or translation_ids is not None
    decoder_input = [START, *out_ids] if ended else [START, *out_ids[:-1]]
    if len(decoder_input) > max_len:
        raise CourseLibError(
            f"the translation has {len(out_ids)} tokens; with <start> that is more than the "
            f"model's max_len={max_len}"
        )
    was_training = model.training
    model.eval()
    try:
        device = model_device(model)
        src = torch.tensor([src_ids], dtype=torch.long, device=device)
        tgt = torch.tensor([decoder_input], dtype=torch.long, device=device)
        weights = model.attention(src, tgt)  # one teacher-forced pass, every layer's weights
    finally:
        model.train(was_training)

    def stack(per_layer: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack([w[0] for w in per_layer]).float().cpu()  # (L, H, queries, keys)

    target_tokens = token_strings(tgt_tokenizer, out_ids) + ([SPECIAL_TOKENS[END]] if ended else [])
    return AttentionMaps(
        source=sentence,
        translation=tgt_tokenizer.decode(out_ids),
        source_tokens=token_strings(src_tokenizer, src_ids),
        target_tokens=target_tokens,
        decoder_tokens=[SPECIAL_TOKENS[START], *token_strings(tgt_tokenizer, decoder_input[1:])],
        encoder_self=stack(weights.encoder),
        decoder_self=stack(weights.decoder_self),
        cross=stack(weights.cross),
    )


def cross_attention(
    model: Transformer,
    sentence: str,
    src_tokenizer: Any,
    tgt_tokenizer: Any,
    *,
    beam_size: int = 1,
    translation_ids: Sequence[int] | None = None,
) -> Alignment:
    """Translate ``sentence`` and return its cross-attention weights for every layer and head.

    The translation is generated (greedy or beam), then decoded once more with teacher
    forcing on ``<start> + translation``, keeping the weights: the decoder is causal, so row ``i`` holds exactly the weights the generation step that produced
    token ``i`` used. Pass ``translation_ids`` (French ids, ``<end>`` optional) to inspect
    a given translation instead, for example the reference.

    Returns an :class:`Alignment` with weights ``(layers, heads, tgt_len, src_len)``; the
    last row is the step that produced ``<end>`` (when the translation ended).
    :func:`attention_maps` returns the encoder's and the decoder's self-attention too.
    """
    return attention_maps(
        model,
        sentence,
        src_tokenizer,
        tgt_tokenizer,
        beam_size=beam_size,
        translation_ids=translation_ids,
    ).alignment()


__all__ = [
    "Alignment",
    "AttentionMaps",
    "attention_maps",
    "cross_attention",
    "hard_alignment",
    "token_strings",
]
