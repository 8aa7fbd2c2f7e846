"""Plots kept out of the training and inference code.

Two sections, one per step that draws:

* attention pictures (step 7): heat maps of an
  :class:`~course_lib.attention_maps.AttentionMaps` or
  :class:`~course_lib.attention_maps.Alignment`;
* training plots (step 6): the loss history and the live plot.

Every function returns a closed matplotlib ``Figure`` or ``Axes`` (shown once, as a
notebook cell's value), with the tokens on both axes of a heat map, a colour bar and the
colour-blind-safe ``viridis`` colour map.
"""

from __future__ import annotations

from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display

from course_lib.attention_maps import Alignment, AttentionMaps
from course_lib.errors import CourseLibError

# ----------------------------------------------------------------------------------------
# Attention pictures (step 7)
# ----------------------------------------------------------------------------------------


def plot_alignment(
    alignment: Alignment,
    layer: int | None = None,
    head: int | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """One heatmap: target tokens (rows) against source tokens (columns).

    ``layer=None`` averages over layers, ``head=None`` over heads. Returns the matplotlib
    ``Axes`` (a new figure when ``ax`` is None).
    """
    if not isinstance(alignment, Alignment):
        raise CourseLibError(f"expected an Alignment, got {type(alignment).__name__}")
    n_layers, n_heads = alignment.weights.shape[:2]
    for name, value, count in (("layer", layer, n_layers), ("head", head, n_heads)):
        if value is not None and not (isinstance(value, int) and 0 <= value < count):
            raise CourseLibError(f"{name} must be None or in 0..{count - 1}, got {value!r}")
    chosen = alignment.weights
    chosen = chosen.mean(dim=0) if layer is None else chosen[layer]
    chosen = chosen.mean(dim=0) if head is None else chosen[head]
    standalone = ax is None
    if standalone:
        width = max(3.5, 0.6 * len(alignment.source_tokens) + 2.3)
        height = max(2.5, 0.45 * len(alignment.target_tokens) + 1.2)
        fig, ax = plt.subplots(figsize=(width, height))
        plt.close(fig)  # shown once, as the cell's value
    image = ax.imshow(chosen.numpy(), cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    if standalone:
        ax.figure.colorbar(image, ax=ax, fraction=0.05, pad=0.04, label="attention weight")
    ax.set_xticks(range(len(alignment.source_tokens)))
    ax.set_xticklabels(alignment.source_tokens, rotation=45, ha="right")
    ax.set_yticks(range(len(alignment.target_tokens)))
    ax.set_yticklabels(alignment.target_tokens)
    ax.set_xlabel("English (source)")
    ax.set_ylabel("French (generated)")
    if title is None:
        where = "all layers" if layer is None else f"layer {layer + 1}"
        heads = "mean of heads" if head is None else f"head {head + 1}"
        title = f"{where}, {heads}"
    ax.set_title(title, fontsize=9)
    return ax


def plot_cross_attention(alignment: Alignment) -> Any:
    """A grid of heatmaps: one row per decoder layer, one column per head, plus the mean.

    The last column averages the heads of each layer; the bottom-right panel averages all
    layers and heads. Returns the matplotlib ``Figure``.
    """
    if not isinstance(alignment, Alignment):
        raise CourseLibError(f"expected an Alignment, got {type(alignment).__name__}")
    n_layers, n_heads = alignment.weights.shape[:2]
    cell_w = max(1.8, 0.45 * len(alignment.source_tokens) + 1.0)
    cell_h = max(1.6, 0.32 * len(alignment.target_tokens) + 0.8)
    fig, axes = plt.subplots(
        n_layers + 1,
        n_heads + 1,
        figsize=(cell_w * (n_heads + 1), cell_h * (n_layers + 1)),
        squeeze=False,
    )
    plt.close(fig)
    for layer in range(n_layers):
        for head in range(n_heads):
            plot_alignment(
                alignment,
                layer,
                head,
                ax=axes[layer][head],
                title=f"layer {layer + 1} head {head + 1}",
            )
        plot_alignment(
            alignment, layer, None, ax=axes[layer][n_heads], title=f"layer {layer + 1} mean"
        )
    for head in range(n_heads):
        axes[n_layers][head].set_axis_off()
    plot_alignment(alignment, None, None, ax=axes[n_layers][n_heads], title="mean of all")
    for layer in range(n_layers):  # axis titles once per row and column: less clutter
        for head in range(n_heads + 1):
            if head > 0:
                axes[layer][head].set_ylabel("")
            if layer < n_layers - 1 or head < n_heads:
                axes[layer][head].set_xlabel("")
    fig.suptitle(f"Cross-attention: {alignment.source!r} -> {alignment.translation!r}")
    fig.tight_layout()
    _shared_colorbar(fig, axes[0][0].images)
    return fig


_KIND_TITLES = {
    "encoder_self": "encoder self-attention",
    "decoder_self": "decoder masked self-attention",
    "cross": "cross-attention",
}
_KIND_AXES = {
    "encoder_self": ("English (query)", "English (key)"),
    "decoder_self": ("French word being chosen", "French read (key)"),
    "cross": ("French word being chosen", "English (key)"),
}
_MASKED_COLOR = "#d9d9d9"  # light grey: positions the causal mask hides


def _shared_colorbar(fig: Any, images: list[Any]) -> None:
    """One colour bar (0 to 1, "attention weight") on the right of a grid of heatmaps."""
    if not images:
        return
    fig.subplots_adjust(right=0.88)
    cax = fig.add_axes((0.91, 0.15, 0.015, 0.7))
    fig.colorbar(images[0], cax=cax, label="attention weight")


def _draw_map(
    ax: Any,
    weights: torch.Tensor,
    rows: list[str],
    cols: list[str],
    title: str,
    causal: bool,
) -> Any:
    """One ``(queries, keys)`` heatmap on ``ax`` with the tokens on both axes; returns the image.

    With ``causal``, the entries the causal mask hides (key after query) are drawn in light
    grey instead of the colour of 0, so "masked" and "not attended" look different.
    """
    values = weights.numpy().astype(float)
    if causal:
        hidden = np.triu(np.ones_like(values, dtype=bool), k=1)
        values = np.ma.masked_array(values, mask=hidden)
    cmap = mpl.colormaps["viridis"].with_extremes(bad=_MASKED_COLOR)
    image = ax.imshow(values, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    ax.set_title(title, fontsize=9)
    return image


def _check_maps(maps: Any) -> None:
    if not isinstance(maps, AttentionMaps):
        raise CourseLibError(
            f"expected AttentionMaps (from attention_maps(...)), got {type(maps).__name__}"
        )


def plot_attention_maps(maps: AttentionMaps) -> Any:
    """A grid: one row per kind of attention, one column per layer, each the mean of the heads.

    Rows: encoder self-attention (English x English), decoder masked self-attention (the
    French word being chosen x the French tokens read; masked entries light grey) and
    cross-attention (French x English). One colour bar, 0 to 1. Returns the ``Figure``.
    """
    _check_maps(maps)
    n_cols = max(maps.encoder_self.size(0), maps.decoder_self.size(0))
    n_src, n_tgt = len(maps.source_tokens), len(maps.target_tokens)
    cell_w = max(2.2, 0.42 * max(n_src, n_tgt) + 1.3)
    fig, axes = plt.subplots(
        3,
        n_cols,
        figsize=(cell_w * n_cols + 1.6, 3 * max(2.1, 0.3 * max(n_src, n_tgt) + 1.3)),
        squeeze=False,
    )
    plt.close(fig)
    images = []
    for r, kind in enumerate(AttentionMaps.KINDS):
        weights = maps.weights(kind)
        rows, cols = maps.labels(kind)
        for layer in range(n_cols):
            ax = axes[r][layer]
            if layer >= weights.size(0):
                ax.set_axis_off()
                continue
            title = f"{_KIND_TITLES[kind]}, layer {layer + 1}"
            images.append(
                _draw_map(ax, weights[layer].mean(0), rows, cols, title, kind == "decoder_self")
            )
            ax.set_xlabel(_KIND_AXES[kind][1], fontsize=8)
            if layer == 0:
                ax.set_ylabel(_KIND_AXES[kind][0], fontsize=8)
    fig.suptitle(
        f"{maps.source!r} -> {maps.translation!r}: the three kinds of attention (mean over heads)"
    )
    fig.tight_layout()
    _shared_colorbar(fig, images)
    return fig


def plot_attention_heads(maps: AttentionMaps, kind: str) -> Any:
    """Every head of every layer for one kind of attention: one row per layer.

    ``kind`` is ``"encoder_self"``, ``"decoder_self"`` or ``"cross"``. One colour bar, 0 to
    1; for the decoder's self-attention the entries the causal mask hides are light grey.
    Returns the ``Figure``.
    """
    _check_maps(maps)
    weights = maps.weights(kind)
    rows, cols = maps.labels(kind)
    n_layers, n_heads = weights.shape[:2]
    cell_w = max(2.0, 0.42 * len(cols) + 1.2)
    cell_h = max(1.9, 0.3 * len(rows) + 1.1)
    fig, axes = plt.subplots(
        n_layers, n_heads, figsize=(cell_w * n_heads + 1.6, cell_h * n_layers), squeeze=False
    )
    plt.close(fig)
    images = []
    for layer in range(n_layers):
        for head in range(n_heads):
            ax = axes[layer][head]
            title = f"layer {layer + 1} head {head + 1}"
            images.append(
                _draw_map(ax, weights[layer, head], rows, cols, title, kind == "decoder_self")
            )
            if head == 0:
                ax.set_ylabel(_KIND_AXES[kind][0], fontsize=8)
            if layer == n_layers - 1:
                ax.set_xlabel(_KIND_AXES[kind][1], fontsize=8)
    fig.suptitle(f"{_KIND_TITLES[kind].capitalize()}, every head: {maps.source!r}")
    fig.tight_layout()
    _shared_colorbar(fig, images)
    return fig


# ----------------------------------------------------------------------------------------
# Training plots (step 6)
# ----------------------------------------------------------------------------------------


def plot_history(history: Any, ax: Any = None) -> Any:
    """Training and validation loss against the step, on ``ax`` (a new closed figure's Axes if
    None); returns the Axes. ``history`` is a :class:`course_lib.trainer.History` (records
    with ``"step"`` and ``"loss"`` in ``history.train`` and ``history.valid``)."""
    if ax is None:
        figure, ax = plt.subplots(figsize=(6, 3.5), facecolor="white")
        plt.close(figure)
    if history.train:
        ax.plot(
            [h["step"] for h in history.train],
            [h["loss"] for h in history.train],
            label="training loss",
            lw=1,
            color="#0072B2",  # Okabe-Ito blue
        )
    if history.valid:
        ax.plot(
            [h["step"] for h in history.valid],
            [h["loss"] for h in history.valid],
            "o-",
            label="validation loss",
            color="#D55E00",  # Okabe-Ito vermillion
        )
    ax.set_xlabel("step")
    ax.set_ylabel("loss (label-smoothed, per token)")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    return ax


class LiveLossPlot:
    """:func:`plot_history` redrawn in place in a notebook (an IPython display with an id):
    ``plot = LiveLossPlot(); plot.update(history)`` after each logged step."""

    def __init__(self) -> None:
        self.figure, self.ax = plt.subplots(figsize=(6, 3.5), facecolor="white")
        plt.close(self.figure)
        self.handle = display(self.figure, display_id=True)

    def update(self, history: Any) -> None:
        """Redraw the figure from ``history``."""
        self.ax.clear()
        plot_history(history, self.ax)
        if self.handle is not None:
            self.handle.update(self.figure)
