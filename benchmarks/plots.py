"""Plots for the book's performance page, drawn from ``benchmarks/results/latest.json``."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_speed(results: dict, out: Path) -> None:
    speed = results.get("details", {}).get("speed")
    if not speed:
        return
    fig, ax = plt.subplots(figsize=(6, 3.2))
    labels = ["training step", "eval forward"]
    ours = [speed["train_step_ms"], speed["inference_forward_ms"]]
    peer = [speed["torch_train_step_ms"], speed["torch_inference_forward_ms"]]
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], ours, width=0.4, label="course_lib")
    ax.bar([i + 0.2 for i in x], peer, width=0.4, label="torch.nn.Transformer")
    for i in x:
        ax.text(i - 0.2, ours[i], f"×{ours[i] / peer[i]:.2f}", ha="center", va="bottom")
    ax.set_xticks(list(x), labels)
    ax.set_ylabel("milliseconds (median)")
    ax.set_title("d_model 128, 3+3 layers, batch 64×20, 2 threads")
    ax.legend()
    _save(fig, out / "speed.png")


def plot_decoding(results: dict, out: Path) -> None:
    by_length = results.get("details", {}).get("decoding", {}).get("decode_time_vs_length")
    if not by_length:
        return
    lengths = sorted(by_length, key=int)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(
        [int(n) for n in lengths],
        [by_length[n]["uncached_seconds"] for n in lengths],
        "o-",
        label="recompute the prefix",
    )
    ax.plot(
        [int(n) for n in lengths],
        [by_length[n]["cached_seconds"] for n in lengths],
        "o-",
        label="key/value cache",
    )
    ax.set_xlabel("new tokens per sentence")
    ax.set_ylabel("seconds for 64 sentences")
    ax.set_title("Greedy decoding, d_model 128, 3+3 layers")
    ax.legend()
    _save(fig, out / "decoding.png")


def plot_bleu_curve(results: dict, out: Path) -> None:
    real = results.get("details", {}).get("real", {})
    curves = {
        name: real.get(key)
        for name, key in (
            ("course recipe", "course_curve"),
            ("torch.nn.Transformer", "torch_curve"),
        )
    }
    curves = {name: curve for name, curve in curves.items() if curve}
    if not curves:
        return
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name, curve in curves.items():
        ax.plot([p["seconds"] / 60 for p in curve], [p["bleu"] for p in curve], "o-", label=name)
    ax.set_xlabel("training minutes")
    ax.set_ylabel("BLEU (validation sample)")
    ax.set_title("Tatoeba English→French, same split, same budget")
    ax.legend()
    _save(fig, out / "bleu_curve.png")


def write_plots(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    plot_speed(results, out)
    plot_decoding(results, out)
    plot_bleu_curve(results, out)
