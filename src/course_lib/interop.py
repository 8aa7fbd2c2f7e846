"""Step 4: copy weights between course_lib and ``torch.nn.Transformer``, and convert masks.

This is the course's proof that we built the real thing: give ``torch.nn.Transformer``
and course_lib the same weights and, in eval mode, they compute the same encoder memory
and the same decoder output (``tests/test_interop.py``, chapter 4).

Which module matches which (``nn.Transformer`` has no embeddings, positions or output
layer; those stay untouched):

=============================  =====================================================
course_lib                     torch
=============================  =====================================================
``Transformer``                ``nn.Transformer`` (its ``encoder`` and ``decoder``)
``Encoder``                    ``nn.TransformerEncoder`` (or ``nn.Transformer``)
``Decoder``                    ``nn.TransformerDecoder`` (or ``nn.Transformer``)
``EncoderLayer``               ``nn.TransformerEncoderLayer``
``DecoderLayer``               ``nn.TransformerDecoderLayer``
``in_proj.weight``/``.bias``   ``in_proj_weight``/``in_proj_bias`` of
                               ``nn.MultiheadAttention`` (both stack W^Q, W^K, W^V: rows
                               ``[0:d]``, ``[d:2d]``, ``[2d:3d]``)
``out_proj``                   ``out_proj``
``cross_attn``                 ``multihead_attn``
``feed_forward.linear1/2``     ``linear1``/``linear2``
``norm1``, ``norm2``, ``norm3``  ``norm1``, ``norm2``, ``norm3``; stack ``norm`` = ``norm``
=============================  =====================================================

Masks mean opposite things: course_lib's ``True`` = "may attend", while
``nn.Transformer``'s ``*_key_padding_mask`` and boolean ``*_mask`` use ``True`` = "may
NOT attend" (and it also accepts float masks with ``-inf`` for "may not"). The helpers
at the bottom convert both ways. ``batch_first`` only changes the input layout, not the
weights; :func:`to_torch` builds ``batch_first=True`` modules to match course_lib.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.attention import MultiHeadAttention
from course_lib.config import TransformerConfig
from course_lib.decoder import Decoder, DecoderLayer
from course_lib.encoder import Encoder, EncoderLayer
from course_lib.errors import CourseLibError, ShapeError
from course_lib.model import Transformer

# (course_lib name, course_lib tensor, torch name, torch tensor); tensors may be row slices.
Pair = tuple[str, torch.Tensor, str, torch.Tensor]


# --------------------------------------------------------------------------- structure


def _same(what: str, ours: object, theirs: object) -> None:
    if ours != theirs:
        raise CourseLibError(f"{what} differs: course_lib has {ours}, torch has {theirs}")


def _check_layer(prefix: str, course: EncoderLayer | DecoderLayer, layer: nn.Module) -> None:
    _same(f"{prefix}: norm_first", course.norm_first, layer.norm_first)
    activation = getattr(layer, "activation", F.relu)
    if not (activation is F.relu or isinstance(activation, nn.ReLU)):
        raise CourseLibError(
            f"{prefix}: the torch layer uses activation {activation!r}; course_lib's "
            f"feed-forward network uses ReLU, as in the paper"
        )
    _same(f"{prefix}: layer_norm_eps", course.norm1.eps, layer.norm1.eps)


def _attention_pairs(
    prefix: str, course: MultiHeadAttention, torch_prefix: str, mha: nn.MultiheadAttention
) -> Iterator[Pair]:
    """q/k/v/out projections of one attention block."""
    if not isinstance(mha, nn.MultiheadAttention):
        raise CourseLibError(f"{torch_prefix} is not an nn.MultiheadAttention")
    if mha.in_proj_weight is None:
        raise CourseLibError(
            f"{torch_prefix} has separate key/value sizes (kdim/vdim); course_lib's attention "
            f"uses d_model for queries, keys and values"
        )
    if mha.in_proj_bias is None or mha.out_proj.bias is None:
        raise CourseLibError(f"{torch_prefix} has no biases (bias=False); course_lib has biases")
    d = course.d_model
    for name, tensor in (
        ("in_proj_weight", mha.in_proj_weight),
        ("in_proj_bias", mha.in_proj_bias),
    ):
        expected = (3 * d, d) if name == "in_proj_weight" else (3 * d,)
        if tuple(tensor.shape) != expected:
            raise ShapeError(
                f"{torch_prefix}.{name} has shape {tuple(tensor.shape)}, but course_lib's "
                f"{prefix} (d_model={d}) needs {expected} (3 * d_model rows for q, k, v)"
            )
    _same(f"{prefix}: number of heads", course.n_heads, mha.num_heads)
    # Both stack W^Q, W^K, W^V the same way: rows [0:d] q, [d:2d] k, [2d:3d] v.
    yield from _linear_pairs(f"{prefix}.in_proj", course.in_proj, torch_prefix, mha, "in_proj_")
    yield from _linear_pairs(
        f"{prefix}.out_proj", course.out_proj, f"{torch_prefix}.out_proj", mha.out_proj
    )


def _linear_pairs(
    prefix: str, course: nn.Module, torch_prefix: str, theirs: nn.Module, torch_name: str = ""
) -> Iterator[Pair]:
    """``weight`` and ``bias`` of a linear layer or LayerNorm (torch names may carry a prefix,
    as ``in_proj_weight``)."""
    for kind in ("weight", "bias"):
        ours, other = getattr(course, kind), getattr(theirs, torch_name + kind, None)
        if other is None:
            raise CourseLibError(f"{torch_prefix}.{torch_name}{kind} is missing (bias=False?)")
        yield f"{prefix}.{kind}", ours, f"{torch_prefix}.{torch_name}{kind}", other


def _layer_pairs(prefix: str, course: nn.Module, torch_prefix: str, layer: nn.Module):
    _check_layer(prefix, course, layer)
    yield from _attention_pairs(
        f"{prefix}.self_attn", course.self_attn, f"{torch_prefix}.self_attn", layer.self_attn
    )
    norms = ["norm1", "norm2"]
    if isinstance(course, DecoderLayer):
        yield from _attention_pairs(
            f"{prefix}.cross_attn",
            course.cross_attn,
            f"{torch_prefix}.multihead_attn",
            layer.multihead_attn,
        )
        norms.append("norm3")
    for name in ("linear1", "linear2"):
        yield from _linear_pairs(
            f"{prefix}.feed_forward.{name}",
            getattr(course.feed_forward, name),
            f"{torch_prefix}.{name}",
            getattr(layer, name),
        )
    for name in norms:
        yield from _linear_pairs(
            f"{prefix}.{name}",
            getattr(course, name),
            f"{torch_prefix}.{name}",
            getattr(layer, name),
        )


def _stack_pairs(prefix: str, course: Encoder | Decoder, torch_prefix: str, stack: nn.Module):
    torch_layers = stack.layers
    if len(course.layers) != len(torch_layers):
        raise CourseLibError(
            f"number of layers differs: course_lib's {prefix} has {len(course.layers)}, "
            f"torch's {torch_prefix} has {len(torch_layers)}"
        )
    for i, (ours, theirs) in enumerate(zip(course.layers, torch_layers)):
        yield from _layer_pairs(f"{prefix}.layers.{i}", ours, f"{torch_prefix}.layers.{i}", theirs)
    if stack.norm is None:
        raise CourseLibError(
            f"torch's {torch_prefix} has no final LayerNorm (norm=None); course_lib's "
            f"{prefix} ends with one, as nn.Transformer does"
        )
    yield from _linear_pairs(f"{prefix}.norm", course.norm, f"{torch_prefix}.norm", stack.norm)


def _pairs(course: nn.Module, theirs: nn.Module) -> list[Pair]:
    """Every matching (course_lib, torch) tensor pair, or a clear error."""
    if isinstance(course, Transformer):
        if not isinstance(theirs, nn.Transformer):
            raise CourseLibError(
                f"a course_lib Transformer matches an nn.Transformer, got {type(theirs).__name__}"
            )
        return [
            *_stack_pairs("encoder", course.encoder, "encoder", theirs.encoder),
            *_stack_pairs("decoder", course.decoder, "decoder", theirs.decoder),
        ]
    matches = (
        (Encoder, nn.TransformerEncoder, "encoder", _stack_pairs),
        (Decoder, nn.TransformerDecoder, "decoder", _stack_pairs),
        (EncoderLayer, nn.TransformerEncoderLayer, None, _layer_pairs),
        (DecoderLayer, nn.TransformerDecoderLayer, None, _layer_pairs),
    )
    for course_type, torch_type, part, make_pairs in matches:
        if isinstance(course, course_type):
            if part is not None and isinstance(theirs, nn.Transformer):
                theirs = getattr(theirs, part)
            if not isinstance(theirs, torch_type):
                raise CourseLibError(
                    f"a course_lib {course_type.__name__} matches an nn.{torch_type.__name__}"
                    + (" or an nn.Transformer" if part else "")
                    + f", got {type(theirs).__name__}"
                )
            return list(make_pairs(part or "layer", course, part or "layer", theirs))
    raise CourseLibError(
        f"cannot copy weights for a {type(course).__name__}: expected a course_lib "
        f"Transformer, Encoder, Decoder, EncoderLayer or DecoderLayer"
    )


def _copy(pairs: list[Pair], to_course: bool) -> None:
    for name, ours, torch_name, theirs in pairs:  # check everything before changing anything
        if ours.shape != theirs.shape:
            raise ShapeError(
                f"size mismatch for {name}: course_lib has {tuple(ours.shape)}, "
                f"torch's {torch_name} has {tuple(theirs.shape)}"
            )
    with torch.no_grad():
        for _, ours, _, theirs in pairs:
            if to_course:
                ours.copy_(theirs)
            else:
                theirs.copy_(ours)


# --------------------------------------------------------------------------- weights


def load_from_torch(course: nn.Module, torch_module: nn.Module) -> nn.Module:
    """Copy the weights of a PyTorch transformer into the matching course_lib module.

    Args:
        course: a course_lib ``Transformer``, ``Encoder``, ``Decoder``, ``EncoderLayer``
            or ``DecoderLayer`` (changed in place; a ``Transformer``'s embeddings and
            output layer are left as they are, since ``nn.Transformer`` has none).
        torch_module: the matching ``nn.Transformer`` / ``nn.TransformerEncoder`` /
            ``nn.TransformerDecoder`` / layer (see the table in the module docstring),
            ReLU activation, biases, a final LayerNorm per stack, any ``norm_first``
            equal to course_lib's.

    Returns ``course``. Raises :class:`CourseLibError` naming the parameter or setting
    that does not match (layers, heads, d_model, d_ff, norm_first, eps, activation);
    nothing is copied then.
    """
    _copy(_pairs(course, torch_module), to_course=True)
    return course


def copy_to_torch(course: nn.Module, torch_module: nn.Module) -> nn.Module:
    """The reverse of :func:`load_from_torch`: course_lib weights into an existing torch module.

    Returns ``torch_module``, changed in place.
    """
    _copy(_pairs(course, torch_module), to_course=False)
    return torch_module


def _layer_settings(layer: EncoderLayer | DecoderLayer) -> dict:
    return dict(
        d_model=layer.d_model,
        nhead=layer.self_attn.n_heads,
        dim_feedforward=layer.feed_forward.linear1.out_features,
        dropout=layer.dropout1.p,
        layer_norm_eps=layer.norm1.eps,
        norm_first=layer.norm_first,
        batch_first=True,
    )


def to_torch(course: nn.Module) -> nn.Module:
    """A new PyTorch module with the same sizes and weights as a course_lib module.

    ``Transformer`` -> ``nn.Transformer``, ``Encoder`` -> ``nn.TransformerEncoder``,
    ``Decoder`` -> ``nn.TransformerDecoder``, ``EncoderLayer``/``DecoderLayer`` -> the
    torch layer; always ``batch_first=True``, in the same train/eval mode as ``course``.
    Nested tensors are switched off in the encoder, so that padded positions are computed
    (not zeroed by torch's inference fast path) and outputs agree at every position.
    """
    if isinstance(course, Transformer):
        c: TransformerConfig = course.config
        with warnings.catch_warnings():  # "enable_nested_tensor is True, but ..." is noise here
            warnings.filterwarnings("ignore", message="enable_nested_tensor is True")
            built: nn.Module = nn.Transformer(
                d_model=c.d_model,
                nhead=c.n_heads,
                num_encoder_layers=c.n_encoder_layers,
                num_decoder_layers=c.n_decoder_layers,
                dim_feedforward=c.d_ff,
                dropout=c.dropout,
                layer_norm_eps=c.layer_norm_eps,
                batch_first=True,
                norm_first=c.norm_first,
            )
        # Without nested tensors, torch's encoder computes padded positions as course_lib
        # does (its inference fast path would return zeros there), so outputs match everywhere.
        built.encoder.enable_nested_tensor = False
        built.encoder.use_nested_tensor = False
    elif isinstance(course, (EncoderLayer, DecoderLayer)):
        layer_type = (
            nn.TransformerEncoderLayer
            if isinstance(course, EncoderLayer)
            else nn.TransformerDecoderLayer
        )
        built = layer_type(**_layer_settings(course))
    elif isinstance(course, (Encoder, Decoder)):
        settings = _layer_settings(course.layers[0])
        norm = nn.LayerNorm(settings["d_model"], eps=course.norm.eps)
        if isinstance(course, Encoder):
            built = nn.TransformerEncoder(
                nn.TransformerEncoderLayer(**settings),
                len(course.layers),
                norm=norm,
                enable_nested_tensor=False,
            )
        else:
            built = nn.TransformerDecoder(
                nn.TransformerDecoderLayer(**settings), len(course.layers), norm=norm
            )
    else:
        raise CourseLibError(
            f"to_torch needs a course_lib Transformer, Encoder, Decoder, EncoderLayer or "
            f"DecoderLayer, got {type(course).__name__}"
        )
    copy_to_torch(course, built)
    return built.train(course.training)


# --------------------------------------------------------------------------- masks


def _as_keep(mask: torch.Tensor, name: str) -> torch.Tensor:
    """A torch mask (bool True = blocked, or float with -inf = blocked) -> bool True = keep."""
    if not isinstance(mask, torch.Tensor):
        raise ShapeError(f"{name} must be a tensor, got {type(mask).__name__}")
    if mask.dtype == torch.bool:
        return ~mask
    if mask.is_floating_point():
        if not bool(((mask == 0) | torch.isneginf(mask)).all()):
            raise CourseLibError(
                f"{name} is a float mask with values other than 0 and -inf; only masks "
                f"that allow or forbid (no soft biases) can become course_lib masks"
            )
        return mask == 0
    raise ShapeError(f"{name} must be a bool or float tensor, got dtype {mask.dtype}")


def to_torch_padding_mask(mask: torch.Tensor) -> torch.Tensor:
    """course_lib padding mask ``(batch, 1, 1, len)`` or ``(batch, len)``, True = real token
    -> torch ``key_padding_mask`` ``(batch, len)``, True = padding (ignore)."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ShapeError(f"padding mask must be a bool tensor (True = may attend), got {got}")
    if mask.dim() == 4 and mask.size(1) == 1 and mask.size(2) == 1:
        mask = mask[:, 0, 0, :]
    if mask.dim() != 2:
        raise ShapeError(
            f"padding mask must have shape (batch, 1, 1, len) or (batch, len), "
            f"got {tuple(mask.shape)}"
        )
    return ~mask


def from_torch_padding_mask(key_padding_mask: torch.Tensor) -> torch.Tensor:
    """torch ``key_padding_mask`` ``(batch, len)`` (bool True = ignore, or float -inf = ignore)
    -> course_lib padding mask ``(batch, 1, 1, len)``, True = may attend."""
    keep = _as_keep(key_padding_mask, "key_padding_mask")
    if keep.dim() != 2:
        raise ShapeError(f"key_padding_mask must have shape (batch, len), got {tuple(keep.shape)}")
    return keep[:, None, None, :]


def to_torch_attn_mask(mask: torch.Tensor) -> torch.Tensor:
    """course_lib mask ``(1, 1, q_len, k_len)`` or ``(q_len, k_len)``, True = may attend
    (e.g. the causal mask) -> torch bool ``attn_mask`` ``(q_len, k_len)``, True = may NOT."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ShapeError(f"mask must be a bool tensor (True = may attend), got {got}")
    if mask.dim() == 4 and mask.size(0) == 1 and mask.size(1) == 1:
        mask = mask[0, 0]
    if mask.dim() != 2:
        raise ShapeError(
            f"mask must have shape (1, 1, q_len, k_len) or (q_len, k_len) to become an "
            f"nn.Transformer attn_mask, got {tuple(mask.shape)}"
        )
    return ~mask


def from_torch_attn_mask(attn_mask: torch.Tensor) -> torch.Tensor:
    """torch ``attn_mask`` ``(q_len, k_len)`` (bool True = may NOT, or float -inf = may not,
    as from ``nn.Transformer.generate_square_subsequent_mask``) -> course_lib
    ``(1, 1, q_len, k_len)``, True = may attend."""
    keep = _as_keep(attn_mask, "attn_mask")
    if keep.dim() != 2:
        raise ShapeError(f"attn_mask must have shape (q_len, k_len), got {tuple(keep.shape)}")
    return keep[None, None]


__all__ = [
    "copy_to_torch",
    "from_torch_attn_mask",
    "from_torch_padding_mask",
    "load_from_torch",
    "to_torch",
    "to_torch_attn_mask",
    "to_torch_padding_mask",
]
