"""Decoding benchmarks: the key/value cache (chapter 5) and translating many sentences (chapter 7).

* :func:`run_cache` — greedy decoding of 64 sentences of the bundled corpus for 30 new tokens
  with the course's small model (``recipes.SMALL_MODEL``: d_model 128, 4 heads, 3+3 pre-norm
  layers, d_ff 512; random weights, eval mode) on the CPU with 2 threads, with and without
  the key/value cache. The uncached decoder re-runs the whole prefix at every step; the
  cached one feeds only the newest token and reuses the keys/values it stored. The two run
  interleaved so that a slow-down of a shared machine hits both; each figure is the median
  of the repeats. ``<end>`` is disabled (its output bias is ``-inf``) so that every sentence
  decodes exactly the requested number of tokens. Target: cached at least 3x faster than
  uncached, with identical tokens.
* :func:`run_translate` — translate every source sentence of the Tatoeba test split (strings
  in, strings out: tokenise, decode, detokenise) with a model of the real recipe trained
  once and cached (:func:`benchmarks.bench_training.trained_real_model`), by
  ``course_lib.translate.translate`` (sorted by length, batched, cached greedy; and batched
  beam search), against the peer: the same weights in ``nn.Transformer``
  (:meth:`TorchBaseline.from_course <benchmarks.bench_training.TorchBaseline.from_course>`)
  decoded by the greedy loop of PyTorch's translation tutorial — one sentence at a time, the
  encoder once, the decoder re-run over the whole prefix at each step (no cache), until
  ``<end>``. The peer is also timed batched (the same batches, still uncached) so the ratio
  can be read both ways. Same weights, so the peer's translations are (up to float
  rounding) the course's greedy ones: the fraction that agree is reported. Target: course
  greedy at least 5x the one-at-a-time peer's sentences per second.

Run ``python benchmarks/bench_decoding.py [cache|translate]`` (prints one JSON object).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks.bench_training import TorchBaseline, real_data, trained_real_model
from course_lib.config import TransformerConfig
from course_lib.data import make_toy_corpus
from course_lib.evaluate import score
from course_lib.generate import greedy_decode
from course_lib.model import Transformer
from course_lib.recipes import SMALL_MODEL
from course_lib.tokenize import END, PAD, WordTokenizer
from course_lib.translate import translate

SENTENCES = 64
NEW_TOKENS = 30
THREADS = 2
REPEATS = 5
LENGTHS = (5, 10, 20, 30, 40)
LENGTH_REPEATS = 3
BATCH_SIZE = 64  # sentences per batch, for the course and the batched peer alike
BEAM_SIZE = 4
#: Threads for the translation benchmark, the course and the peer alike: one sentence's
#: matrices are too small for a second thread to help, and on a shared machine a second
#: thread made the one-at-a-time loop up to ten times slower (waiting for each other).
TRANSLATE_THREADS = 1


# ----------------------------------------------------------------------------------------
# Chapter 5: the key/value cache on a fixed number of tokens
# ----------------------------------------------------------------------------------------


def build(seed: int = 0) -> tuple[Transformer, torch.Tensor]:
    """The cache benchmark's model and a ``(64, src_len)`` padded batch of English sentences."""
    corpus = make_toy_corpus(seed)
    src_tok = WordTokenizer.fit([en for en, _ in corpus.train], "en")
    tgt_tok = WordTokenizer.fit([fr for _, fr in corpus.train], "fr")
    rows = [src_tok.encode(en) for en, _ in corpus.test[:SENTENCES]]
    src = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        src[i, : len(row)] = torch.tensor(row)
    torch.manual_seed(seed)
    config = TransformerConfig(src_tok.vocab_size, tgt_tok.vocab_size, **SMALL_MODEL)
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


def run_cache() -> dict[str, Any]:
    """The key/value-cache benchmark (threads set by the caller); a JSON-ready dict."""
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
            "model": "the course's small model: d_model 128, 4 heads, 3+3 pre-norm layers, "
            "d_ff 512 (random weights, eval mode)",
            "threads": torch.get_num_threads(),
            "repeats": REPEATS,
            "statistic": "median of interleaved repeats",
            "torch": torch.__version__,
        },
    }


# ----------------------------------------------------------------------------------------
# Chapter 7: translating the whole test split, course vs an uncached nn.Transformer loop
# ----------------------------------------------------------------------------------------


def _timed(fn: Callable[[], list[str]]) -> tuple[float, list[str]]:
    began = time.perf_counter()
    result = fn()
    return time.perf_counter() - began, result


def run_translate(
    repeats: int = 3, train_seconds: float = 120.0, test_limit: int | None = None
) -> dict[str, Any]:
    """Sentences per second translating the test split (threads set by the caller).

    ``repeats`` rounds, each: the course's greedy over all sentences, the batched peer over
    all sentences, and the one-at-a-time peer over every ``repeats``-th sentence (sorted by
    length, so each round gets short and long ones); so all three meet the same load.
    Greedy and batched peer: the median round; the one-at-a-time peer: all its sentences
    over all its time (each sentence once). Beam search runs once, at the end.
    ``train_seconds``: training budget if no cached model exists yet (see
    :func:`~benchmarks.bench_training.trained_real_model`). ``test_limit``: only the first
    test sources (a quick check; None: all). Called by :func:`run` with
    :data:`TRANSLATE_THREADS` threads.
    """
    corpus = real_data(test_limit=test_limit)
    model, info = trained_real_model(corpus, train_seconds)
    model.eval()
    peer = TorchBaseline.from_course(model).eval()
    grouped: dict[str, list[str]] = {}
    for english, french in corpus.test:
        grouped.setdefault(english, []).append(french)
    sources, references = list(grouped), list(grouped.values())
    src_tok, tgt_tok = corpus.src_tok, corpus.tgt_tok

    def course(beam: int = 1) -> Callable[[], list[str]]:
        return lambda: translate(
            model, sources, src_tok, tgt_tok, beam_size=beam, batch_size=BATCH_SIZE, truncate=True
        )

    def peer_batched() -> list[str]:
        return peer.translate(sources, src_tok, tgt_tok, BATCH_SIZE)

    by_length = sorted(sources, key=lambda sentence: (len(sentence), sentence))
    with torch.inference_mode():
        translate(model, sources[:BATCH_SIZE], src_tok, tgt_tok)  # warm-up
        greedy_times, batched_times, single_seconds = [], [], 0.0
        for round_ in range(repeats):
            seconds, greedy = _timed(course())
            greedy_times.append(seconds)
            seconds, peer_batched_out = _timed(peer_batched)
            batched_times.append(seconds)
            share = by_length[round_::repeats]
            single_seconds += _timed(lambda s=share: peer.translate(s, src_tok, tgt_tok, 1))[0]
        beam_seconds, beam = _timed(course(BEAM_SIZE))
    n = len(sources)
    greedy_rate = n / statistics.median(greedy_times)
    peer_rate = n / single_seconds
    greedy_scores, beam_scores = score(greedy, references), score(beam, references)
    return {
        "translate_sentences_per_second": greedy_rate,
        "translate_beam_sentences_per_second": n / beam_seconds,
        "torch_translate_sentences_per_second": peer_rate,
        "torch_batched_translate_sentences_per_second": n / statistics.median(batched_times),
        "translate_sentences_per_second_ratio_vs_torch": greedy_rate / peer_rate,
        "translate_ratio_vs_torch_batched": greedy_rate * statistics.median(batched_times) / n,
        "translate_same_as_torch_fraction": sum(a == b for a, b in zip(greedy, peer_batched_out))
        / n,
        "translate_test_bleu": greedy_scores.bleu,
        "translate_test_chrf": greedy_scores.chrf,
        "translate_beam_test_bleu": beam_scores.bleu,
        "translate_beam_test_chrf": beam_scores.chrf,
        "translate_setup": {
            "sentences": n,
            "batch_size": BATCH_SIZE,
            "beam_size": BEAM_SIZE,
            "repeats": repeats,
            "statistic": "interleaved rounds: median round for greedy and the batched peer; "
            "the one-at-a-time peer translates a third of the sentences per round (each once); "
            "beam search once",
            "threads": torch.get_num_threads(),
            "model": info,
            "peer": "the same weights in nn.Transformer; greedy without a cache (encoder once, "
            "decoder re-run over the whole prefix each step), one sentence at a time as in "
            "PyTorch's translation tutorial; also timed in the course's batches",
        },
    }


def run(threads: int = THREADS, sections: tuple[str, ...] = ("cache", "translate")) -> dict:
    """Run the decoding benchmarks (the cache one with ``threads`` CPU threads, the
    translation one with :data:`TRANSLATE_THREADS`); one JSON-ready dict."""
    previous_threads = torch.get_num_threads()
    try:
        result: dict[str, Any] = {}
        if "cache" in sections:
            torch.set_num_threads(threads)
            result.update(run_cache())
        if "translate" in sections:
            torch.set_num_threads(TRANSLATE_THREADS)
            result.update(run_translate())
    finally:
        torch.set_num_threads(previous_threads)
    return result


if __name__ == "__main__":
    print(json.dumps(run(sections=tuple(sys.argv[1:]) or ("cache", "translate")), indent=2))
