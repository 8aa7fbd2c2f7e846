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


def plot_toy_curve(results: dict, out: Path) -> None:
    curve = results.get("details", {}).get("toy", {}).get("toy_curve")
    if not curve:
        return
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot([p["train_seconds"] for p in curve], [100 * p["exact_match"] for p in curve], "o-")
    ax.axhline(99, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("training seconds (2 threads)")
    ax.set_ylabel("held-out exact match (%)")
    ax.set_title("Bundled corpus: chapter 6's recipe")
    _save(fig, out / "toy_curve.png")


def plot_real(results: dict, out: Path) -> None:
    keys = ("real_bleu_10min", "real_chrf_10min", "torch_real_bleu_10min", "torch_real_chrf_10min")
    if any(results.get(key) is None for key in keys):
        return
    fig, ax = plt.subplots(figsize=(6, 3.2))
    metrics = ["BLEU", "chrF"]
    ours = [results["real_bleu_10min"], results["real_chrf_10min"]]
    peer = [results["torch_real_bleu_10min"], results["torch_real_chrf_10min"]]
    x = range(len(metrics))
    ax.bar([i - 0.2 for i in x], ours, width=0.4, label="course recipe")
    ax.bar([i + 0.2 for i in x], peer, width=0.4, label="plain nn.Transformer")
    for i in x:
        ax.text(i - 0.2, ours[i], f"{ours[i]:.1f}", ha="center", va="bottom")
        ax.text(i + 0.2, peer[i], f"{peer[i]:.1f}", ha="center", va="bottom")
    ax.set_xticks(list(x), metrics)
    minutes = results.get("details", {}).get("real", {}).get("minutes", 10)
    ax.set_title(f"Tatoeba test split after {minutes:g} minutes of CPU training")
    ax.legend()
    _save(fig, out / "real.png")


OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7")


def plot_real_curve(results: dict, out: Path) -> None:
    """Validation BLEU and chrF against training minutes, course and nn.Transformer, with
    the chrF target (the time-to-quality headline) as a dashed line."""
    real = results.get("details", {}).get("real", {})
    curves = {
        "course recipe": real.get("real_curve"),
        "plain nn.Transformer": real.get("torch_real_curve"),
    }
    if not all(curves.values()):
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), facecolor="white")
    for ax, metric, name in zip(axes, ("bleu", "chrf"), ("BLEU", "chrF")):
        for colour, (label, curve) in zip(OKABE_ITO, curves.items()):
            ax.plot(
                [p["train_seconds"] / 60 for p in curve],
                [p[metric] for p in curve],
                "o-",
                markersize=3,
                color=colour,
                label=label,
            )
        ax.set_xlabel("training minutes (1 thread each, side by side)")
        ax.set_ylabel(f"validation {name}")
        ax.set_title(f"Tatoeba: {name} against training time")
    target = real.get("real_target_chrf")
    if isinstance(target, (int, float)):
        axes[1].axhline(target, color="grey", linestyle="--", linewidth=1, label="chrF target")
    axes[1].legend()
    _save(fig, out / "real_curve.png")


def plot_translation(results: dict, out: Path) -> None:
    """Sentences per second translating the test split: course greedy and beam search, the
    uncached nn.Transformer loop one sentence at a time and batched."""
    decoding = results.get("details", {}).get("decoding", {})
    keys = {
        "course: batched greedy,\nkey/value cache": "translate_sentences_per_second",
        "course: batched\nbeam search": "translate_beam_sentences_per_second",
        "nn.Transformer: one at a\ntime, no cache": "torch_translate_sentences_per_second",
        "nn.Transformer: batched,\nno cache": "torch_batched_translate_sentences_per_second",
    }
    if any(decoding.get(key) is None for key in keys.values()):
        return
    fig, ax = plt.subplots(figsize=(7, 3.4), facecolor="white")
    y = list(range(len(keys)))[::-1]
    values = [decoding[key] for key in keys.values()]
    ax.barh(y, values, color=[OKABE_ITO[0], OKABE_ITO[0], OKABE_ITO[1], OKABE_ITO[1]])
    for yi, value in zip(y, values):
        ax.text(value, yi, f" {value:.0f}", va="center")
    ax.set_yticks(y, list(keys))
    ax.set_xlabel("sentences per second (Tatoeba test split)")
    ax.set_title("Translating many sentences, same weights")
    _save(fig, out / "translation.png")


def plot_ablation(results: dict, out: Path) -> None:
    rows = results.get("details", {}).get("ablation", {}).get("ablation")
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(7, 3.4))
    labels = [row["config"].split(" (")[0] for row in rows]
    y = list(range(len(rows)))[::-1]
    ax.barh(y, [row["bleu"] for row in rows])
    for yi, row in zip(y, rows):
        ax.text(row["bleu"], yi, f" {row['bleu']:.1f}", va="center")
    ax.set_yticks(y, labels)
    ax.set_xlabel("test BLEU")
    minutes = results["details"]["ablation"]["ablation_minutes"]
    ax.set_title(f"One change at a time, {minutes:g} minutes each")
    _save(fig, out / "ablation.png")


def write_plots(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    plot_speed(results, out)
    plot_decoding(results, out)
    plot_toy_curve(results, out)
    plot_real(results, out)
    plot_real_curve(results, out)
    plot_translation(results, out)
    plot_ablation(results, out)
