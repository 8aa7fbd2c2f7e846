"""Chapter 3's encoder layer diagram: :func:`encoder_layer_diagram`, one encoder layer with
its residual paths, post-norm and pre-norm (the attention diagrams are in
:mod:`course_lib.diagrams.attention`)."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from course_lib.diagrams.draw import COLORS, arrow, bottom, canvas, top
from course_lib.diagrams.layers import (
    ADD,
    Item,
    Rect,
    check_norm,
    draw_column,
    draw_residual,
    sublayer,
)


def _encoder_items(norm: str) -> list[Item]:
    attention = sublayer("multi-head\nself-attention", "attention", 0.7)
    feed_forward = sublayer("feed-forward", "feed_forward")
    layer_norm = sublayer("LayerNorm", "norm", 0.45)
    if norm == "post":
        return [attention, ADD, layer_norm, feed_forward, ADD, layer_norm]
    return [layer_norm, attention, ADD, layer_norm, feed_forward, ADD]


def _draw_encoder_layer(ax: Any, cx: float, norm: str, y0: float = 0.7) -> list[Rect]:
    gap = 0.36
    rects = draw_column(ax, cx, y0, 2.5, _encoder_items(norm), gap=gap)
    lane = cx - 1.65
    arrow(ax, (cx, y0 - 0.4), bottom(rects[0]))
    ax.text(cx, y0 - 0.48, "x (from the layer below)", ha="center", va="top", fontsize=10)
    if norm == "post":
        draw_residual(ax, rects, 0, 1, lane, gap=gap, label="residual")
        draw_residual(ax, rects, 3, 4, lane, gap=gap, label="residual")
    else:
        draw_residual(ax, rects, 0, 2, lane, gap=gap, label="residual")
        draw_residual(ax, rects, 3, 5, lane, gap=gap, label="residual")
    arrow(ax, top(rects[-1]), (cx, top(rects[-1])[1] + 0.4))
    out = (
        "to the next layer"
        if norm == "post"
        else "to the next layer\n(after the last: a final LayerNorm)"
    )
    ax.text(cx, top(rects[-1])[1] + 0.48, out, ha="center", va="bottom", fontsize=10)
    return rects


_NORM_TITLES = {
    "post": ("post-norm (the paper, §3.1)", "x ← LayerNorm(x + Sublayer(x))"),
    "pre": ("pre-norm (norm_first=True)", "x ← x + Sublayer(LayerNorm(x))"),
}


def encoder_layer_diagram(norm: str = "both") -> Figure:
    """One encoder layer with its two residual paths: ``norm="post"`` (the paper's
    ``LayerNorm(x + Sublayer(x))``), ``"pre"`` (``x + Sublayer(LayerNorm(x))``), or
    ``"both"`` side by side. Pre-norm's stack needs a final LayerNorm after its last layer.
    """
    check_norm(norm, "encoder_layer_diagram")
    kinds = ["post", "pre"] if norm == "both" else [norm]
    panel = 5.0
    fig, ax = canvas(panel * len(kinds), 7.3)
    for i, kind in enumerate(kinds):
        cx = panel * i + panel / 2 + 0.35
        _draw_encoder_layer(ax, cx, kind)
        title, formula = _NORM_TITLES[kind]
        ax.text(cx - 0.35, 7.0, title, ha="center", va="center", fontsize=12, fontweight="bold")
        ax.text(cx - 0.35, 6.62, formula, ha="center", va="center", fontsize=10.5)
    if len(kinds) == 2:
        ax.plot([panel, panel], [0.2, 7.15], color=COLORS["grey"], linewidth=1)
    return fig
