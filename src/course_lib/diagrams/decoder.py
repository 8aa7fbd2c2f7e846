"""Chapter 4's diagrams: the decoder layer and the causal mask.

* :func:`decoder_layer_diagram` - masked self-attention, cross-attention reading the encoder's
  memory, feed-forward, each with its residual path; post-norm, pre-norm or both.
* :func:`causal_mask_diagram` - the causal mask as a grid over the target tokens: which
  positions each query may read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_lib.diagrams.draw import COLORS, FILLS, INK, arrow, box, canvas, right, top
from course_lib.diagrams.layers import (
    ADD,
    PART_COLORS,
    Rect,
    check_norm,
    draw_column,
    draw_residual,
    sublayer,
)
from course_lib.errors import CourseLibError
from course_lib.tokenize import SPECIAL_TOKENS, START

_TITLES = {
    "post": ("post-norm (the paper, §3.1)", "x ← LayerNorm(x + Sublayer(x))"),
    "pre": ("pre-norm (norm_first=True)", "x ← x + Sublayer(LayerNorm(x))"),
}


def _decoder_items(norm: str) -> list:
    self_attn = sublayer("masked multi-head\nself-attention", "attention", 0.7)
    cross_attn = sublayer("multi-head\ncross-attention", "attention", 0.7)
    feed_forward = sublayer("feed-forward", "feed_forward")
    layer_norm = sublayer("LayerNorm", "norm", 0.42)
    if norm == "post":
        return [
            self_attn,
            ADD,
            layer_norm,
            cross_attn,
            ADD,
            layer_norm,
            feed_forward,
            ADD,
            layer_norm,
        ]
    return [layer_norm, self_attn, ADD, layer_norm, cross_attn, ADD, layer_norm, feed_forward, ADD]


def _draw_decoder_layer(ax: Any, cx: float, norm: str, y0: float = 0.7) -> list[Rect]:
    gap = 0.3
    rects = draw_column(ax, cx, y0, 2.5, _decoder_items(norm), gap=gap, fontsize=11.5)
    lane = cx - 1.55
    arrow(ax, (cx, y0 - 0.4), (cx, y0))
    ax.text(cx, y0 - 0.48, "French words so far", ha="center", va="top", fontsize=10.5)
    pairs = [(0, 1), (3, 4), (6, 7)] if norm == "post" else [(0, 2), (3, 5), (6, 8)]
    for start, end in pairs:
        draw_residual(ax, rects, start, end, lane, gap=gap, label="residual")
    cross = rects[3] if norm == "post" else rects[4]
    memory_x = cx + 2.05
    memory = box(
        ax,
        memory_x - 0.55,
        cross[1] - 0.05,
        1.1,
        cross[3] + 0.1,
        "memory",
        color=PART_COLORS["memory"],
        fontsize=10.5,
    )
    arrow(ax, (memory[0], cross[1] + cross[3] / 2), right(cross))
    ax.text(
        memory_x,
        memory[1] - 0.1,
        "keys, values:\nthe encoder's\noutput",
        ha="center",
        va="top",
        fontsize=9.5,
    )
    ax.text(cx + 0.1, cross[1] - 0.15, "queries", ha="left", va="center", fontsize=9, color=INK)
    out = (
        "to the next layer"
        if norm == "post"
        else "to the next layer\n(after the last: a final LayerNorm)"
    )
    arrow(ax, top(rects[-1]), (cx, top(rects[-1])[1] + 0.4))
    ax.text(cx, top(rects[-1])[1] + 0.48, out, ha="center", va="bottom", fontsize=10)
    return rects


def decoder_layer_diagram(norm: str = "both") -> Figure:
    """One decoder layer: masked self-attention over the French words written so far,
    cross-attention whose keys and values are the encoder's memory, and the feed-forward
    network, each with a residual path. ``norm`` is "post" (the paper), "pre" or "both".
    """
    check_norm(norm, "decoder_layer_diagram")
    kinds = ["post", "pre"] if norm == "both" else [norm]
    panel = 5.5
    fig, ax = canvas(panel * len(kinds), 9.5)
    for i, kind in enumerate(kinds):
        cx = panel * i + 2.05
        _draw_decoder_layer(ax, cx, kind)
        title, formula = _TITLES[kind]
        ax.text(
            panel * i + 2.75, 9.2, title, ha="center", va="center", fontsize=12, fontweight="bold"
        )
        ax.text(panel * i + 2.75, 8.82, formula, ha="center", va="center", fontsize=10.5)
    if len(kinds) == 2:
        ax.plot([panel, panel], [0.2, 9.35], color=COLORS["grey"], linewidth=1)
    return fig


RUNNING_EXAMPLE = (SPECIAL_TOKENS[START], "J'", "aime", "la", "pizza")


def causal_mask_diagram(
    tokens: Sequence[str] = RUNNING_EXAMPLE, predicts: Sequence[str] | None = None
) -> Figure:
    """The causal mask as a grid: row i (a query) may read column j (a key) when j <= i.

    ``tokens`` are the decoder's input tokens; ``predicts``, if given (one per token), is the
    word each position must predict, shown next to its row. Allowed cells are blue with a
    tick and ``True``; blocked cells (the future) are grey with a cross and ``False``.
    """
    if isinstance(tokens, str) or not isinstance(tokens, Sequence) or not tokens:
        raise CourseLibError("causal_mask_diagram: tokens must be a non-empty list of strings")
    if not all(isinstance(t, str) and t for t in tokens):
        raise CourseLibError("causal_mask_diagram: every token must be a non-empty string")
    if predicts is not None and (
        isinstance(predicts, str)
        or not isinstance(predicts, Sequence)
        or len(predicts) != len(tokens)
        or not all(isinstance(p, str) and p for p in predicts)
    ):
        raise CourseLibError(
            f"causal_mask_diagram: predicts must be one string per token ({len(tokens)})"
        )
    n = len(tokens)
    cell = 0.95
    label_w = 3.0 if predicts is not None else 1.6
    fig, ax = canvas(label_w + n * cell + 0.9, n * cell + 2.4)
    x0, y0 = label_w + 0.2, 1.05
    for i in range(n):  # row i is drawn from the top
        y = y0 + (n - 1 - i) * cell
        row_label = tokens[i] if predicts is None else f"{tokens[i]}  (→ {predicts[i]})"
        ax.text(x0 - 0.15, y + cell / 2, row_label, ha="right", va="center", fontsize=11)
        for j in range(n):
            allowed = j <= i
            ax.add_patch(_cell(x0 + j * cell, y, cell, FILLS["blue"] if allowed else FILLS["grey"]))
            ax.text(
                x0 + (j + 0.5) * cell,
                y + cell / 2 + 0.12,
                "✓" if allowed else "✗",
                ha="center",
                va="center",
                fontsize=14,
                color=COLORS["blue"] if allowed else "#555555",
            )
            ax.text(
                x0 + (j + 0.5) * cell,
                y + cell / 2 - 0.22,
                "True" if allowed else "False",
                ha="center",
                va="center",
                fontsize=8.5,
                color=INK,
            )
    for j, token in enumerate(tokens):
        ax.text(x0 + (j + 0.5) * cell, y0 - 0.15, token, ha="center", va="top", fontsize=11)
    grid_mid = x0 + n * cell / 2
    ax.text(grid_mid, 0.35, "keys: the positions that may be read", ha="center", fontsize=10.5)
    ax.text(
        0.15,
        y0 + n * cell + 0.3,
        "queries" + (" (→ the word each must predict)" if predicts is not None else ""),
        ha="left",
        va="bottom",
        fontsize=10.5,
    )
    ax.text(
        (label_w + n * cell + 0.9) / 2,
        y0 + n * cell + 0.85,
        "The causal mask: each position reads itself and the positions before it",
        ha="center",
        va="bottom",
        fontsize=12,
        fontweight="bold",
    )
    return fig


def _cell(x: float, y: float, size: float, color: str) -> Any:
    return Rectangle((x, y), size, size, facecolor=color, edgecolor="white", linewidth=2)


__all__ = ["RUNNING_EXAMPLE", "causal_mask_diagram", "decoder_layer_diagram"]
