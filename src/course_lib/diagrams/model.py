"""The whole encoder-decoder Transformer, the course's own "Figure 1".

:func:`transformer_diagram` draws the model as the paper's Figure 1 does (Vaswani et al.,
2017), on the running example: "I love pizza" enters the encoder, the decoder reads the
shifted French "<start> J' aime la" and predicts "J' aime la pizza".
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from course_lib.diagrams.draw import COLORS, INK, arrow, bottom, box, canvas, left, right, top
from course_lib.diagrams.layers import PART_COLORS, Item, Rect, draw_column, draw_residual
from course_lib.errors import CourseLibError
from course_lib.tokenize import SPECIAL_TOKENS, START

HIGHLIGHTS = (None, "encoder", "decoder")
SOURCE = ("I", "love", "pizza")
SHIFTED_TARGET = (SPECIAL_TOKENS[START], "J'", "aime", "la")
TARGET = ("J'", "aime", "la", "pizza")


def _frame(ax: Any, x: float, y: float, w: float, h: float, strong: bool) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.15",
            facecolor="#F4F4F4",
            edgecolor=COLORS["vermillion"] if strong else COLORS["grey"],
            linewidth=3.0 if strong else 1.4,
            zorder=0,
        )
    )


GAP, WIDTH = 0.32, 3.0  # between the boxes of a column; of a column
ENCODER_X, DECODER_X = 2.9, 7.6  # the columns' centres
BASE = 2.15  # bottom of the first sub-layer


def _tint(highlight: str | None, part: str, side: str) -> str:
    """The part's colour, or grey when the other side is highlighted."""
    faded = highlight is not None and highlight != side
    return "grey" if faded else PART_COLORS[part]


def _layer_items(
    highlight: str | None, side: str, parts: list[tuple[str, str, float]]
) -> list[Item]:
    return [Item("box", text, _tint(highlight, part, side), height) for text, part, height in parts]


def _draw_encoder(ax: Any, highlight: str | None) -> list[Rect]:
    """The encoder column, its embedding and input, and the memory above it; returns the
    memory's boxes (one per English word)."""
    enc_x, base, gap, width = ENCODER_X, BASE, GAP, WIDTH
    enc_parts = [
        ("multi-head\nself-attention", "attention", 0.7),
        ("add & norm", "norm", 0.42),
        ("feed-forward", "feed_forward", 0.55),
        ("add & norm", "norm", 0.42),
    ]
    enc = draw_column(
        ax, enc_x, base, width, _layer_items(highlight, "encoder", enc_parts), gap=gap
    )
    enc_top = top(enc[-1])[1] + 0.25
    _frame(ax, enc_x - 2.05, base - 0.3, 3.75, enc_top - base + 0.3, highlight == "encoder")
    for start, end in ((0, 1), (2, 3)):
        draw_residual(ax, enc, start, end, enc_x - 1.75, gap=gap)
    ax.text(
        enc_x - 2.3,
        (base + enc_top) / 2,
        "encoder: N × layer",
        rotation=90,
        ha="center",
        va="center",
        fontsize=13,
        fontweight="bold",
    )
    enc_embed = box(
        ax,
        enc_x - width / 2,
        0.85,
        width,
        0.75,
        "input embedding $\\times\\sqrt{d_{model}}$\n+ positional encoding",
        color=_tint(highlight, "embedding", "encoder"),
        fontsize=10.5,
    )
    arrow(ax, top(enc_embed), bottom(enc[0]))
    ax.text(enc_x, 0.4, '"I love pizza"', ha="center", va="center", fontsize=12, fontweight="bold")
    arrow(ax, (enc_x, 0.55), bottom(enc_embed))

    # The memory: one vector per English word.
    memory_y = enc_top + 0.45
    memory = []
    for i, word in enumerate(SOURCE):
        memory.append(
            box(
                ax,
                enc_x - 1.5 + i * 1.05,
                memory_y,
                0.9,
                0.5,
                word,
                color=_tint(highlight, "memory", "encoder"),
                fontsize=10.5,
            )
        )
    arrow(ax, (enc_x, enc_top), (enc_x, memory_y))
    ax.text(
        enc_x,
        memory_y + 0.65,
        "memory: one vector per English word",
        ha="center",
        va="bottom",
        fontsize=10.5,
    )

    return memory


def _draw_decoder(ax: Any, highlight: str | None) -> tuple[list[Rect], float]:
    """The decoder column, its embedding and input; returns its boxes and its top."""
    dec_x, base, gap, width = DECODER_X, BASE, GAP, WIDTH
    dec_parts = [
        ("masked multi-head\nself-attention", "attention", 0.7),
        ("add & norm", "norm", 0.42),
        ("multi-head\ncross-attention", "attention", 0.7),
        ("add & norm", "norm", 0.42),
        ("feed-forward", "feed_forward", 0.55),
        ("add & norm", "norm", 0.42),
    ]
    dec = draw_column(
        ax, dec_x, base, width, _layer_items(highlight, "decoder", dec_parts), gap=gap
    )
    dec_top = top(dec[-1])[1] + 0.25
    _frame(ax, dec_x - 1.7, base - 0.3, 3.75, dec_top - base + 0.3, highlight == "decoder")
    for start, end in ((0, 1), (2, 3), (4, 5)):
        draw_residual(ax, dec, start, end, dec_x + 1.75, gap=gap)
    ax.text(
        dec_x + 2.4,
        (base + dec_top) / 2,
        "decoder: N × layer",
        rotation=270,
        ha="center",
        va="center",
        fontsize=13,
        fontweight="bold",
    )
    dec_embed = box(
        ax,
        dec_x - width / 2,
        0.85,
        width,
        0.75,
        "output embedding $\\times\\sqrt{d_{model}}$\n+ positional encoding",
        color=_tint(highlight, "embedding", "decoder"),
        fontsize=10.5,
    )
    arrow(ax, top(dec_embed), bottom(dec[0]))
    ax.text(
        dec_x,
        0.4,
        '"<start> J\' aime la"  (shifted right)',
        ha="center",
        va="center",
        fontsize=12,
        fontweight="bold",
    )
    arrow(ax, (dec_x, 0.55), bottom(dec_embed))

    return dec, dec_top


def _draw_cross_attention(ax: Any, memory: list[Rect], cross: Rect) -> None:
    """Memory -> cross-attention (keys and values); the decoder stream gives the queries."""
    enc_x, dec_x = ENCODER_X, DECODER_X
    lane_x = (enc_x + 1.7 + dec_x - 1.7) / 2
    start = right(memory[-1])
    cross_y = left(cross)[1]
    ax.plot(
        [start[0], lane_x, lane_x],
        [start[1], start[1], cross_y],
        color=COLORS["blue"],
        linewidth=2.0,
        zorder=1,
    )
    arrow(ax, (lane_x, cross_y), left(cross), color=COLORS["blue"], width=2.0)
    ax.text(lane_x + 0.1, cross_y + 0.12, "keys,\nvalues", ha="left", va="bottom", fontsize=9.5)
    ax.text(dec_x - 0.1, cross[1] - 0.16, "queries", ha="right", va="center", fontsize=9)


def _draw_output(ax: Any, highlight: str | None, dec_top: float) -> None:
    """Linear -> softmax -> the next-word probabilities, above the decoder."""
    dec_x, width = DECODER_X, WIDTH
    linear = box(
        ax,
        dec_x - width / 2,
        dec_top + 0.4,
        width,
        0.5,
        "linear ($d_{model}$ → vocabulary)",
        color=_tint(highlight, "output", "decoder"),
        fontsize=10.5,
    )
    arrow(ax, (dec_x, dec_top), bottom(linear))
    softmax = box(
        ax,
        dec_x - width / 2,
        top(linear)[1] + 0.35,
        width,
        0.5,
        "softmax",
        color=_tint(highlight, "output", "decoder"),
        fontsize=10.5,
    )
    arrow(ax, top(linear), bottom(softmax))
    arrow(ax, top(softmax), (dec_x, top(softmax)[1] + 0.35))
    ax.text(
        dec_x,
        top(softmax)[1] + 0.45,
        'next-word probabilities\n"J\' aime la pizza"',
        ha="center",
        va="bottom",
        fontsize=12,
        fontweight="bold",
    )


def transformer_diagram(highlight: str | None = None) -> Figure:
    """The encoder-decoder Transformer on the running example, bottom to top.

    Left, the encoder: "I love pizza" -> embedding + positions -> N x [self-attention,
    add & norm, feed-forward, add & norm] -> the memory (one vector per English word).
    Right, the decoder: the shifted French "<start> J' aime la" -> embedding + positions ->
    N x [masked self-attention, add & norm, cross-attention reading the memory, add & norm,
    feed-forward, add & norm] -> linear -> softmax -> "J' aime la pizza".
    ``highlight="encoder"`` or ``"decoder"`` draws that side's frame in a strong colour and
    greys out the other side. Add & norm is post-norm, as in the paper (§3.1).
    """
    if highlight not in HIGHLIGHTS:
        raise CourseLibError(
            f"transformer_diagram: highlight must be None, 'encoder' or 'decoder', got {highlight!r}"
        )

    fig, ax = canvas(10.6, 9.95)
    memory = _draw_encoder(ax, highlight)
    dec, dec_top = _draw_decoder(ax, highlight)
    _draw_cross_attention(ax, memory, dec[2])
    _draw_output(ax, highlight, dec_top)
    ax.text(5.3, 0.05, "N = 6 in the paper", ha="center", va="bottom", fontsize=9.5, color=INK)
    return fig


__all__ = ["HIGHLIGHTS", "SHIFTED_TARGET", "SOURCE", "TARGET", "transformer_diagram"]
