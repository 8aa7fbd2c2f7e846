"""Chapter 5's benchmark: greedy decoding with and without the key/value cache.

Greedy decoding of 64 sentences of the bundled corpus for 30 new tokens with a 3+3-layer
``d_model=128`` Transformer (4 heads, ``d_ff=512``; random weights, eval mode) on the CPU
with 2 threads. The uncached decoder re-runs the whole prefix at every step; the cached one
feeds only the newest token and reuses the keys/values it stored. The two run interleaved
(uncached, cached, uncached, ...) so that a slow-down of a shared machine hits both; each
figure is the median of the repeats. ``<end>`` is disabled (its output bias is ``-inf``) so
that every sentence decodes exactly the requested number of tokens.

Run ``python benchmarks/bench_decoding.py`` (prints one JSON object); target: cached at least
3x faster than uncached, with identical tokens.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import torch

from course_lib.config import TransformerConfig
from course_lib.data import make_toy_corpus
from course_lib.generate import greedy_decode
from course_lib.model import Transformer
from course_lib.tokenize import END, PAD, WordTokenizer

SENTENCES = 64
NEW_TOKENS = 30
THREADS = 2
REPEATS = 5
LENGTHS = (5, 10, 20, 30, 40)
LENGTH_REPEATS = 3


def build(seed: int = 0) -> tuple[Transformer, torch.Tensor]:
    """The benchmark's model and a ``(64, src_len)`` padded batch of English sentences."""
    corpus = make_toy_corpus(seed)
    src_tok = WordTokenizer.fit([en for en, _ in corpus.train], "en")
    tgt_tok = WordTokenizer.fit([fr for _, fr in corpus.train], "fr")
    rows = [src_tok.encode(en) for en, _ in corpus.test[:SENTENCES]]
    src = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        src[i, : len(row)] = torch.tensor(row)
    torch.manual_seed(seed)
    config = TransformerConfig.small(src_tok.vocab_size, tgt_tok.vocab_size)
    model = Transformer(config).eval()
    with torch.no_grad():
        model.generator.bias[END] = float("-inf")  # never stop early: exactly N tokens each
    return model, src


def _time(model: Transformer, src: torch.Tensor, use_cache: bool, new_tokens: int):
    start = time.perf_counter()
    result = greedy_decode(model, src, max_new_tokens=new_tokens, use_cache=use_cache)
    return time.perf_counter() - start, result.tokens


def measure(model: Transformer, src: torch.Tensor, new_tokens: int, repeats: int) -> dict[str, Any]:
    """Interleaved repeats of uncached and cached decoding; medians and the ratio."""
    _time(model, src, True, 2)  # warm-up: first calls allocate and pick kernels
    _time(model, src, False, 2)
    uncached, cached, identical = [], [], True
    for _ in range(repeats):
        seconds, slow_tokens = _time(model, src, False, new_tokens)
        uncached.append(seconds)
        seconds, fast_tokens = _time(model, src, True, new_tokens)
        cached.append(seconds)
        identical = identical and torch.equal(slow_tokens, fast_tokens)
        assert fast_tokens.size(1) == new_tokens
    slow, fast = statistics.median(uncached), statistics.median(cached)
    return {
        "uncached_seconds": slow,
        "cached_seconds": fast,
        "speedup": slow / fast,
        "identical_outputs": identical,
    }


def run(threads: int = THREADS) -> dict[str, Any]:
    """Run the benchmark with ``threads`` CPU threads; returns the figures as a JSON-ready dict."""
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model, src = build()
        main = measure(model, src, NEW_TOKENS, REPEATS)
        by_length = {}
        for length in LENGTHS:
            figures = measure(model, src, length, LENGTH_REPEATS)
            by_length[str(length)] = {
                "uncached_seconds": figures["uncached_seconds"],
                "cached_seconds": figures["cached_seconds"],
                "speedup": figures["speedup"],
            }
            main["identical_outputs"] = main["identical_outputs"] and figures["identical_outputs"]
    finally:
        torch.set_num_threads(previous_threads)
    return {
        "kv_cache_speedup": main["speedup"],
        "uncached_seconds": main["uncached_seconds"],
        "cached_seconds": main["cached_seconds"],
        "identical_outputs": main["identical_outputs"],
        "decode_time_vs_length": by_length,
        "setup": {
            "sentences": int(src.size(0)),
            "source_length": int(src.size(1)),
            "new_tokens": NEW_TOKENS,
            "model": "d_model 128, 4 heads, 3+3 layers, d_ff 512 (random weights, eval mode)",
            "threads": threads,
            "repeats": REPEATS,
            "statistic": "median of interleaved repeats",
            "torch": torch.__version__,
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
