"""Step 4: the full encoder-decoder Transformer.

    source ids --embed + positions--> Encoder --memory--+
                                                       v
    target ids --embed + positions--> Decoder (masked self-attn, cross-attn, FFN)
                                         --> linear --> logits over the French vocabulary

``encode`` and ``decode`` are separate so that generation (step 5) can encode once and
decode one word at a time; ``attention`` returns every attention weight for the pictures.

Inputs are checked here, once per call (the layers inside trust them): shapes and dtypes
always, token-id ranges once per ``forward``/``encode`` (and per ``decode`` without a cache)
in eager mode only, so that ``torch.compile`` sees no graph break and decoding step by step
reads no value back.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.attention import AttentionWeights
from course_lib.checks import check_ids_in_vocab, check_token_ids
from course_lib.config import TransformerConfig
from course_lib.decoder import Decoder
from course_lib.embedding import PositionalEncoding, TokenEmbedding
from course_lib.encoder import Encoder
from course_lib.errors import CourseLibError, ShapeError
from course_lib.kv_cache import LayerCache, new_cache
from course_lib.masks import causal_mask, combine_masks, padding_mask


class Transformer(nn.Module):
    """The encoder-decoder Transformer of Vaswani et al. (2017).

    Shapes: src ``(batch, src_len)`` and tgt ``(batch, tgt_len)`` int64 token ids ->
    logits ``(batch, tgt_len, tgt_vocab_size)``.

    Parts: ``src_embed``/``tgt_embed`` (:class:`TokenEmbedding`; one shared module when
    ``config.share_embeddings``), ``positions``, ``encoder``, ``decoder`` and
    ``generator`` (the output linear layer, its weight tied to the target embedding when
    ``config.tie_embeddings``).
    """

    def __init__(self, config: TransformerConfig):
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise CourseLibError(
                f"Transformer needs a TransformerConfig, got {type(config).__name__}"
            )
        self.config = config
        self.src_embed = TokenEmbedding(config.src_vocab_size, config.d_model, config.pad_id)
        if config.share_embeddings:  # one vocabulary, one matrix (the paper, section 3.4)
            self.tgt_embed = self.src_embed
        else:
            self.tgt_embed = TokenEmbedding(config.tgt_vocab_size, config.d_model, config.pad_id)
        self.positions = PositionalEncoding(config.d_model, config.max_len, config.dropout)
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.generator = nn.Linear(config.d_model, config.tgt_vocab_size)
        self._reset_parameters()
        if config.tie_embeddings:
            self.generator.weight = self.tgt_embed.embedding.weight

    def _reset_parameters(self) -> None:
        """Xavier-uniform for every matrix (as ``nn.Transformer``); padding rows stay zero.

        An attention's ``in_proj`` stacks W^Q, W^K and W^V: each is initialised as its own
        ``d_model x d_model`` matrix.
        """
        for name, p in self.named_parameters():
            if p.dim() > 1:
                stacked = name.endswith("in_proj.weight")
                for matrix in p.split(self.config.d_model) if stacked else (p,):
                    nn.init.xavier_uniform_(matrix)
        with torch.no_grad():
            self.src_embed.embedding.weight[self.config.pad_id].zero_()
            self.tgt_embed.embedding.weight[self.config.pad_id].zero_()

    def _check_ids(
        self, ids: torch.Tensor, name: str, vocab_size: int, start: int = 0, values: bool = True
    ) -> None:
        """Shapes, dtype and length of a batch of token ids; with ``values``, also their range
        (read back once per call, in eager mode only: see :func:`check_ids_in_vocab`)."""
        check_token_ids(ids, name)
        if start + ids.size(1) > self.config.max_len:
            raise CourseLibError(
                f"{name} has {start + ids.size(1)} positions, more than the model's maximum "
                f"length max_len={self.config.max_len}"
            )
        if values:
            check_ids_in_vocab(ids, vocab_size, name)

    def encode(
        self,
        src: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        weights: AttentionWeights | None = None,
    ) -> torch.Tensor:
        """Source ids ``(batch, src_len)`` -> memory ``(batch, src_len, d_model)``.

        ``src_mask`` defaults to the padding mask ``(batch, 1, 1, src_len)``. Given
        ``weights``, the encoder's attention weights are appended to ``weights.encoder``.
        """
        self._check_ids(src, "source", self.config.src_vocab_size)
        if src_mask is None:
            src_mask = padding_mask(src, self.config.pad_id)
        x = self.positions(self.src_embed(src))
        return self.encoder(x, src_mask, weights)

    def decode(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        tgt_mask: torch.Tensor | None = None,
        cache: list[LayerCache] | None = None,
        start: int = 0,
        weights: AttentionWeights | None = None,
    ) -> torch.Tensor:
        """Target ids so far ``(batch, tgt_len)`` + memory -> logits ``(batch, tgt_len, V)``.

        ``tgt_mask`` defaults to causal AND target padding. With a ``cache`` (from
        :meth:`new_cache`), ``tgt`` holds only the new tokens, which sit at positions
        ``start .. start + tgt_len - 1``; then no tensor value is read back (the ids come
        from the model itself), so a decoding step costs only its computation.
        Given ``weights``, the decoder's self- and cross-attention weights are appended to
        ``weights.decoder_self`` and ``weights.cross``.
        """
        self._check_ids(tgt, "target", self.config.tgt_vocab_size, start, values=cache is None)
        if tgt_mask is None:
            causal = causal_mask(tgt.size(1), tgt.device, start)  # (1, 1, tgt_len, start+tgt_len)
            if cache is None:  # the whole target at once: also hide its padding
                tgt_mask = combine_masks(padding_mask(tgt, self.config.pad_id), causal)
            else:  # one new token at a time: earlier tokens are real words
                tgt_mask = causal
        x = self.positions(self.tgt_embed(tgt), start=start)
        return self.generator(self.decoder(x, memory, tgt_mask, src_mask, cache, weights))

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Teacher-forced pass: ``(batch, src_len)``, ``(batch, tgt_len)`` -> ``(batch, tgt_len, V)``."""
        check_token_ids(src, "source")
        check_token_ids(tgt, "target")
        if src.size(0) != tgt.size(0):
            raise ShapeError(
                f"source and target batch sizes differ: {src.size(0)} vs {tgt.size(0)}"
            )
        src_mask = padding_mask(src, self.config.pad_id)
        return self.decode(tgt, self.encode(src, src_mask), src_mask)

    def attention(
        self, src: torch.Tensor, tgt: torch.Tensor, src_mask: torch.Tensor | None = None
    ) -> AttentionWeights:
        """Every attention weight of a teacher-forced pass, for the pictures.

        Shapes: src ``(batch, src_len)``, tgt ``(batch, tgt_len)`` (``<start>`` + the
        translation) -> :class:`AttentionWeights` with one ``(batch, heads, q_len, k_len)``
        tensor per layer in ``encoder``, ``decoder_self`` and ``cross``. The decoder is
        causal, so row ``i`` holds the weights with which position ``i`` was predicted.
        Runs in the model's current mode (call ``model.eval()`` first for the pictures).
        """
        check_token_ids(src, "source")
        if src_mask is None:
            src_mask = padding_mask(src, self.config.pad_id)
        weights = AttentionWeights()
        self.decode(tgt, self.encode(src, src_mask, weights), src_mask, weights=weights)
        return weights

    def new_cache(self) -> list[LayerCache]:
        """An empty key/value cache: one :class:`~course_lib.kv_cache.LayerCache` per
        decoder layer."""
        return new_cache(len(self.decoder.layers))

    def num_parameters(self) -> int:
        """Number of distinct trainable parameters (tied weights counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def _count(module: nn.Module, seen: set[int]) -> int:
    """Parameters of ``module`` not already in ``seen`` (so shared weights count once)."""
    total = 0
    for p in module.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total


def parameter_counts(model_or_config: Transformer | TransformerConfig) -> dict[str, int]:
    """Parameters per component: ``embeddings``, ``encoder``, ``decoder``, ``generator``, ``total``.

    Counted in that order and each shared tensor only once, so the parts add up to the
    total: with ``tie_embeddings`` the generator contributes only its bias, with
    ``share_embeddings`` the embeddings count one matrix. Given a config, the model is
    built on PyTorch's ``meta`` device (shapes only, no memory), so even the paper's base
    model is counted instantly.
    """
    if isinstance(model_or_config, TransformerConfig):
        with torch.device("meta"):
            model = Transformer(model_or_config)
    elif isinstance(model_or_config, Transformer):
        model = model_or_config
    else:
        raise CourseLibError(
            f"parameter_counts needs a Transformer or a TransformerConfig, "
            f"got {type(model_or_config).__name__}"
        )
    seen: set[int] = set()
    counts = {
        "embeddings": _count(model.src_embed, seen) + _count(model.tgt_embed, seen),
        "encoder": _count(model.encoder, seen),
        "decoder": _count(model.decoder, seen),
        "generator": _count(model.generator, seen),
    }
    counts["total"] = sum(counts.values())
    return counts
