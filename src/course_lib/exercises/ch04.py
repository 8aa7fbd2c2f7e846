"""Chapter 4 exercises: a checkpoint on the combined mask, the decoder's self-attention mask,
the parameter count of a decoder layer, a decoder layer's forward pass.

The references are the ``course_lib`` pieces the chapter builds. For the decoder layer
the weights travel as a plain ``dict`` of tensors (so the grader can send them into its
sandbox), one matrix per role as in the paper: ``"self_attn.q_proj.weight"``,
``"self_attn.k_proj.weight"``, ..., ``"cross_attn.out_proj.bias"``,
``"feed_forward.linear1.weight"``, ..., ``"norm3.bias"``. (``DecoderLayer`` stacks q, k and
v in one ``in_proj`` layer: :func:`stack_qkv` turns this form into its state dict.)
"""

from __future__ import annotations

import random

import torch

from course_lib.decoder import DecoderLayer
from course_lib.exercises.core import Case, Exercise
from course_lib.masks import causal_mask, combine_masks, padding_mask


def _answer() -> list[Case]:
    return [Case("answer")]


def reference_visible_checkpoint() -> list[int]:
    """The keys the query at position 4 of ``[1, 46, 22, 0, 0]`` may read (pad id 0)."""
    return [0, 1, 2]


def reference_target_mask(tgt: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Target ids ``(batch, tgt_len)`` -> ``(batch, 1, tgt_len, tgt_len)`` bool: position i
    may attend to position j when j <= i and token j is not padding."""
    return combine_masks(padding_mask(tgt, pad_id), causal_mask(tgt.size(1)))


def _target_cases() -> list[Case]:
    return [
        Case("no padding", (torch.tensor([[1, 5, 6, 7]]), 0)),
        Case("two sentences, padded", (torch.tensor([[1, 5, 6, 7, 8], [1, 9, 4, 0, 0]]), 0)),
        Case("pad id 3", (torch.tensor([[1, 3, 3], [1, 4, 3]]), 3)),
        Case("a single <start> token", (torch.tensor([[1], [1]]), 0)),
    ]


def _fresh_target_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    pad_id = rng.choice([0, 0, 3])
    batch, length = rng.randint(1, 4), rng.randint(1, 7)
    rows = []
    for _ in range(batch):
        real = rng.randint(1, length)
        words = [rng.choice([w for w in range(4, 12) if w != pad_id]) for _ in range(real - 1)]
        rows.append([1, *words] + [pad_id] * (length - real))
    return [
        Case(f"random padded targets, pad id {pad_id} (seed {seed})", (torch.tensor(rows), pad_id))
    ]


def reference_decoder_layer_parameters(d_model: int, n_heads: int, d_ff: int) -> int:
    """The number of parameters of one ``DecoderLayer(d_model, n_heads, d_ff)``."""
    return sum(p.numel() for p in DecoderLayer(d_model, n_heads, d_ff).parameters())


def _parameter_cases() -> list[Case]:
    return [
        Case("the paper's base model: d_model 512, 8 heads, d_ff 2048", (512, 8, 2048)),
        Case("the same with 1 head", (512, 1, 2048)),
        Case("the chapter's small model: d_model 64, 4 heads, d_ff 128", (64, 4, 128)),
        Case("d_model 6, 2 heads, d_ff 10", (6, 2, 10)),
    ]


def _fresh_parameter_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    n_heads = rng.choice([1, 2, 4, 8])
    d_model = n_heads * rng.randint(1, 16)
    return [Case(f"random sizes (seed {seed})", (d_model, n_heads, rng.randint(1, 200)))]


def layer_weights(d_model: int, d_ff: int, seed: int) -> dict[str, torch.Tensor]:
    """Random weights for a decoder layer, one matrix per role (``q_proj``, ``k_proj``,
    ``v_proj``, ``out_proj``, ...), LayerNorm scales and shifts included."""
    generator = torch.Generator().manual_seed(seed)
    shapes = {}
    for name, p in DecoderLayer(d_model, 1, d_ff).state_dict().items():
        if ".in_proj." in name:  # split the stacked projection into its three roles
            for part in "qkv":
                shapes[name.replace("in_proj", f"{part}_proj")] = (d_model, *p.shape[1:])
        else:
            shapes[name] = tuple(p.shape)
    return {
        name: torch.randn(shape, generator=generator) * (0.3 if len(shape) > 1 else 0.5)
        + (1.0 if name.startswith("norm") and name.endswith("weight") else 0.0)
        for name, shape in sorted(shapes.items())
    }


def stack_qkv(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One matrix per role (``*.q_proj.weight``, ``*.k_proj.weight``, ``*.v_proj.weight``
    and biases) -> the stacked ``*.in_proj.weight``/``bias`` of
    :class:`~course_lib.attention.MultiHeadAttention` (rows q, then k, then v)."""
    stacked = dict(weights)
    for name in [n for n in weights if ".q_proj." in n]:
        parts = [name.replace("q_proj", f"{p}_proj") for p in "qkv"]
        stacked[name.replace("q_proj", "in_proj")] = torch.cat([stacked.pop(p) for p in parts])
    return stacked


def reference_decoder_layer(
    x: torch.Tensor,
    memory: torch.Tensor,
    self_mask: torch.Tensor | None,
    memory_mask: torch.Tensor | None,
    weights: dict[str, torch.Tensor],
    n_heads: int,
) -> torch.Tensor:
    """One post-norm decoder layer in eval mode: ``(batch, tgt_len, d_model)``."""
    d_model, d_ff = x.size(-1), weights["feed_forward.linear1.weight"].size(0)
    layer = DecoderLayer(d_model, n_heads, d_ff, dropout=0.0)
    layer.load_state_dict(stack_qkv(weights))
    with torch.no_grad():
        return layer.eval()(x, memory, self_mask, memory_mask)[0]


def _layer_cases() -> list[Case]:
    def randn(*shape: int, seed: int) -> torch.Tensor:
        return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))

    tgt = torch.tensor([[1, 5, 6, 7], [1, 8, 0, 0]])
    src = torch.tensor([[4, 5, 6], [4, 5, 0]])
    self_mask = reference_target_mask(tgt, 0)
    memory_mask = padding_mask(src)
    return [
        Case(
            "one sentence, one head, no masks",
            (
                randn(1, 3, 8, seed=1),
                randn(1, 2, 8, seed=2),
                None,
                None,
                layer_weights(8, 16, seed=3),
                1,
            ),
        ),
        Case(
            "causal mask, 2 heads",
            (
                randn(1, 4, 8, seed=4),
                randn(1, 3, 8, seed=5),
                causal_mask(4),
                None,
                layer_weights(8, 16, seed=6),
                2,
            ),
        ),
        Case(
            "batch of 2 with target and source padding, 4 heads",
            (
                randn(2, 4, 16, seed=7),
                randn(2, 3, 16, seed=8),
                self_mask,
                memory_mask,
                layer_weights(16, 32, seed=9),
                4,
            ),
        ),
    ]


def _fresh_layer_cases(seed: int) -> list[Case]:
    rng = random.Random(seed)
    n_heads = rng.choice([1, 2, 4])
    d_model, d_ff = n_heads * rng.choice([2, 4]), rng.choice([8, 16])
    batch, tgt_len, src_len = rng.randint(1, 3), rng.randint(1, 5), rng.randint(1, 5)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, tgt_len, d_model, generator=generator)
    memory = torch.randn(batch, src_len, d_model, generator=generator)
    lengths = [rng.randint(1, src_len) for _ in range(batch)]
    src = torch.tensor([[4] * n + [0] * (src_len - n) for n in lengths])
    tgt = torch.tensor([[1] + [5] * (tgt_len - 1) for _ in range(batch)])
    return [
        Case(
            f"random layer, n_heads {n_heads}, d_model {d_model} (seed {seed})",
            (
                x,
                memory,
                reference_target_mask(tgt, 0),
                padding_mask(src),
                layer_weights(d_model, d_ff, seed=seed + 1),
                n_heads,
            ),
        )
    ]


EXERCISES = [
    Exercise(
        id="ch04_visible_checkpoint",
        chapter=4,
        title="Which positions may a padded query read?",
        function="ANSWER_CH4_VISIBLE",
        reference=reference_visible_checkpoint,
        cases=_answer,
        points=1,
        kind="checkpoint",
        minutes=4,
        hint=(
            "Two conditions must both hold for a key: the causal one (not in the future of the "
            "query) and the padding one (the key is a real token). The query's own token plays "
            "no part in either."
        ),
        explanation=(
            "[0, 1, 2]. The causal mask allows keys 0 to 4, the padding mask removes the "
            "padded keys 3 and 4. Position 4 is itself padding, but the mask hides keys, not "
            "queries: a padded query still reads the real words, and its output is simply "
            "ignored by the loss."
        ),
    ),
    Exercise(
        id="ch04_target_mask",
        chapter=4,
        title="Combine the padding and causal masks",
        function="target_mask",
        reference=reference_target_mask,
        cases=_target_cases,
        fresh_cases=_fresh_target_cases,
        points=2,
        kind="practice",
        minutes=8,
        forbidden=(
            "course_lib.masks.combine_masks",
            "course_lib.masks.causal_mask",
            "course_lib.masks.padding_mask",
            "course_lib.batching.padding_mask",
            "torch.nn.Transformer.generate_square_subsequent_mask",
        ),
        hint=(
            "Build the two masks with shapes that broadcast against each other to "
            "(batch, 1, T, T): one depends on the batch and the key position only, the other "
            "on the query and key positions only."
        ),
        explanation=(
            "(tgt != pad_id) of shape (batch, 1, 1, T) AND a lower-triangular (1, 1, T, T) "
            "broadcast to (batch, 1, T, T): the 1s are where a dimension does not matter, and "
            "broadcasting fills it in without copying."
        ),
    ),
    Exercise(
        id="ch04_layer_parameters",
        chapter=4,
        title="How many parameters does one decoder layer have?",
        function="decoder_layer_parameters",
        reference=reference_decoder_layer_parameters,
        cases=_parameter_cases,
        fresh_cases=_fresh_parameter_cases,
        points=2,
        minutes=12,
        forbidden=(
            "course_lib.decoder.DecoderLayer",
            "course_lib.decoder.Decoder",
            "course_lib.model.Transformer",
            "course_lib.model.parameter_counts",
            "course_lib.attention.MultiHeadAttention",
            "course_lib.encoder.FeedForward",
            "course_lib.encoder.EncoderLayer",
            "torch.nn.TransformerDecoderLayer",
            "torch.nn.MultiheadAttention",
        ),
        hint=(
            "List the layer's sub-layers and, for each, its linear layers (a weight matrix "
            "and a bias each) and its layer normalisations (a scale and a shift each). Does "
            "splitting into heads add any weights?"
        ),
        explanation=(
            "Each attention block has four d_model x d_model projections with biases, "
            "4 d^2 + 4 d; the decoder has two of them (self and cross), the feed-forward "
            "network 2 d d_ff + d_ff + d, and three LayerNorms 2 d each. The number of heads "
            "does not appear: heads split the same projections, they do not add any. For the "
            "base model that is about 4.2 million per layer, 1 million more than an encoder "
            "layer (the cross-attention)."
        ),
    ),
    Exercise(
        id="ch04_decoder_layer",
        chapter=4,
        title="The decoder layer's forward pass (post-norm)",
        function="decoder_layer",
        reference=reference_decoder_layer,
        cases=_layer_cases,
        fresh_cases=_fresh_layer_cases,
        points=3,
        kind="practice",
        minutes=25,
        atol=1e-5,
        rtol=1e-4,
        forbidden=(
            "course_lib.decoder.DecoderLayer",
            "course_lib.decoder.Decoder",
            "course_lib.attention.MultiHeadAttention",
            "course_lib.encoder.FeedForward",
            "course_lib.model.Transformer",
            "course_lib.interop",
            "torch.nn.TransformerDecoderLayer",
            "torch.nn.MultiheadAttention",
        ),
        hint=(
            "Follow the decoder layer's diagram from bottom to top: three sub-layers, each "
            "wrapped in the same residual-and-normalisation pattern (post-norm). Ask of each "
            "attention where its queries, keys and values come from and which mask it uses."
        ),
        explanation=(
            "Masked self-attention (self_mask) lets each French position read the earlier "
            "ones; cross-attention (queries from the decoder, keys and values from memory, "
            "memory_mask) reads the English sentence; the feed-forward network then works on "
            "each position alone. Post-norm applies LayerNorm after each residual sum."
        ),
    ),
]
