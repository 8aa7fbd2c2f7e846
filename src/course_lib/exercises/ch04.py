"""Chapter 4 exercises: the causal mask, the decoder's combined mask, a decoder layer.

The references are the ``course_lib`` pieces the chapter builds. For the decoder layer
the weights travel as a plain ``dict`` of tensors (so the grader can send them into its
sandbox), one matrix per role as in the paper: ``"self_attn.q_proj.weight"``,
``"self_attn.k_proj.weight"``, ..., ``"cross_attn.out_proj.bias"``,
``"feed_forward.linear1.weight"``, ..., ``"norm3.bias"``. (``DecoderLayer`` stacks q, k and
v in one ``in_proj`` layer; its ``load_state_dict`` accepts this form too.)
"""

from __future__ import annotations

import torch

from course_lib.decoder import DecoderLayer
from course_lib.exercises.core import Case, Exercise
from course_lib.masks import causal_mask, combine_masks, padding_mask


def reference_causal_mask(size: int) -> torch.Tensor:
    """``(1, 1, size, size)`` bool, True on and below the diagonal."""
    return causal_mask(size)


def _causal_cases() -> list[Case]:
    return [
        Case("one position", (1,)),
        Case("three positions", (3,)),
        Case("seven positions", (7,)),
    ]


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
    layer.load_state_dict(weights)
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


EXERCISES = [
    Exercise(
        id="ch04_causal_mask",
        chapter=4,
        title="The causal (look-ahead) mask",
        function="causal_mask",
        reference=reference_causal_mask,
        cases=_causal_cases,
        points=1,
        forbidden=(
            "course_lib.masks.causal_mask",
            "torch.nn.Transformer.generate_square_subsequent_mask",
        ),
        hint=(
            "torch.ones(size, size, dtype=torch.bool).tril() keeps the diagonal and everything "
            "below it; add two leading dimensions with [None, None] to get (1, 1, size, size)."
        ),
    ),
    Exercise(
        id="ch04_target_mask",
        chapter=4,
        title="Combine the padding and causal masks",
        function="target_mask",
        reference=reference_target_mask,
        cases=_target_cases,
        points=2,
        forbidden=("course_lib.masks.combine_masks",),
        hint=(
            "The padding mask (tgt != pad_id)[:, None, None, :] has shape (batch, 1, 1, T); the "
            "causal mask (1, 1, T, T). Their logical AND (&) broadcasts to (batch, 1, T, T)."
        ),
    ),
    Exercise(
        id="ch04_decoder_layer",
        chapter=4,
        title="The decoder layer's forward pass (post-norm)",
        function="decoder_layer",
        reference=reference_decoder_layer,
        cases=_layer_cases,
        points=3,
        atol=1e-5,
        rtol=1e-4,
        forbidden=(
            "course_lib.decoder.DecoderLayer",
            "course_lib.decoder.Decoder",
            "course_lib.interop",
            "torch.nn.TransformerDecoderLayer",
        ),
        hint=(
            "Three sub-layers, each x = LayerNorm(x + sublayer(x)): masked self-attention "
            "(queries, keys and values from x, self_mask, then norm1), cross-attention (queries "
            "from x, keys and values from memory, memory_mask, then norm2) and the feed-forward "
            "network linear2(relu(linear1(x))) (then norm3). For attention: project with "
            "F.linear(h, weights[p + '.q_proj.weight'], weights[p + '.q_proj.bias']), split "
            "into n_heads, attend, merge and apply out_proj. LayerNorm: F.layer_norm(h, "
            "(d_model,), weights['norm1.weight'], weights['norm1.bias'])."
        ),
    ),
]
