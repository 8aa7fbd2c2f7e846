"""Speed of course_lib's model against torch.nn.Transformer at the same configuration.

Both models: d_model 128, 4 heads, 3 + 3 layers, d_ff 512, dropout 0.1, a 2,000-word
vocabulary on each side, batch 64 x 20 tokens (a few padded), Adam, cross-entropy.
Steps of the two models are interleaved and the medians compared, so that load from
other processes on a shared machine hits both alike.
"""

from __future__ import annotations

import json
import statistics
import time

import torch
from torch import nn

from benchmarks.bench_training import TorchBaseline
from course_lib.config import TransformerConfig
from course_lib.model import Transformer

VOCAB = 2000
BATCH, SRC_LEN, TGT_LEN = 64, 20, 20
PAD = 0


def make_batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, VOCAB, (BATCH, SRC_LEN), generator=g)
    tgt = torch.randint(4, VOCAB, (BATCH, TGT_LEN + 1), generator=g)
    lengths = torch.randint(SRC_LEN // 2, SRC_LEN + 1, (BATCH,), generator=g)
    for i, n in enumerate(lengths.tolist()):  # realistic: some rows padded
        src[i, n:] = PAD
        tgt[i, n + 1 :] = PAD
    return src, tgt[:, :-1], tgt[:, 1:]


def _models(dropout: float = 0.1) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    ours = Transformer(TransformerConfig.small(VOCAB, VOCAB, dropout=dropout))
    torch.manual_seed(0)
    peer = TorchBaseline(VOCAB, VOCAB, dropout=dropout)
    return ours, peer


def _train_step(model, optimizer, src, tgt_in, labels) -> None:
    logits = model(src, tgt_in)
    loss = nn.functional.cross_entropy(
        logits.reshape(-1, VOCAB), labels.reshape(-1), ignore_index=PAD
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _interleaved(fn_a, fn_b, repeats: int, warmup: int = 3) -> tuple[list[float], list[float]]:
    for _ in range(warmup):
        fn_a()
        fn_b()
    times_a, times_b = [], []
    for i in range(repeats):
        order = (
            ((fn_a, times_a), (fn_b, times_b)) if i % 2 == 0 else ((fn_b, times_b), (fn_a, times_a))
        )
        for fn, times in order:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return times_a, times_b


def profile_step(model, optimizer, src, tgt_in, labels, steps: int = 5, top: int = 6) -> dict:
    """Share of a training step's CPU time per operator (torch.profiler, self time): which
    kernels a step is made of, and so what is ours to make faster."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            _train_step(model, optimizer, src, tgt_in, labels)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    ranked = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return {e.key: round(100 * e.self_cpu_time_total / total, 1) for e in ranked}


def run(repeats: int = 30, threads: int = 2, profile_steps: int = 5) -> dict:
    """Median step times of both models and their ratio (ours / torch; below 1 = faster)."""
    torch.set_num_threads(threads)
    src, tgt_in, labels = make_batch()
    ours, peer = _models()
    ours.train()
    peer.train()
    opt_ours = torch.optim.Adam(ours.parameters(), lr=1e-4)
    opt_peer = torch.optim.Adam(peer.parameters(), lr=1e-4)
    train_ours, train_peer = _interleaved(
        lambda: _train_step(ours, opt_ours, src, tgt_in, labels),
        lambda: _train_step(peer, opt_peer, src, tgt_in, labels),
        repeats,
    )

    profiles = {
        "course_lib": profile_step(ours, opt_ours, src, tgt_in, labels, profile_steps),
        "nn.Transformer": profile_step(peer, opt_peer, src, tgt_in, labels, profile_steps),
    }

    ours.eval()
    peer.eval()

    def forward(model):
        with torch.no_grad():
            model(src, tgt_in)

    eval_ours, eval_peer = _interleaved(lambda: forward(ours), lambda: forward(peer), repeats * 2)
    med = statistics.median
    return {
        "train_step_ms": med(train_ours) * 1e3,
        "torch_train_step_ms": med(train_peer) * 1e3,
        "train_step_ratio_vs_torch": med(train_ours) / med(train_peer),
        "inference_forward_ms": med(eval_ours) * 1e3,
        "torch_inference_forward_ms": med(eval_peer) * 1e3,
        "inference_forward_ratio_vs_torch": med(eval_ours) / med(eval_peer),
        "train_step_profile_percent": profiles,
        "speed_config": "d_model 128, 4 heads, 3+3 layers, d_ff 512, dropout 0.1, "
        f"vocab {VOCAB}, batch {BATCH}x{SRC_LEN}, {threads} threads, "
        f"{repeats} interleaved repeats (median)",
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
