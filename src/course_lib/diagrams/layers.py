"""The building blocks of the layer diagrams: stacked boxes, residual paths, part colours.

:func:`draw_column` stacks :class:`Item` boxes (and residual sums) joined by arrows;
:func:`draw_residual` draws a residual path around part of such a column. The encoder
layer (:mod:`course_lib.diagrams.encoder`), the decoder layer
(:mod:`course_lib.diagrams.decoder`), the whole model (:mod:`course_lib.diagrams.model`)
and the scaled dot-product diagram (:mod:`course_lib.diagrams.attention`) are drawn with
them, so every part has the same colour everywhere (:data:`PART_COLORS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.patches import Circle

from course_lib.diagrams.draw import COLORS, INK, arrow, bottom, box, left, right, top
from course_lib.errors import CourseLibError

Rect = tuple[float, float, float, float]

# One colour per kind of part, the same in every diagram of the course.
PART_COLORS = {
    "attention": "orange",
    "norm": "yellow",
    "feed_forward": "sky",
    "embedding": "purple",
    "output": "green",
    "memory": "blue",
}

NORMS = ("post", "pre", "both")


@dataclass(frozen=True)
class Item:
    """One element of a vertical stack: a box (``kind="box"``) or a residual sum (``"add"``)."""

    kind: str
    text: str = ""
    color: str = "grey"
    height: float = 0.55
    dashed: bool = False


def sublayer(text: str, part: str, height: float = 0.55) -> Item:
    """A box for one part of a layer, coloured by its kind (see ``PART_COLORS``)."""
    return Item("box", text, PART_COLORS[part], height)


ADD = Item("add", height=0.42)


def draw_column(
    ax: Any,
    cx: float,
    y: float,
    width: float,
    items: Sequence[Item],
    *,
    gap: float = 0.32,
    fontsize: float = 11,
) -> list[Rect]:
    """Stack ``items`` upwards from height ``y``, centred on ``cx``, joined by arrows.

    Returns each item's rectangle ``(x, y, width, height)``; a residual sum (a circle with a
    plus) gets the square around its circle.
    """
    rects: list[Rect] = []
    for item in items:
        if item.kind == "add":
            r = item.height / 2
            ax.add_patch(Circle((cx, y + r), r, facecolor="white", edgecolor=INK, linewidth=1.5))
            ax.text(cx, y + r, "+", ha="center", va="center", fontsize=15, color=INK)
            rect: Rect = (cx - r, y, 2 * r, 2 * r)
        else:
            rect = box(
                ax,
                cx - width / 2,
                y,
                width,
                item.height,
                item.text,
                color=item.color,
                fontsize=fontsize,
                dashed=item.dashed,
            )
        if rects:
            arrow(ax, top(rects[-1]), bottom(rect))
        rects.append(rect)
        y += item.height + gap
    return rects


def draw_residual(
    ax: Any,
    rects: Sequence[Rect],
    start: int,
    end: int,
    lane_x: float,
    *,
    gap: float = 0.32,
    color: str = COLORS["green"],
    label: str | None = None,
) -> None:
    """A residual path: from the stream just below item ``start`` around to item ``end``.

    The path leaves the stream in the middle of the gap under ``start``, runs along
    ``lane_x`` (left or right of the column) and enters ``end`` from that side.
    """
    cx = rects[start][0] + rects[start][2] / 2
    y0 = rects[start][1] - gap / 2
    target = left(rects[end]) if lane_x < cx else right(rects[end])
    ax.plot([cx, lane_x, lane_x], [y0, y0, target[1]], color=color, linewidth=1.6, zorder=1)
    ax.plot([cx], [y0], marker="o", markersize=4.5, color=color, zorder=3)
    arrow(ax, (lane_x, target[1]), target, color=color, width=1.6)
    if label:
        ax.text(
            lane_x + (-0.08 if lane_x < cx else 0.08),
            (y0 + target[1]) / 2,
            label,
            rotation=90,
            ha="right" if lane_x < cx else "left",
            va="center",
            fontsize=9,
            color=color,
        )


def check_norm(norm: Any, function: str) -> None:
    """Raise :class:`CourseLibError` unless ``norm`` is "post", "pre" or "both"."""
    if norm not in NORMS:
        raise CourseLibError(f"{function}: norm must be 'post', 'pre' or 'both', got {norm!r}")


def check_words(words: Any, name: str, function: str) -> list[str]:
    """``words`` as a list, or :class:`CourseLibError` unless it is a non-empty sequence of
    non-empty strings."""
    if isinstance(words, str) or not isinstance(words, Sequence) or not words:
        raise CourseLibError(f"{function}: {name} must be a non-empty list of strings")
    if not all(isinstance(w, str) and w for w in words):
        raise CourseLibError(f"{function}: every entry of {name} must be a non-empty string")
    return list(words)
