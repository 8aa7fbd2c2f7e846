"""Shared pieces of the generation tests (test_generate, test_beam, test_sampling)."""

from __future__ import annotations

import pytest
import torch

from course_lib.config import TransformerConfig
from course_lib.model import Transformer
from course_lib.tokenize import PAD


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and a busy shared machine cannot slow them."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tiny_model(
    tgt_vocab: int = 20, seed: int = 0, norm_first: bool = False, sharpness: float = 1.0
) -> Transformer:
    """A random 2+2-layer d_model=32 model; ``sharpness`` scales the output layer so that
    next-token distributions are less flat."""
    torch.manual_seed(seed)
    config = TransformerConfig(
        src_vocab_size=15,
        tgt_vocab_size=tgt_vocab,
        d_model=32,
        n_heads=4,
        n_encoder_layers=2,
        n_decoder_layers=2,
        d_ff=64,
        dropout=0.1,
        max_len=60,
        norm_first=norm_first,
    )
    model = Transformer(config).eval()
    with torch.no_grad():
        model.generator.weight.mul_(sharpness)
    return model


def source_batch(seed: int = 1, batch: int = 4, length: int = 6) -> torch.Tensor:
    """Random source ids with some padding at the end of the later rows."""
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(4, 15, (batch, length), generator=generator)
    for row in range(1, batch):
        src[row, length - row :] = PAD
    return src
