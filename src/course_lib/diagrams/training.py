"""Chapter 6's pictures: the teacher-forcing shift, the training loop, attention before/after.

* :func:`teacher_forcing_shift` draws the running example "J' aime la pizza" as the decoder
  reads it (``<start>`` in front) and as it must predict it (``<end>`` at the back): the
  same words, one position apart, and the causal mask that lets position ``i`` read only
  the inputs ``0..i``.
* :func:`training_loop` draws one optimisation step as a cycle: batch -> teacher forcing
  -> forward -> loss -> backward -> clip -> Adam step -> schedule -> next batch.
* :func:`cross_attention_before_after` plots head-averaged cross-attention maps of an
  untrained and a trained model side by side, with the words on both axes and a colour bar.

Each returns a closed :class:`matplotlib.figure.Figure` (a notebook shows it once).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_lib.diagrams.draw import COLORS, FILLS, INK, arrow, bottom, box, canvas, top
from course_lib.errors import CourseLibError
from course_lib.tokenize import END, SPECIAL_TOKENS, START

_MAX_WORDS = 7
_COLUMN, _GAP, _LABEL_WIDTH = 1.25, 0.3, 2.35  # the shift's word boxes; the row titles' width
_GRID_CELL = 0.62  # one cell of the causal mask


def _check_words(words: Any, name: str, function: str, limit: int = _MAX_WORDS) -> list[str]:
    if isinstance(words, str) or not isinstance(words, Sequence) or not words:
        raise CourseLibError(
            f"{function}: {name} must be a non-empty list of str, got {words!r:.60}"
        )
    if not all(isinstance(word, str) and word.strip() for word in words):
        raise CourseLibError(f"{function}: every word of {name} must be a non-empty str")
    if len(words) > limit:
        raise CourseLibError(
            f"{function}: at most {limit} words of {name} fit in the picture, got {len(words)}"
        )
    return list(words)


def _check_shift_arguments(target: Any, highlight: Any, start: Any, end: Any) -> list[str]:
    """The target's words, or :class:`CourseLibError` for a bad argument."""
    function = "teacher_forcing_shift"
    words = _check_words(target, "target", function)
    for name, token in (("start", start), ("end", end)):
        if not isinstance(token, str) or not token.strip():
            raise CourseLibError(f"{function}: {name} must be a non-empty str, got {token!r}")
    n = len(words) + 1
    if highlight is not None and (
        isinstance(highlight, bool) or not isinstance(highlight, int) or not 0 <= highlight < n
    ):
        raise CourseLibError(
            f"{function}: highlight must be a position 0..{n - 1} or None, got {highlight!r}"
        )
    return words


def _draw_shift(ax: Any, inputs: list[str], labels: list[str], highlight: int | None) -> None:
    """The decoder inputs (bottom row), the labels (top row) and the arrows between them."""
    n, column, label_width = len(inputs), _COLUMN, _LABEL_WIDTH
    xs = [label_width + k * (column + _GAP) for k in range(n)]
    y_in, y_label, h = 1.75, 4.45, 0.62
    ax.text(0.1, y_label + h / 2, "labels\n(must predict)", va="center", fontsize=10, color=INK)
    ax.text(0.1, y_in + h / 2, "decoder input\n(reads)", va="center", fontsize=10, color=INK)
    ax.text(0.1, y_in - 0.4, "position", va="center", fontsize=9, color=INK)
    for k in range(n):
        ax.text(xs[k] + column / 2, y_in - 0.4, str(k), ha="center", va="center", fontsize=9)
        future = highlight is not None and k > highlight
        in_box = box(
            ax,
            xs[k],
            y_in,
            column,
            h,
            inputs[k],
            color="grey" if future else "sky",
            dashed=future,
        )
        label_box = box(
            ax,
            xs[k],
            y_label,
            column,
            h,
            labels[k],
            color="orange" if k == highlight else "green",
            bold=k == highlight,
        )
        arrow(ax, top(in_box), bottom(label_box), color=COLORS["blue"], width=1.2)
        if k + 1 < n:  # the label word at k is the input word at k + 1
            arrow(
                ax,
                (xs[k] + column * 0.75, y_label),
                (xs[k + 1] + column * 0.25, y_in + h),
                color=COLORS["vermillion"],
                dashed=True,
                width=1.1,
            )
    ax.text(
        label_width,
        5.85,
        "the same words, one position apart: labels = decoder input shifted left by one",
        fontsize=10.5,
        color=INK,
        fontweight="bold",
    )
    ax.text(
        label_width,
        0.75,
        "solid arrow: position i reads input i (and, through the mask, inputs 0..i) "
        "and predicts label i",
        fontsize=9,
        color=COLORS["blue"],
    )
    ax.text(
        label_width,
        0.35,
        "dashed arrow: the word predicted at position i is the word read at position i + 1",
        fontsize=9,
        color=COLORS["vermillion"],
    )
    if highlight is not None:
        may_read = ", ".join(inputs[: highlight + 1])
        masked = " (grey: later words, masked out)" if highlight < n - 1 else ""
        ax.text(
            label_width,
            y_label + h + 0.3,
            f"position {highlight} predicts “{labels[highlight]}” from {may_read}{masked}",
            fontsize=9,
            color=INK,
        )


def _draw_causal_grid(
    ax: Any, inputs: list[str], labels: list[str], highlight: int | None, grid_x: float
) -> None:
    """The causal mask: rows = position (the word it predicts), columns = input words."""
    n, grid_cell = len(inputs), _GRID_CELL
    top_y = 5.1
    ax.text(
        grid_x + n * grid_cell / 2,
        5.85,
        "causal mask",
        ha="center",
        fontsize=10.5,
        color=INK,
        fontweight="bold",
    )
    for row in range(n):
        for col in range(n):
            allowed = col <= row
            fill = FILLS["orange"] if (allowed and row == highlight) else FILLS["green"]
            ax.add_patch(
                Rectangle(
                    (grid_x + col * grid_cell, top_y - (row + 1) * grid_cell),
                    grid_cell,
                    grid_cell,
                    facecolor=fill if allowed else "white",
                    edgecolor=COLORS["grey"],
                    linewidth=0.8,
                    hatch=None if allowed else "//",
                )
            )
        ax.text(
            grid_x - 0.1,
            top_y - (row + 0.5) * grid_cell,
            labels[row],
            ha="right",
            va="center",
            fontsize=8.5,
            color=INK,
        )
    for col in range(n):
        ax.text(
            grid_x + (col + 0.5) * grid_cell,
            top_y - n * grid_cell - 0.12,
            inputs[col],
            ha="right",
            va="top",
            rotation=45,
            fontsize=8.5,
            color=INK,
        )
    ax.text(grid_x - 0.1, top_y + 0.15, "predicts ↓", ha="right", fontsize=8.5, color=INK)
    ax.text(
        grid_x + n * grid_cell / 2,
        top_y - n * grid_cell - 1.05,
        "reads →  (hatched: masked, a later word)",
        ha="center",
        fontsize=8.5,
        color=INK,
    )


def teacher_forcing_shift(
    target: Sequence[str] = ("J'", "aime", "la", "pizza"),
    *,
    highlight: int | None = 2,
    start: str = SPECIAL_TOKENS[START],
    end: str = SPECIAL_TOKENS[END],
) -> Figure:
    """Draw the teacher-forcing shift of one target sentence, and the causal mask.

    Left: the decoder input ``<start> + target`` (bottom row) and the labels
    ``target + <end>`` (top row), one column per position. A vertical arrow says "position
    ``i`` reads input ``i`` and must predict label ``i``"; a dashed diagonal arrow carries
    each label word to the input one position to its right: the labels are the input
    shifted left by one. For position ``highlight`` the inputs it may attend to (``0..i``)
    are marked, the later ones greyed out. Right: the causal mask as a grid, one row per
    predicted word, one column per input word, allowed cells filled.

    ``target`` is a list of at most seven words (default: the running example).
    ``highlight`` is a position ``0..len(target)`` or None. Raises
    :class:`~course_lib.errors.CourseLibError` for an empty or too long target, non-string
    words, or a ``highlight`` out of range.
    """
    words = _check_shift_arguments(target, highlight, start, end)
    inputs = [start, *words]
    labels = [*words, end]
    n = len(inputs)
    grid_x = _LABEL_WIDTH + n * _COLUMN + (n - 1) * _GAP + 2.0
    fig, ax = canvas(grid_x + n * _GRID_CELL + 1.0, 6.4)
    _draw_shift(ax, inputs, labels, highlight)
    _draw_causal_grid(ax, inputs, labels, highlight, grid_x)
    return fig


_LOOP_STEPS = (
    ("batch\n(bucketed by length)", "grey"),
    ("teacher forcing\n<start>+y  /  y+<end>", "sky"),
    ("forward\nlogits (B, T, V)", "blue"),
    ("loss\nlabel-smoothed CE", "orange"),
    ("backward\nall gradients", "vermillion"),
    ("clip\n‖g‖ ≤ {clip}", "purple"),
    ("Adam step\nβ = (0.9, 0.98)", "green"),
    ("schedule\nwarm-up, 1/√step", "yellow"),
)


def training_loop(*, clip_norm: float | None = 1.0, validate_every: int | None = 100) -> Figure:
    """Draw one training step as a cycle of eight boxes, with the way back to the next batch.

    batch -> teacher forcing -> forward -> loss -> backward -> clip (gradient norm at most
    ``clip_norm``; the box is left out for None) -> Adam step -> learning-rate schedule ->
    the next batch. With ``validate_every`` (steps) a dashed side branch says when the
    trainer validates and writes a checkpoint. Raises
    :class:`~course_lib.errors.CourseLibError` for a ``clip_norm`` that is not a positive
    number or a ``validate_every`` that is not a positive int.
    """
    if clip_norm is not None and (
        isinstance(clip_norm, bool) or not isinstance(clip_norm, (int, float)) or clip_norm <= 0
    ):
        raise CourseLibError(
            f"training_loop: clip_norm must be a positive number or None, got {clip_norm!r}"
        )
    if validate_every is not None and (
        isinstance(validate_every, bool)
        or not isinstance(validate_every, int)
        or validate_every < 1
    ):
        raise CourseLibError(
            f"training_loop: validate_every must be an int >= 1 or None, got {validate_every!r}"
        )
    steps = [
        (text.format(clip=f"{clip_norm:g}") if "{clip}" in text else text, color)
        for text, color in _LOOP_STEPS
        if clip_norm is not None or "{clip}" not in text
    ]
    per_row = (len(steps) + 1) // 2
    w, h, gap = 2.25, 0.95, 0.55
    width = per_row * w + (per_row - 1) * gap + 1.0
    fig, ax = canvas(width, 4.0 if validate_every is None else 4.8)
    y_top, y_bottom = 3.0, 1.0
    if validate_every is None:
        y_top, y_bottom = 2.9, 0.9
    boxes = []
    for index, (text, color) in enumerate(steps):
        if index < per_row:  # left to right along the top
            x, y = 0.5 + index * (w + gap), y_top
        else:  # right to left along the bottom
            k = index - per_row
            x, y = 0.5 + (per_row - 1 - k) * (w + gap), y_bottom
        boxes.append(box(ax, x, y, w, h, text, color=color, fontsize=9.5))
    for a, b in zip(boxes, boxes[1:]):
        ax_, ay, aw, ah = a
        bx, by, bw, bh = b
        if abs(ay - by) < 1e-9:
            going_right = bx > ax_
            start = (ax_ + aw, ay + ah / 2) if going_right else (ax_, ay + ah / 2)
            finish = (bx, by + bh / 2) if going_right else (bx + bw, by + bh / 2)
            arrow(ax, start, finish)
        else:
            arrow(ax, bottom(a), top(b))
    last, first = boxes[-1], boxes[0]
    arrow(ax, top(last), bottom(first), color=COLORS["blue"], width=1.8)
    ax.text(
        first[0] + first[2] / 2 + 0.12,
        (y_top + y_bottom + h) / 2,
        "next step",
        va="center",
        fontsize=9,
        color=COLORS["blue"],
    )
    if validate_every is not None:
        ax.text(
            0.5,
            y_top + h + 0.45,
            f"every {validate_every} steps: validate (loss, exact match, BLEU) "
            "and write a checkpoint",
            fontsize=9.5,
            color=INK,
            bbox={
                "boxstyle": "round,pad=0.3",
                "facecolor": "white",
                "edgecolor": COLORS["grey"],
                "linestyle": "--",
            },
        )
    return fig


def cross_attention_before_after(
    before: Sequence[Any],
    after: Sequence[Any],
    source_words: Sequence[str],
    predicted_words: Sequence[str],
    *,
    cmap: str = "viridis",
) -> Figure:
    """Head-averaged cross-attention maps before and after training, side by side.

    ``before`` and ``after`` are lists with one ``(len(predicted_words), len(source_words))``
    map per decoder layer (rows: the word being predicted; columns: the source words; each
    row sums to 1). One row of panels per model, one column per layer, a shared colour scale
    from 0 to 1 with a colour bar. Raises :class:`~course_lib.errors.CourseLibError` for
    empty or unequal lists of maps, or maps whose shape does not fit the words.
    """
    function = "cross_attention_before_after"
    source = _check_words(source_words, "source_words", function, limit=40)
    predicted = _check_words(predicted_words, "predicted_words", function, limit=40)
    for name, maps in (("before", before), ("after", after)):
        if isinstance(maps, str) or not isinstance(maps, Sequence) or not maps:
            raise CourseLibError(
                f"{function}: {name} must be a non-empty list of maps, one per layer"
            )
    if len(before) != len(after):
        raise CourseLibError(
            f"{function}: before has {len(before)} layers but after has {len(after)}"
        )
    grids = []
    for name, maps in (("before", before), ("after", after)):
        row = []
        for layer, weights in enumerate(maps):
            array = np.asarray(
                weights.detach().cpu() if hasattr(weights, "detach") else weights, dtype=float
            )
            if array.shape != (len(predicted), len(source)):
                raise CourseLibError(
                    f"{function}: {name}[{layer}] has shape {array.shape}, expected "
                    f"{(len(predicted), len(source))} (predicted words x source words)"
                )
            row.append(array)
        grids.append(row)
    layers = len(before)
    fig, axes = plt.subplots(
        2,
        layers,
        figsize=(2.1 + 2.2 * layers, 5.6),
        squeeze=False,
        constrained_layout=True,
    )
    plt.close(fig)
    fig.patch.set_facecolor("white")
    image = None
    for r, (title, row) in enumerate(zip(("before training", "after training"), grids)):
        for c, array in enumerate(row):
            ax = axes[r][c]
            image = ax.imshow(array, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
            ax.set_xticks(range(len(source)), source, rotation=45, ha="right")
            ax.set_yticks(range(len(predicted)), predicted if c == 0 else [""] * len(predicted))
            ax.set_title(f"{title}\ndecoder layer {c + 1}", fontsize=10)
            if r == 1:
                ax.set_xlabel("English word (key)")
            if c == 0:
                ax.set_ylabel("French word predicted")
    fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight (mean over heads)")
    return fig


__all__ = ["cross_attention_before_after", "teacher_forcing_shift", "training_loop"]
