"""Step 2: token embeddings and sinusoidal positional encoding.

A token id becomes a learned vector (scaled by sqrt(d_model), as in the paper), and a
fixed sinusoidal vector that encodes its position is added, so that attention, which
is blind to order, can tell "I love pizza" from "pizza love I".
"""

from __future__ import annotations

import math

import torch
from torch import nn

from course_lib.checks import check_int
from course_lib.errors import CourseLibError, ShapeError


class TokenEmbedding(nn.Module):
    """Token ids -> vectors, multiplied by sqrt(d_model) (Vaswani et al. 2017, section 3.4).

    The row for ``padding_idx`` starts at zero and receives no gradient.

    Shapes: ids ``(batch, seq_len)`` int64 -> ``(batch, seq_len, d_model)``.
    """

    def __init__(self, vocab_size: int, d_model: int, padding_idx: int | None = 0):
        super().__init__()
        if vocab_size < 1 or d_model < 1:
            raise CourseLibError(
                f"TokenEmbedding needs vocab_size >= 1 and d_model >= 1, "
                f"got vocab_size={vocab_size}, d_model={d_model}"
            )
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=padding_idx)
        self.d_model = d_model
        self.scale = math.sqrt(d_model)

    @property
    def weight(self) -> torch.Tensor:
        return self.embedding.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.dtype not in (torch.int64, torch.int32):
            raise ShapeError(
                f"token ids must be an integer tensor, got "
                f"{ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__}"
            )
        try:  # ids are not read back on the usual path: only nn.Embedding's own error is caught
            return self.embedding(ids) * self.scale
        except IndexError:
            size = self.embedding.num_embeddings
            bad = int(ids[(ids < 0) | (ids >= size)][0])
            raise CourseLibError(
                f"token id {bad} is outside the embedding's vocabulary "
                f"(vocab_size={size}, valid ids 0-{size - 1})"
            ) from None


def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """The paper's fixed positional encoding.

    PE[pos, 2i] = sin(pos / 10000^(2i/d_model)),  PE[pos, 2i+1] = cos(pos / 10000^(2i/d_model))

    Returns a float32 tensor of shape ``(max_len, d_model)``.
    """
    if max_len < 1 or d_model < 1:
        raise CourseLibError(
            f"sinusoidal_encoding needs max_len >= 1 and d_model >= 1, "
            f"got max_len={max_len}, d_model={d_model}"
        )
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)  # (max_len, 1)
    frequencies = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)
    )  # (ceil(d_model / 2),)
    angles = position * frequencies  # (max_len, ceil(d_model / 2))
    encoding = torch.zeros(max_len, d_model)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles[:, : d_model // 2])
    return encoding


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal encoding to a batch of embeddings, then applies dropout.

    Shapes: ``(batch, seq_len, d_model)`` -> ``(batch, seq_len, d_model)``.
    ``start`` offsets the positions (used when decoding one token at a time).
    """

    def __init__(self, d_model: int, max_len: int = 256, dropout: float = 0.0):
        super().__init__()
        self.max_len = max_len
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("encoding", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        if x.dim() != 3 or x.size(-1) != self.encoding.size(1):
            raise ShapeError(
                f"PositionalEncoding expects (batch, seq_len, {self.encoding.size(1)}), "
                f"got {tuple(x.shape)}"
            )
        check_int(start, "PositionalEncoding: start", 0)
        end = start + x.size(1)
        if end > self.max_len:
            raise CourseLibError(
                f"sequence of length {end} is longer than the positional encoding's "
                f"maximum of {self.max_len} positions (max_len={self.max_len})"
            )
        return self.dropout(x + self.encoding[start:end].to(x.dtype))
