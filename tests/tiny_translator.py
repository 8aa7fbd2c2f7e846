"""Shared set-up of the step-7 tests: a tiny model (d_model 32, 1 + 1 layers) trained for a
few seconds until it has memorised ~50 pairs of the bundled corpus, so its translations are
known (used by test_translate, test_evaluate, test_attention_maps and test_viz)."""

from __future__ import annotations

import torch

from course_lib.config import TransformerConfig
from course_lib.data import make_toy_corpus
from course_lib.loss import teacher_forcing
from course_lib.model import Transformer
from course_lib.tokenize import PAD, WordTokenizer

MAX_LEN = 24


def _tiny_pairs() -> list[tuple[str, str]]:
    corpus = make_toy_corpus()
    pairs = [p for p in corpus.train if len(p[0].split()) <= 4][:48]
    return pairs + [("I love pizza", "J'aime la pizza")]


def train_tiny_model():
    """(model, src_tokenizer, tgt_tokenizer, pairs): a model that memorised ``pairs``."""
    torch.manual_seed(0)
    pairs = _tiny_pairs()
    src_tok = WordTokenizer.fit([e for e, _ in pairs], "en")
    tgt_tok = WordTokenizer.fit([f for _, f in pairs], "fr")
    config = TransformerConfig(
        src_vocab_size=src_tok.vocab_size,
        tgt_vocab_size=tgt_tok.vocab_size,
        d_model=32,
        n_heads=2,
        n_encoder_layers=1,
        n_decoder_layers=1,
        d_ff=64,
        dropout=0.0,
        max_len=MAX_LEN,
    )
    model = Transformer(config)

    def pad(rows):
        out = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.long)
        for i, row in enumerate(rows):
            out[i, : len(row)] = torch.tensor(row)
        return out

    src = pad([src_tok.encode(e) for e, _ in pairs])
    decoder_input, labels = teacher_forcing(pad([tgt_tok.encode(f) for _, f in pairs]))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is fastest on a busy machine
    try:
        for _ in range(120):
            logits = model(src, decoder_input)
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=PAD
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    return model, src_tok, tgt_tok, pairs
