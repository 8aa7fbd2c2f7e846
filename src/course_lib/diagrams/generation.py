"""Chapter 5's diagrams: the autoregressive loop and the key/value cache.

* :func:`autoregressive_loop` unrolls greedy decoding of the running example: the encoder
  reads "I love pizza" once; the decoder runs once per step, and each word it writes is
  fed back as its next input, from ``<start>`` until it writes ``<end>``.
* :func:`kv_cache` shows one masked self-attention layer of the decoder with a key/value
  cache, step by step: at step ``t`` only the new token's query, key and value are
  computed; its query attends to the ``t`` keys in the cache (the earlier ones were
  stored at earlier steps); the cache grows by one column per step.

Both return a closed :class:`matplotlib.figure.Figure` (a notebook cell that ends with one
shows it once) and raise :class:`~course_lib.errors.CourseLibError` for bad arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_lib.diagrams.draw import COLORS, FILLS, INK, arrow, bottom, box, canvas, top
from course_lib.errors import CourseLibError
from course_lib.tokenize import END, SPECIAL_TOKENS, START

RUNNING_SOURCE = ("I", "love", "pizza")
RUNNING_OUTPUT = ("J'", "aime", "la", "pizza")


def _check_words(words: Any, name: str, *, most: int) -> list[str]:
    if isinstance(words, str) or not isinstance(words, Sequence):
        raise CourseLibError(f"{name} must be a list of words, got {type(words).__name__}")
    words = list(words)
    if not words:
        raise CourseLibError(f"{name} is empty: give at least one word")
    if len(words) > most:
        raise CourseLibError(f"{name} has {len(words)} words; the diagram fits at most {most}")
    for i, word in enumerate(words):
        if not isinstance(word, str) or not word.strip():
            raise CourseLibError(f"{name}[{i}] must be a non-empty string, got {word!r}")
    return words


def autoregressive_loop(
    source: Sequence[str] = RUNNING_SOURCE, output: Sequence[str] = RUNNING_OUTPUT
) -> Figure:
    """Greedy decoding unrolled in time: one decoder box per step, outputs fed back as inputs.

    Args:
        source: the English words, encoded once (default: "I love pizza").
        output: the French words written before ``<end>`` (default: J' aime la pizza);
            1 to 7 words.

    The decoder's inputs are ``<start>`` followed by the output words; its predictions are
    the output words followed by ``<end>``. Curved arrows carry each prediction to the next
    step's input; dashed arrows show every step reading the same encoder memory.
    """
    source = _check_words(source, "source", most=8)
    output = _check_words(output, "output", most=7)
    inputs = [SPECIAL_TOKENS[START], *output]
    predictions = [*output, SPECIAL_TOKENS[END]]
    steps = len(inputs)
    step_w, gap = 1.45, 0.75
    left_w = 2.95
    width = left_w + steps * (step_w + gap) - gap + 0.2
    fig, ax = canvas(width, 5.0, inches_per_unit=0.95)
    in_y, dec_y, out_y = 0.55, 1.8, 3.3

    # The encoder runs once; its memory is read by every decoder step (cross-attention).
    src_box = box(ax, 0.2, in_y, 2.1, 0.75, " ".join(source), color="grey", fontsize=10)
    enc = box(ax, 0.2, dec_y, 2.1, 0.95, "encoder\n(runs once)", color="sky", bold=True)
    arrow(ax, top(src_box), bottom(enc))
    bus_y = (in_y + 0.75 + dec_y) / 2  # between the input row and the decoders
    last_x = left_w + (steps - 1) * (step_w + gap) + 0.25
    enc_right = (enc[0] + enc[2], enc[1] + 0.3)
    ax.plot(
        [enc_right[0], enc_right[0] + 0.25, enc_right[0] + 0.25, last_x],
        [enc_right[1], enc_right[1], bus_y, bus_y],
        color=COLORS["sky"],
        linewidth=1.6,
        linestyle="--",
    )
    ax.text(enc_right[0] + 0.35, bus_y - 0.08, "memory", ha="left", va="top", fontsize=9)

    decoders = []
    for i in range(steps):
        x = left_w + i * (step_w + gap)
        inp = box(ax, x, in_y, step_w, 0.75, inputs[i], color="orange" if i else "grey")
        dec = box(ax, x, dec_y, step_w, 0.95, f"decoder\nstep {i + 1}", color="blue", bold=True)
        out_color = "vermillion" if predictions[i] == SPECIAL_TOKENS[END] else "orange"
        out = box(ax, x, out_y, step_w, 0.75, predictions[i], color=out_color, bold=True)
        arrow(ax, top(inp), bottom(dec))
        arrow(ax, top(dec), bottom(out))
        arrow(ax, (x + 0.25, bus_y), (x + 0.25, dec_y), color=COLORS["sky"], width=1.6)
        decoders.append((inp, dec, out))
    # Each prediction becomes the next step's input.
    for (_, _, out), (nxt, _, _) in zip(decoders, decoders[1:]):
        start = (out[0] + out[2] + 0.03, out[1] + out[3] / 2)
        end = (nxt[0] - 0.03, nxt[1] + nxt[3] / 2)
        arrow(ax, start, end, color=COLORS["vermillion"], width=1.5)
    ax.text(
        width / 2,
        4.55,
        "each word the decoder writes is fed back as its next input, until it writes <end>",
        ha="center",
        va="center",
        fontsize=10.5,
        color=INK,
    )
    ax.text(
        1.25, out_y + 0.37, "decoder output:\nthe next word", ha="center", va="center", fontsize=9
    )
    ax.text(1.25, 0.2, "source (English)", ha="center", fontsize=9, color=INK)
    ax.text(
        left_w + (steps * (step_w + gap) - gap) / 2,
        0.2,
        "decoder input: <start>, then the words written so far",
        ha="center",
        fontsize=9,
        color=INK,
    )
    return fig


def kv_cache(output: Sequence[str] = RUNNING_OUTPUT, steps: int | None = None) -> Figure:
    """A decoder self-attention layer with a key/value cache, one row per generation step.

    Args:
        output: the French words before ``<end>`` (default: J' aime la pizza); the decoder
            reads ``<start>`` and these words, one per step.
        steps: how many steps to draw (default: all, ``len(output) + 1``; at most 6).

    Row ``t`` shows the token read at step ``t``: its query, key and value are computed
    now (orange); the keys and values of the earlier tokens come from the cache (blue).
    The query is compared with all ``t`` keys, so the attention work of a step grows with
    ``t`` while the new projection work stays one position. The word the step predicts is
    on the right.
    """
    output = _check_words(output, "output", most=6)
    inputs = [SPECIAL_TOKENS[START], *output]
    predictions = [*output, SPECIAL_TOKENS[END]]
    if steps is None:
        steps = min(len(inputs), 6)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= len(inputs):
        raise CourseLibError(f"steps must be an integer from 1 to {len(inputs)}, got {steps!r}")
    if steps > 6:
        raise CourseLibError(f"steps={steps}: the diagram fits at most 6 steps")

    col_w, col_gap = 1.05, 0.12
    q_x = 1.9
    cache_x = q_x + 1.45
    row_h = 1.45
    pred_x = cache_x + steps * (col_w + col_gap) + 0.55
    width = pred_x + 2.1
    height = steps * row_h + 2.35
    fig, ax = canvas(width, height, inches_per_unit=0.8)

    # Column headers: one column per position of the cache.
    header_y = height - 0.55
    ax.text(0.15, header_y, "step (reads)", fontsize=9.5, fontweight="bold", color=INK)
    ax.text(q_x + 0.5, header_y, "query", fontsize=9.5, fontweight="bold", color=INK, ha="center")
    ax.text(
        cache_x + steps * (col_w + col_gap) / 2,
        header_y,
        "keys and values of every token read so far (the cache)",
        fontsize=9.5,
        fontweight="bold",
        color=INK,
        ha="center",
    )
    ax.text(pred_x + 0.9, header_y, "predicts", fontsize=9.5, fontweight="bold", color=INK)

    for t in range(steps):
        y = height - 1.05 - (t + 1) * row_h
        word = inputs[t]
        ax.text(0.15, y + 0.62, f"step {t + 1}: {word}", fontsize=10, color=INK, va="center")
        q = box(ax, q_x, y + 0.3, 1.0, 0.62, f"q  {word}", color="orange", fontsize=9)
        for j in range(t + 1):
            x = cache_x + j * (col_w + col_gap)
            new = j == t
            color = "orange" if new else "blue"
            box(ax, x, y + 0.68, col_w, 0.5, f"k  {inputs[j]}", color=color, fontsize=8.5)
            box(ax, x, y + 0.06, col_w, 0.5, f"v  {inputs[j]}", color=color, fontsize=8.5)
        last = cache_x + t * (col_w + col_gap) + col_w
        # The query is compared with every key: one bracket over the t + 1 keys.
        arrow(ax, (q[0] + q[2], q[1] + q[3] / 2), (cache_x - 0.05, y + 0.62), width=1.2)
        ax.text(
            last + 0.12,
            y + 0.62,
            f"{t + 1} score{'s' if t else ''}",
            fontsize=8.5,
            color=INK,
            va="center",
        )
        box(ax, pred_x + 0.45, y + 0.34, 1.45, 0.56, predictions[t], color="green", fontsize=10)
        arrow(ax, (last + 0.95, y + 0.62), (pred_x + 0.43, y + 0.62), width=1.0)

    # Legend and the cost of one step.
    legend_y = 0.85
    ax.add_patch(_swatch(0.2, legend_y, "orange"))
    ax.text(0.55, legend_y + 0.14, "computed at this step", fontsize=9, va="center")
    ax.add_patch(_swatch(3.0, legend_y, "blue"))
    ax.text(
        3.35,
        legend_y + 0.14,
        "read from the cache (stored at earlier steps)",
        fontsize=9,
        va="center",
    )
    ax.text(
        0.2,
        0.3,
        "Step t: new projections for 1 position (constant work); "
        "t scores q·k and a weighted sum of t values (grows with t).",
        fontsize=9.5,
        color=INK,
        va="center",
    )
    return fig


def _swatch(x: float, y: float, color: str) -> Any:
    return Rectangle(
        (x, y), 0.28, 0.28, facecolor=FILLS[color], edgecolor=COLORS[color], linewidth=1.4
    )


__all__ = ["RUNNING_OUTPUT", "RUNNING_SOURCE", "autoregressive_loop", "kv_cache"]
