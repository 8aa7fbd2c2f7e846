"""Chapter 3's attention diagrams.

* :func:`attention_idea` - one word's query collecting the other words' values (an illustration).
* :func:`scaled_dot_product_diagram` - Q, K -> MatMul -> scale -> mask -> softmax -> MatMul V.
* :func:`multi_head_diagram` - project, split into heads, attend, concatenate, project,
  with the tensor shapes at every stage.
* :func:`attention_heatmaps` - attention weights as heatmaps, words on both axes, a colour bar
  (chapter 4 uses it too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from course_lib.diagrams.draw import COLORS, INK, arrow, bottom, box, canvas, right, top
from course_lib.diagrams.layers import Item, check_words, draw_column
from course_lib.errors import CourseLibError


def attention_idea(
    words: Sequence[str] = ("I", "love", "pizza"),
    weights: Sequence[float] = (0.45, 0.15, 0.40),
    query: int = 1,
) -> Figure:
    """One word (``words[query]``) gathers information from every word, with ``weights``.

    The query sits on top, the keys/values below; each line is as thick as its weight and
    labelled with it. The weights are an illustration: positive, summing to 1.
    """
    words = check_words(words, "words", "attention_idea")
    if len(weights) != len(words):
        raise CourseLibError(
            f"attention_idea: {len(words)} words but {len(weights)} weights; give one per word"
        )
    if any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in weights):
        raise CourseLibError("attention_idea: weights must be numbers >= 0")
    if abs(sum(weights) - 1.0) > 1e-6:
        raise CourseLibError(f"attention_idea: weights must sum to 1, got {sum(weights):.3f}")
    if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < len(words):
        raise CourseLibError(f"attention_idea: query must be an index into words, got {query!r}")
    n = len(words)
    step = 2.1
    fig, ax = canvas(step * n + 1.6, 3.3)
    x0 = 1.6
    query_box = box(
        ax,
        x0 + query * step + step / 2 - 0.8,
        2.25,
        1.6,
        0.6,
        words[query],
        color="orange",
        fontsize=13,
        bold=True,
    )
    ax.text(0.15, 2.55, "query", fontsize=11, va="center", color=INK)
    ax.text(0.15, 0.55, "keys and\nvalues", fontsize=11, va="center", color=INK)
    for i, (word, weight) in enumerate(zip(words, weights)):
        key_box = box(
            ax, x0 + i * step + step / 2 - 0.8, 0.25, 1.6, 0.6, word, color="sky", fontsize=13
        )
        start, end = top(key_box), bottom(query_box)
        ax.plot(
            [start[0], end[0]],
            [start[1], end[1]],
            color=COLORS["vermillion"],
            linewidth=1 + 14 * weight,
            alpha=0.75,
            solid_capstyle="butt",
            zorder=0,
        )
        mid_x = start[0] + 0.55 * (end[0] - start[0])
        ax.text(
            mid_x + (0.2 if i >= query else -0.2),
            1.55,
            f"{weight:.2f}",
            ha="left" if i >= query else "right",
            va="center",
            fontsize=11,
            color=INK,
            bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none"),
        )
    ax.text(
        (x0 + step * n) / 2 + 0.8,
        3.1,
        f'"{words[query]}" gathers information from every word (made-up weights)',
        ha="center",
        va="center",
        fontsize=12,
        color=INK,
    )
    return fig


def scaled_dot_product_diagram() -> Figure:
    """Scaled dot-product attention, bottom to top, with what each step does on the right.

    Q and K are multiplied (one score per query-key pair), scaled by 1/sqrt(d_k), masked
    (optional: False -> minus infinity), turned into weights by a softmax over the keys, and
    the weights average the values V (equation 1 of the paper).
    """
    fig, ax = canvas(9.4, 7.0)
    cx, width, gap = 2.2, 2.4, 0.4
    q = box(ax, 0.55, 0.2, 1.55, 0.7, "Q\n(…, q_len, d_k)", color="sky", fontsize=10.5)
    k = box(ax, 2.3, 0.2, 1.55, 0.7, "K\n(…, k_len, d_k)", color="sky", fontsize=10.5)
    v = box(ax, 4.3, 0.2, 1.55, 0.7, "V\n(…, k_len, d_v)", color="sky", fontsize=10.5)
    items = [
        Item("box", r"MatMul:  $Q K^\top$", "orange"),
        Item("box", r"Scale:  $\div \sqrt{d_k}$", "orange"),
        Item("box", "Mask (optional)", "grey", dashed=True),
        Item("box", "Softmax over the keys", "orange"),
        Item("box", "MatMul:  weights · V", "orange"),
    ]
    rects = draw_column(ax, cx, 1.3, width, items, gap=gap)
    for source in (q, k):
        arrow(ax, top(source), (top(source)[0], rects[0][1]))
    matmul = rects[-1]
    lane = top(v)[0]
    ax.plot([lane, lane], [top(v)[1], matmul[1] + matmul[3] / 2], color=INK, linewidth=1.4)
    arrow(ax, (lane, matmul[1] + matmul[3] / 2), right(matmul))
    arrow(ax, top(matmul), (cx, top(matmul)[1] + 0.45))
    ax.text(cx, top(matmul)[1] + 0.6, "output", ha="center", va="bottom", fontsize=11)
    notes = [
        "scores (…, q_len, k_len):\none per query–key pair",
        "keeps the scores near\nvariance 1 for any d_k",
        "False → −∞ (True = may attend):\npadding, or future words",
        "weights ≥ 0, each row sums to 1",
        "(…, q_len, d_v): a weighted\naverage of the values",
    ]
    for rect, note in zip(rects, notes):
        ax.text(5.55, rect[1] + rect[3] / 2, note, va="center", fontsize=10.5, color=INK)
    ax.text(
        4.7,
        6.75,
        r"Attention$(Q, K, V) = \mathrm{softmax}(Q K^\top / \sqrt{d_k})\, V$",
        ha="center",
        va="center",
        fontsize=13,
        color=INK,
    )
    return fig


def _check_size(value: Any, name: str, function: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CourseLibError(f"{function}: {name} must be an integer >= 1, got {value!r}")


def multi_head_diagram(n_heads: int = 8, d_model: int = 512) -> Figure:
    """Multi-head attention as tensor shapes: project, split, attend per head, concatenate,
    project. The shapes are written for ``d_model`` and ``n_heads`` (the paper: 512 and 8,
    so d_k = 64 per head).
    """
    _check_size(n_heads, "n_heads", "multi_head_diagram")
    _check_size(d_model, "d_model", "multi_head_diagram")
    if d_model % n_heads:
        raise CourseLibError(
            f"multi_head_diagram: d_model ({d_model}) must be divisible by n_heads ({n_heads})"
        )
    d_k = d_model // n_heads
    fig, ax = canvas(10.6, 8.1)
    column_x = (1.25, 3.25, 5.25)
    width = 1.75
    inputs = {"Q": "queries", "K": "keys", "V": "values"}
    for cx, name in zip(column_x, "QKV"):
        ax.text(cx, 0.3, f"input ({inputs[name]})", ha="center", va="center", fontsize=10.5)
        proj = box(
            ax, cx - width / 2, 0.75, width, 0.6, f"Linear  $W^{name}$", color="purple", fontsize=11
        )
        arrow(ax, (cx, 0.47), bottom(proj))
        split = box(
            ax, cx - width / 2, 1.8, width, 0.75, "split into\nheads", color="grey", fontsize=10.5
        )
        arrow(ax, top(proj), bottom(split))
        arrow(ax, top(split), (cx, 3.05))
    # A deck of attention cards: one per head, the front one labelled.
    deck_x, deck_y, deck_w, deck_h = 0.3, 3.05, 5.9, 0.85
    shown = min(n_heads, 4)
    for i in reversed(range(shown)):
        label = "" if i else f"scaled dot-product attention:\nhead 1, head 2, … head {n_heads}"
        box(ax, deck_x + 0.13 * i, deck_y + 0.13 * i, deck_w, deck_h, label, color="orange")
    deck_top = deck_y + deck_h + 0.13 * (shown - 1)
    concat = box(
        ax, 1.35, deck_top + 0.5, 3.8, 0.7, "concatenate the heads", color="grey", fontsize=11
    )
    arrow(ax, (3.25, deck_top), bottom(concat))
    out_proj = box(ax, 1.95, concat[1] + 1.1, 2.6, 0.6, "Linear  $W^O$", color="purple")
    arrow(ax, top(concat), bottom(out_proj))
    arrow(ax, top(out_proj), (3.25, top(out_proj)[1] + 0.4))
    ax.text(3.25, top(out_proj)[1] + 0.5, "output", ha="center", va="bottom", fontsize=11)
    # The shapes, on the right, level with the stage they describe.
    shape_x = 7.05
    stages = [
        (0.3, f"(batch, seq, d_model)\n= (batch, seq, {d_model})"),
        (1.05, f"(batch, seq, d_model)\n= (batch, seq, {d_model})"),
        (
            2.17,
            f"view + transpose(1, 2):\n(batch, heads, seq, d_k)\n= (batch, {n_heads}, seq, {d_k})",
        ),
        (
            deck_y + 0.55,
            f"all heads in one batched\nproduct: weights\n(batch, {n_heads}, q_len, k_len),"
            f"\nout (batch, {n_heads}, seq, {d_k})",
        ),
        (
            concat[1] + concat[3] / 2,
            f"transpose + reshape:\n(batch, seq, {n_heads}×{d_k} = {d_model})",
        ),
        (out_proj[1] + out_proj[3] / 2, f"(batch, seq, {d_model})"),
    ]
    for y, text in stages:
        ax.text(shape_x, y, text, va="center", fontsize=10, color=INK, family="DejaVu Sans Mono")
    ax.plot([6.8, 6.8], [0.1, top(out_proj)[1]], color=COLORS["grey"], linewidth=1)
    ax.text(
        5.3,
        7.85,
        f"Multi-head attention: h = {n_heads} heads of $d_k = d_{{model}} / h = "
        f"{d_model} / {n_heads} = {d_k}$ dimensions",
        ha="center",
        va="center",
        fontsize=12.5,
        color=INK,
    )
    return fig


def attention_heatmaps(
    maps: Any,
    row_words: Sequence[str],
    column_words: Sequence[str],
    titles: Sequence[str],
    suptitle: str,
    *,
    row_label: str = "query",
    column_label: str = "key",
    max_columns: int = 2,
) -> Figure:
    """One heatmap per attention map (rows: queries, columns: keys), words on both axes,
    the colour-blind-safe ``viridis`` scale from 0 to 1 and one shared colour bar.

    ``maps`` is a sequence (or a tensor) of ``(len(row_words), len(column_words))`` weights,
    laid out ``max_columns`` to a row.
    """
    rows = check_words(row_words, "row_words", "attention_heatmaps")
    columns = check_words(column_words, "column_words", "attention_heatmaps")
    maps = [m.detach().cpu().numpy() if hasattr(m, "detach") else m for m in maps]
    if isinstance(max_columns, bool) or not isinstance(max_columns, int) or max_columns < 1:
        raise CourseLibError(f"attention_heatmaps: max_columns must be >= 1, got {max_columns!r}")
    if not maps or len(maps) != len(titles):
        raise CourseLibError(
            f"attention_heatmaps: give one title per map ({len(maps)} maps, {len(titles)} titles)"
        )
    for m in maps:
        shape = tuple(getattr(m, "shape", ()))
        if shape != (len(rows), len(columns)):
            raise CourseLibError(
                f"attention_heatmaps: each map must have shape ({len(rows)}, {len(columns)}) "
                f"(rows: {row_label}s, columns: {column_label}s), got {shape}"
            )
    n_cols = min(len(maps), max_columns)
    n_rows = -(-len(maps) // n_cols)
    cell_w = 0.38 * len(columns) + 1.3
    cell_h = 0.36 * len(rows) + 1.4
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=(max(5.5, cell_w * n_cols + 1.2), cell_h * n_rows + 0.6),
        squeeze=False,
        layout="constrained",
    )
    plt.close(fig)
    fig.patch.set_facecolor("white")
    axes = list(axes.flat)
    for ax in axes[len(maps) :]:
        ax.set_axis_off()
    image = None
    for i, (ax, m, title) in enumerate(zip(axes, maps, titles)):
        image = ax.imshow(m, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        first_column = i % n_cols == 0
        ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
        ax.set_yticks(range(len(rows)), rows if first_column else [])
        ax.set_xlabel(column_label)
        if first_column:
            ax.set_ylabel(row_label)
        if len(maps) > 1:
            ax.set_title(title, fontsize=11)
    if len(maps) == 1:  # one map: its title goes under the figure's, where it has room
        suptitle = f"{suptitle}\n{titles[0]}"
    fig.colorbar(image, ax=axes, shrink=0.8 if n_rows > 1 else 0.9, label="attention weight")
    fig.suptitle(suptitle, fontsize=12)
    return fig
