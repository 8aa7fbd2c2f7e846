"""Shared set-up of the tests that train: a dozen English-French pairs, tokenizers fitted on
them and a tiny model (d_model 32, 1 + 1 layers) that trains in milliseconds."""

from __future__ import annotations

import torch

from course_lib.config import TransformerConfig
from course_lib.model import Transformer
from course_lib.tokenize import WordTokenizer
from course_lib.trainer import TrainSettings

PAIRS = [
    ("I love pizza", "J'aime la pizza"),
    ("I eat bread", "Je mange du pain"),
    ("She drinks water", "Elle boit de l'eau"),
    ("We love cats", "Nous aimons les chats"),
    ("He eats pizza", "Il mange de la pizza"),
    ("They love bread", "Ils aiment le pain"),
    ("You drink water", "Tu bois de l'eau"),
    ("I love cats", "J'aime les chats"),
    ("She eats bread", "Elle mange du pain"),
    ("We drink water", "Nous buvons de l'eau"),
    ("He loves cats", "Il aime les chats"),
    ("They drink water", "Ils boivent de l'eau"),
]

#: TransformerConfig fields of the tiny model (also written to JSON for ``--config``).
TINY_FIELDS = {
    "d_model": 32,
    "n_heads": 2,
    "n_encoder_layers": 1,
    "n_decoder_layers": 1,
    "d_ff": 64,
    "max_len": 32,
}


def tokenizers(pairs=PAIRS) -> tuple[WordTokenizer, WordTokenizer]:
    """English and French word tokenizers fitted on ``pairs``."""
    return (
        WordTokenizer.fit([e for e, _ in pairs], "en"),
        WordTokenizer.fit([f for _, f in pairs], "fr"),
    )


def tiny_model(src_tok, tgt_tok, dropout=0.0, seed=0, **overrides) -> Transformer:
    """A seeded tiny Transformer for the tokenizers' vocabularies."""
    torch.manual_seed(seed)
    fields = {**TINY_FIELDS, "dropout": dropout, **overrides}
    return Transformer(TransformerConfig(src_tok.vocab_size, tgt_tok.vocab_size, **fields))


def tiny_settings(**fields) -> TrainSettings:
    """Training settings for the tiny model on the CPU, quiet: batch 4, warm-up 4, and
    whatever ``fields`` set (a budget among them)."""
    return TrainSettings(
        **{"batch_size": 4, "warmup_steps": 4, "device": "cpu", "progress": False, **fields}
    )


def train_command(corpus, out, *options) -> list[str]:
    """``course-lib train`` arguments for a quiet CPU run on ``corpus`` into ``out``."""
    return [
        "train",
        "--corpus",
        str(corpus),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--quiet",
        *map(str, options),
    ]
