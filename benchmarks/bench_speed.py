"""Speed of course_lib's model against torch.nn.Transformer at the same configuration.

Both models: d_model 128, 4 heads, 3 + 3 layers, d_ff 512, dropout 0.1, a 2,000-word
vocabulary on each side, batch 64 x 20 tokens (a few padded), the course's Adam
(``make_optimizer``, the same for every model), cross-entropy.
Three training steps are interleaved - course_lib eager, course_lib's fast path
(:func:`course_lib.fast.training_forward`: cheap dropout masks and the math attention
kernel for short sentences on the CPU, ``torch.compile`` on CUDA) and nn.Transformer - and
the medians compared, so that load from other processes on a shared machine hits all
alike. All in float32; then the same three as the recipes train them (no dropout, the
recipes' precision: bfloat16 autocast on a CPU with bfloat16 instructions). The headline
``train_step_ratio_vs_torch`` is the fast path's; the eager ratio stands beside it. What the fast path's first step costs beyond an
eager step (``compile_seconds``: compiling, with an empty compiler cache, where the path
compiles; about nothing where it does not) is stated, with the steps that pay it back.

On a CUDA machine :func:`run_cuda` measures the paper's base configuration with mixed
precision: tokens per second and model-FLOPs utilisation.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from benchmarks.bench_training import TorchBaseline
from course_lib.config import TransformerConfig
from course_lib.fast import MATH_ATTENTION_MAX_LEN, training_forward
from course_lib.model import Transformer
from course_lib.optim import make_optimizer
from course_lib.runtime import mixed_precision, resolve_precision

VOCAB = 2000
BATCH, SRC_LEN, TGT_LEN = 64, 20, 20
PAD = 0
#: Peak dense bf16 tensor throughput (FLOP/s) of GPUs the benchmark may meet, for MFU.
PEAK_BF16_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


def make_batch(
    seed: int = 0, batch: int = BATCH, src_len: int = SRC_LEN, tgt_len: int = TGT_LEN
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source ids ``(batch, src_len)``, decoder input and labels ``(batch, tgt_len)``; rows
    have random lengths (the rest padded), as real batches do."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, VOCAB, (batch, src_len), generator=g)
    tgt = torch.randint(4, VOCAB, (batch, tgt_len + 1), generator=g)
    lengths = torch.randint(src_len // 2, src_len + 1, (batch,), generator=g)
    for i, n in enumerate(lengths.tolist()):  # realistic: some rows padded
        src[i, n:] = PAD
        tgt[i, min(n, tgt_len) + 1 :] = PAD
    return src, tgt[:, :-1], tgt[:, 1:]


def _models(dropout: float = 0.1) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    ours = Transformer(TransformerConfig.small(VOCAB, VOCAB, dropout=dropout))
    torch.manual_seed(0)
    peer = TorchBaseline(VOCAB, VOCAB, dropout=dropout)
    return ours, peer


def _adam(model: nn.Module) -> torch.optim.Adam:
    """The course's Adam (``make_optimizer``: the fused kernel where torch has one), at a
    fixed small learning rate; every model of the comparison gets the same."""
    optimizer = make_optimizer(model)
    for group in optimizer.param_groups:
        group["lr"] = 1e-4
    return optimizer


def _train_step(forward, optimizer, src, tgt_in, labels, dtype=None) -> None:
    """One step; ``dtype`` (e.g. ``torch.bfloat16``) runs the forward under autocast."""
    with mixed_precision("cpu", dtype):
        logits = forward(src, tgt_in)
    loss = nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=PAD
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _interleaved(fns: list[Callable[[], None]], repeats: int, warmup: int = 3) -> list[list[float]]:
    """Seconds per call of each function, called in turn (rotating which goes first)."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for i in range(repeats):
        for j in range(len(fns)):
            k = (i + j) % len(fns)
            start = time.perf_counter()
            fns[k]()
            times[k].append(time.perf_counter() - start)
    return times


def profile_step(step: Callable[[], None], steps: int = 5, top: int = 6) -> dict:
    """Share of a training step's CPU time per operator (torch.profiler, self time): which
    kernels a step is made of, and so what is ours to make faster. Inductor's generated
    kernels of the fast path appear as one entry each (``cpp_fused_...``)."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    ranked = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return {e.key: round(100 * e.self_cpu_time_total / total, 1) for e in ranked}


def _cold_compile(step: Callable[[], None]) -> float:
    """Seconds of the fast path's first training step, compiled with an empty compiler
    cache (what a first run pays; later runs of the same model reuse the cache)."""
    previous = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
        try:
            start = time.perf_counter()
            step()
            return time.perf_counter() - start
        finally:
            if previous is None:
                os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
            else:
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = previous


def load_average() -> float | None:
    """The machine's 1-minute load average (None where the OS does not say)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _three_steps(batch, mode: str, dropout: float = 0.1, dtype: torch.dtype | None = None):
    """Training steps of course_lib eager, course_lib's fast path (``training_forward(model,
    mode)``) and nn.Transformer with ``dropout``, each model with its own Adam; ``dtype``
    autocasts all three. Returns ``({"eager", "fast", "torch": step}, fast forward, course model,
    nn.Transformer)``."""
    ours, peer = _models(dropout)
    fast_model = copy.deepcopy(ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a fallback to eager is reported in fast_path
        fast = training_forward(fast_model, mode)
    steps = {}
    for name, model, forward in (
        ("eager", ours, ours),
        ("fast", fast_model, fast),
        ("torch", peer, peer),
    ):
        optimizer = _adam(model.train())
        steps[name] = lambda f=forward, o=optimizer: _train_step(f, o, *batch, dtype=dtype)
    return steps, fast, ours, peer


def _recipe_steps(batch, repeats: int) -> dict:
    """The three steps as the course's recipes train: without dropout
    (``RECIPE_MODEL_CHANGES``) and in the recipes' precision (``"auto"``: bfloat16 autocast
    on a CPU with bfloat16 instructions, else float32), the fast path ``"auto"``;
    interleaved, milliseconds (median) and ratios to nn.Transformer."""
    dtype = resolve_precision("auto", torch.device("cpu"))
    steps, fast, _, _ = _three_steps(batch, "auto", dropout=0.0, dtype=dtype)
    eager_t, fast_t, torch_t = _interleaved(list(steps.values()), repeats)
    med = statistics.median
    precision = "float32" if dtype is None else str(dtype).removeprefix("torch.") + " autocast"
    return {
        "recipe_precision": precision,
        "recipe_fast_path": fast.info.path,
        "recipe_train_step_ms": med(eager_t) * 1e3,
        "recipe_fast_train_step_ms": med(fast_t) * 1e3,
        "recipe_torch_train_step_ms": med(torch_t) * 1e3,
        "recipe_train_step_ratio_vs_torch": med(fast_t) / med(torch_t),
        "recipe_eager_train_step_ratio_vs_torch": med(eager_t) / med(torch_t),
    }


def run(repeats: int = 30, threads: int = 2, profile_steps: int = 5) -> dict:
    """Median step times of the three training paths and the eval forward; ratios are
    course_lib / torch (below 1 = faster)."""
    torch.set_num_threads(threads)
    batch = make_batch()
    src, tgt_in, _ = batch
    load_before = load_average()
    steps, fast, ours, peer = _three_steps(batch, "on")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a fallback to eager is reported in fast_path
        first_step = _cold_compile(steps["fast"])
    eager_t, fast_t, torch_t = _interleaved(list(steps.values()), repeats)
    med = statistics.median
    compile_seconds = max(first_step - med(eager_t), 0.0)
    saved = med(eager_t) - med(fast_t)
    profiles = {
        "course_lib": profile_step(steps["eager"], profile_steps),
        "course_lib fast": profile_step(steps["fast"], profile_steps),
        "nn.Transformer": profile_step(steps["torch"], profile_steps),
    }

    recipe_ms = _recipe_steps(batch, repeats)
    ours.eval()
    peer.eval()

    def forward(model):
        with torch.no_grad():
            model(src, tgt_in)

    eval_ours, eval_peer = _interleaved([lambda: forward(ours), lambda: forward(peer)], repeats * 2)
    return {
        "train_step_ms": med(eager_t) * 1e3,
        "fast_train_step_ms": med(fast_t) * 1e3,
        "torch_train_step_ms": med(torch_t) * 1e3,
        "train_step_ratio_vs_torch": med(fast_t) / med(torch_t),
        "eager_train_step_ratio_vs_torch": med(eager_t) / med(torch_t),
        "fast_vs_eager_speedup": med(eager_t) / med(fast_t),
        "compile_seconds": round(compile_seconds, 2),
        "compile_break_even_steps": round(compile_seconds / saved) if saved > 0 else None,
        "fast_path": fast.info.path,
        "fast_path_reason": fast.info.reason,
        "math_attention_max_len": MATH_ATTENTION_MAX_LEN,
        **recipe_ms,
        "inference_forward_ms": med(eval_ours) * 1e3,
        "torch_inference_forward_ms": med(eval_peer) * 1e3,
        "inference_forward_ratio_vs_torch": med(eval_ours) / med(eval_peer),
        "train_step_profile_percent": profiles,
        "load_average": {"before": load_before, "after": load_average()},
        "speed_config": "d_model 128, 4 heads, 3+3 layers, d_ff 512, dropout 0.1, "
        f"vocab {VOCAB}, batch {BATCH}x{SRC_LEN}, {threads} threads, "
        f"{repeats} interleaved repeats (median); fast path: {fast.info.path}",
    }


def train_flops_per_step(
    config: TransformerConfig, batch: int, src_len: int, tgt_len: int
) -> float:
    """Model FLOPs of one training step (forward + backward = 3 x forward; 2 FLOPs per
    multiply-add), counting the matrix products: projections, attention, feed-forward and
    the output layer. Embedding look-ups, norms and softmax are left out, as usual for MFU."""
    d, ff, v = config.d_model, config.d_ff, config.tgt_vocab_size
    encoder = src_len * (4 * d * d + 2 * d * ff + 2 * src_len * d)
    decoder = tgt_len * (4 * d * d + 2 * tgt_len * d)  # masked self-attention
    decoder += tgt_len * (2 * d * d + 2 * src_len * d) + src_len * 2 * d * d  # cross-attention
    decoder += tgt_len * 2 * d * ff
    macs = config.n_encoder_layers * encoder + config.n_decoder_layers * decoder + tgt_len * d * v
    return 3 * 2 * batch * macs


def _cuda_timing(
    mode: str, config: TransformerConfig, batch, dtype, steps: int
) -> tuple[float, float]:
    """(seconds of the first step, seconds per step after it) of a training loop on CUDA
    with ``training_forward(model, mode)`` under autocast to ``dtype``."""
    src, tgt_in, labels = batch
    torch.manual_seed(0)
    model = Transformer(config).to(src.device).train()
    optimizer = _adam(model)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    forward = training_forward(model, mode)

    def step() -> None:
        with torch.autocast("cuda", dtype=dtype):
            logits = forward(src, tgt_in)
        loss = nn.functional.cross_entropy(
            logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=PAD
        )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    start = time.perf_counter()
    step()
    torch.cuda.synchronize()
    first = time.perf_counter() - start
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return first, (time.perf_counter() - start) / steps


def run_cuda(steps: int = 30, batch: int = 128, length: int = 32, vocab: int = 32000) -> dict:
    """The paper's base configuration on CUDA with bfloat16 autocast (float16 with loss
    scaling where bf16 is missing): training tokens (source + target) per second and
    model-FLOPs utilisation, eager and fast path. ``{"cuda_available": False}`` without CUDA."""
    if not torch.cuda.is_available():
        return {"cuda_available": False}
    device = torch.device("cuda")
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    config = TransformerConfig.base(vocab, vocab)
    data = tuple(t.clamp(max=vocab - 1).to(device) for t in make_batch(0, batch, length, length))
    name = torch.cuda.get_device_name(device)
    peak = next((flops for key, flops in PEAK_BF16_FLOPS.items() if key in name), None)
    flops = train_flops_per_step(config, batch, length, length)
    results: dict = {"cuda_device": name, "cuda_dtype": str(dtype), "cuda_batch": [batch, length]}
    for mode, key in (("off", "cuda_eager"), ("on", "cuda_fast")):
        first, per_step = _cuda_timing(mode, config, data, dtype, steps)
        results[f"{key}_step_ms"] = per_step * 1e3
        results[f"{key}_tokens_per_second"] = batch * 2 * length / per_step
        results[f"{key}_first_step_seconds"] = first
        results[f"{key}_mfu"] = flops / per_step / peak if peak else None
    return results


if __name__ == "__main__":
    print(json.dumps({**run(), **run_cuda()}, indent=2))
