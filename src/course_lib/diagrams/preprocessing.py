"""Chapter 2's diagram: from a sentence to the tensor the encoder reads.

:func:`input_pipeline` draws the running example's way through input preprocessing:
text -> tokens -> ids -> (embedding row x sqrt(d_model)) + positional encoding -> one
vector per token. The tokens and ids are arguments, so the chapter passes the ones its
tokenizer really produced and the picture cannot disagree with the code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.figure import Figure

from course_lib.diagrams.draw import INK, arrow, bottom, box, canvas, top
from course_lib.errors import CourseLibError

_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_MAX_TOKENS = 6


def _check(text: object, tokens: object, ids: object, d_model: object) -> None:
    if not isinstance(text, str) or not text.strip():
        raise CourseLibError(f"input_pipeline: text must be a non-empty str, got {text!r:.60}")
    if isinstance(tokens, str) or not isinstance(tokens, Sequence) or not tokens:
        raise CourseLibError(
            f"input_pipeline: tokens must be a non-empty list of str, got {tokens!r:.60}"
        )
    if not all(isinstance(token, str) and token for token in tokens):
        raise CourseLibError(f"input_pipeline: every token must be a non-empty str: {tokens!r:.60}")
    if len(tokens) > _MAX_TOKENS:
        raise CourseLibError(
            f"input_pipeline: at most {_MAX_TOKENS} tokens fit in the picture, got {len(tokens)}"
        )
    if isinstance(ids, str) or not isinstance(ids, Sequence):
        raise CourseLibError(f"input_pipeline: ids must be a list of int, got {ids!r:.60}")
    if len(ids) != len(tokens):
        raise CourseLibError(
            f"input_pipeline: one id per token needed, got {len(tokens)} tokens and {len(ids)} ids"
        )
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids):
        raise CourseLibError(f"input_pipeline: ids must be ints >= 0, got {list(ids)!r:.60}")
    if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model < 1:
        raise CourseLibError(f"input_pipeline: d_model must be an int >= 1, got {d_model!r}")


def input_pipeline(
    text: str, tokens: Sequence[str], ids: Sequence[int], d_model: int = 512
) -> Figure:
    """Draw how ``text`` becomes the encoder's input, one column per token.

    Rows, top to bottom: the sentence; its ``tokens``; their ``ids`` in the vocabulary;
    for each token the embedding row ``E[id]`` multiplied by sqrt(``d_model``) plus the
    positional encoding ``PE[pos]`` of its position; the sum, one vector of ``d_model``
    numbers per token; and the shape of the resulting tensor, ``(1, len(tokens), d_model)``.

    ``input_pipeline("I love pizza", ["i", "love", "pizza"], [15, 35, 74])`` draws the
    running example (pass the tokens and ids your tokenizer produced). Returns a closed
    :class:`~matplotlib.figure.Figure`. Raises :class:`~course_lib.errors.CourseLibError`
    for empty text or tokens, more than six tokens, a different number of ids and tokens,
    negative or non-int ids, or a ``d_model`` that is not a positive int.
    """
    _check(text, tokens, ids, d_model)
    n = len(tokens)
    label_width, column, gap = 2.3, 2.3, 0.35
    width = label_width + n * column + (n - 1) * gap + 0.3
    fig, ax = canvas(width, 6.1)
    xs = [label_width + k * (column + gap) for k in range(n)]
    span = xs[-1] + column - xs[0]
    root = f"√{d_model}" if math.isqrt(d_model) ** 2 != d_model else str(math.isqrt(d_model))

    rows = {  # row name: (y of the boxes, label on the left)
        "text": (5.35, "sentence"),
        "tokens": (4.35, "tokens\n(tokenizer)"),
        "ids": (3.35, "ids\n(vocabulary)"),
        "vectors": (
            2.05,
            f"row id of table E\n× √d_model, plus the\npositional encoding\n(d_model = {d_model})",
        ),
        "sum": (0.85, "encoder input:\none vector per token"),
    }
    for y, label in rows.values():
        ax.text(0.15, y + 0.3, label, ha="left", va="center", fontsize=9.5, color=INK)

    sentence = box(ax, xs[0], rows["text"][0], span, 0.6, f"“{text}”", color="grey", fontsize=12)
    for k, (token, token_id) in enumerate(zip(tokens, ids)):
        x = xs[k]
        token_box = box(
            ax, x + 0.35, rows["tokens"][0], column - 0.7, 0.6, token, color="sky", fontsize=12
        )
        id_box = box(
            ax,
            x + 0.35,
            rows["ids"][0],
            column - 0.7,
            0.6,
            str(token_id),
            color="yellow",
            fontsize=12,
            bold=True,
        )
        half = (column - 0.3) / 2
        embed_box = box(
            ax,
            x,
            rows["vectors"][0],
            half,
            0.75,
            f"E[{token_id}]\n× {root}",
            color="blue",
            fontsize=10,
        )
        pe_box = box(
            ax,
            x + half + 0.3,
            rows["vectors"][0],
            half,
            0.75,
            f"PE[{k}]\nposition {k}",
            color="orange",
            fontsize=10,
        )
        ax.text(
            x + half + 0.15,
            rows["vectors"][0] + 0.375,
            "+",
            ha="center",
            va="center",
            fontsize=15,
            fontweight="bold",
            color=INK,
        )
        sum_box = box(
            ax,
            x + 0.35,
            rows["sum"][0],
            column - 0.7,
            0.6,
            f"x{str(k).translate(_SUBSCRIPTS)}: {d_model} numbers",
            color="green",
            fontsize=10,
        )
        arrow(ax, (top(token_box)[0], bottom(sentence)[1]), top(token_box))
        arrow(ax, bottom(token_box), top(id_box))
        arrow(ax, bottom(id_box), top(embed_box))
        arrow(ax, bottom(embed_box), (top(sum_box)[0] - 0.2, top(sum_box)[1]))
        arrow(ax, bottom(pe_box), (top(sum_box)[0] + 0.2, top(sum_box)[1]))
    ax.text(
        xs[0] + span / 2,
        0.35,
        f"stacked: a tensor of shape (1, {n}, {d_model}) = (batch, seq_len, d_model)",
        ha="center",
        va="center",
        fontsize=10,
        color=INK,
    )
    return fig


__all__ = ["input_pipeline"]
