"""Primitives for the course's diagrams: a canvas, labelled boxes, arrows, a palette.

Colours are the Okabe-Ito palette (distinguishable with every common colour-vision
deficiency); text is dark on light fills, and every figure has a white background, so it
stays readable when the website is in dark mode.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# Okabe & Ito (2008), "Color Universal Design", lightened for box fills.
COLORS = {
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}
FILLS = {
    "orange": "#F8DDA4",
    "sky": "#CDE8F8",
    "green": "#B3E2D4",
    "yellow": "#FAF5B8",
    "blue": "#B3D4EA",
    "vermillion": "#F2CDB0",
    "purple": "#F0D7E6",
    "grey": "#E6E6E6",
}
INK = "#1b1f23"


def canvas(width: float, height: float, *, inches_per_unit: float = 1.0) -> tuple[Figure, Axes]:
    """A white figure whose axes run from (0, 0) to (width, height) in data units, no ticks.

    The figure is closed in pyplot, so a notebook shows it once, as the cell's value.
    """
    fig = plt.figure(figsize=(width * inches_per_unit, height * inches_per_unit), dpi=100)
    plt.close(fig)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return fig, ax


def box(
    ax: Axes,
    x: float,
    y: float,
    width: float,
    height: float,
    text: str = "",
    *,
    color: str = "grey",
    fontsize: float = 10,
    bold: bool = False,
    dashed: bool = False,
) -> tuple[float, float, float, float]:
    """Draw a rounded box with its lower-left corner at (x, y), centred text, an Okabe-Ito
    ``color`` name (see ``COLORS``); returns (x, y, width, height) for arrows."""
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            width,
            height,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=FILLS[color],
            edgecolor=COLORS[color],
            linewidth=1.6,
            linestyle="--" if dashed else "-",
        )
    )
    if text:
        ax.text(
            x + width / 2,
            y + height / 2,
            text,
            ha="center",
            va="center",
            fontsize=fontsize,
            color=INK,
            fontweight="bold" if bold else "normal",
        )
    return (x, y, width, height)


def arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    curve: float = 0.0,
    color: str = INK,
    width: float = 1.4,
    dashed: bool = False,
) -> None:
    """An arrow from ``start`` to ``end`` (data coordinates); ``curve`` bends it (arc3 rad)."""
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=13,
            color=color,
            linewidth=width,
            linestyle="--" if dashed else "-",
            connectionstyle=f"arc3,rad={curve}",
            shrinkA=1,
            shrinkB=1,
        )
    )


def top(b: tuple[float, float, float, float]) -> tuple[float, float]:
    """Middle of a box's top edge."""
    x, y, w, h = b
    return (x + w / 2, y + h)


def bottom(b: tuple[float, float, float, float]) -> tuple[float, float]:
    """Middle of a box's bottom edge."""
    x, y, w, _ = b
    return (x + w / 2, y)


def left(b: tuple[float, float, float, float]) -> tuple[float, float]:
    """Middle of a box's left edge."""
    x, y, _, h = b
    return (x, y + h / 2)


def right(b: tuple[float, float, float, float]) -> tuple[float, float]:
    """Middle of a box's right edge."""
    x, y, w, h = b
    return (x + w, y + h / 2)


__all__ = ["COLORS", "FILLS", "INK", "arrow", "bottom", "box", "canvas", "left", "right", "top"]
