"""Helpers the chapter notebooks use to show where they are and what the library contains.

* :func:`seven_step_map` draws the course's map: input -> encoder x6 -> decoder x6 -> output,
  plus training and inference, with one step highlighted. Every chapter's "where we are"
  cell calls it.
* :func:`show_source` displays the source of a ``course_lib`` object as a code block, so a
  chapter can show the library code it built without copying it (copies could drift).
* :func:`widget_stack` shows one of several widgets at a time, following a slider, with no
  kernel; :func:`glue` hands a computed value to the chapter's Markdown.
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass
from typing import Any

import ipywidgets
import matplotlib.pyplot as plt  # in Jupyter this also sets up inline display of figures
from IPython.display import Markdown
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from course_lib.diagrams.draw import COLORS, FILLS
from course_lib.errors import CourseLibError


@dataclass(frozen=True)
class Step:
    """One of the seven steps: its number, chapter title and a one-line reminder."""

    number: int
    title: str
    detail: str


STEPS: tuple[Step, ...] = (
    Step(1, "Dataset format", "I love pizza\n→ J'aime la pizza"),
    Step(2, "Input preprocessing", "tokens, embeddings,\npositions"),
    Step(3, "Encoder ×6", "self-attention\n+ feed-forward"),
    Step(4, "Decoder ×6", "masked self-attention,\ncross-attention, FFN"),
    Step(5, "Output generation", "one word at a time\nuntil <end>"),
    Step(
        6, "Training", "teacher forcing, cross-entropy loss,\nbackpropagation through every weight"
    ),
    Step(7, "Inference", "unseen input: I hate pizza\n→ Je déteste la pizza"),
)

# (x, y, width, height) of each step's box, in the axes' data coordinates.
_BOXES: dict[int, tuple[float, float, float, float]] = {
    1: (0.1, 2.1, 2.05, 1.25),
    2: (2.45, 2.1, 2.05, 1.25),
    3: (4.8, 2.1, 2.05, 1.25),
    4: (7.15, 2.1, 2.05, 1.25),
    5: (9.5, 2.1, 2.05, 1.25),
    6: (0.1, 0.1, 6.75, 1.05),
    7: (7.15, 0.1, 4.4, 1.05),
}

# Okabe-Ito colours (course_lib.diagrams.draw), safe for colour-vision deficiencies.
_HIGHLIGHT = COLORS["orange"]
_QUIET = "#e9edf2"
_PALETTE = tuple(
    FILLS[name] for name in ("sky", "orange", "green", "yellow", "blue", "vermillion", "purple")
)


def _check_step(step: Any) -> None:
    if step is None:
        return
    if isinstance(step, bool) or not isinstance(step, int):
        raise CourseLibError(
            f"seven_step_map: step must be an int from 1 to 7 or None, got {type(step).__name__}"
        )
    if not 1 <= step <= len(STEPS):
        raise CourseLibError(f"seven_step_map: step must be from 1 to 7 or None, got {step}")


def seven_step_map(step: int | None = None) -> Figure:
    """Draw the seven steps of the course, highlighting ``step`` (1-7), or all of them for None.

    The top row is the path a sentence takes (dataset -> preprocessing -> encoder stack ->
    decoder stack -> output); the bottom row is how the model learns (training) and how it
    is used on sentences it never saw (inference). A curved arrow shows that each generated
    word is fed back into the decoder.

    Returns a :class:`matplotlib.figure.Figure` (already closed in pyplot, so a notebook
    shows it exactly once when it is the cell's last expression). Raises
    :class:`~course_lib.errors.CourseLibError` when ``step`` is not None or an int in 1-7.
    """
    _check_step(step)
    fig = plt.figure(figsize=(11.5, 3.7), dpi=100)
    plt.close(fig)  # shown once, as the cell's value, not again when the cell ends
    ax = fig.add_axes((0, 0, 1, 0.9))
    ax.set_xlim(0, 11.65)
    ax.set_ylim(0, 3.45)
    ax.set_axis_off()

    for item in STEPS:
        x, y, width, height = _BOXES[item.number]
        if step is None:
            face, edge, weight = _PALETTE[item.number - 1], "#4e5d6c", 1.2
        elif item.number == step:
            face, edge, weight = _HIGHLIGHT, "#8a3b00", 3.0
        else:
            face, edge, weight = _QUIET, "#9aa5b1", 1.0
        ax.add_patch(
            FancyBboxPatch(
                (x, y),
                width,
                height,
                boxstyle="round,pad=0.02,rounding_size=0.12",
                facecolor=face,
                edgecolor=edge,
                linewidth=weight,
            )
        )
        faded = step is not None and item.number != step
        color = "#6b7785" if faded else "#1b1f23"
        ax.text(
            x + width / 2,
            y + height - 0.28,
            f"{item.number}. {item.title}",
            ha="center",
            va="center",
            fontsize=10.5,
            fontweight="bold",
            color=color,
        )
        ax.text(
            x + width / 2,
            y + (height - 0.45) / 2,
            item.detail,
            ha="center",
            va="center",
            fontsize=9,
            color=color,
        )

    # The path of a sentence: 1 -> 2 -> 3 -> 4 -> 5.
    for left, right in ((1, 2), (2, 3), (3, 4), (4, 5)):
        x0, y0, w0, h0 = _BOXES[left]
        x1, _, _, _ = _BOXES[right]
        ax.add_patch(
            FancyArrowPatch(
                (x0 + w0 + 0.03, y0 + h0 / 2),
                (x1 - 0.03, y0 + h0 / 2),
                arrowstyle="-|>",
                mutation_scale=14,
                color="#4e5d6c",
                linewidth=1.5,
            )
        )
    # Each output word goes back into the decoder: 5 -> 4, under the boxes.
    x4, y4, w4, _ = _BOXES[4]
    x5, _, w5, _ = _BOXES[5]
    ax.add_patch(
        FancyArrowPatch(
            (x5 + w5 / 2, y4 - 0.03),
            (x4 + w4 / 2, y4 - 0.03),
            connectionstyle="arc3,rad=-0.3",
            arrowstyle="-|>",
            mutation_scale=12,
            color="#4e5d6c",
            linewidth=1.2,
        )
    )
    ax.text((x4 + x5 + w5) / 2, y4 - 0.5, "each new word is fed back", ha="center", fontsize=8.5)

    title = "The Transformer, step by step"
    if step is not None:
        title = f"Step {step} of 7: {STEPS[step - 1].title}"
    fig.suptitle(title, fontsize=13, fontweight="bold", y=0.98)
    return fig


def show_source(obj: Any) -> Any:
    """Return the source code of ``obj`` (a function, class or method) as a Markdown code block.

    Chapters use it to show the library code they just built, straight from
    ``course_lib``, so the page and the package can never disagree. The result is an
    :class:`IPython.display.Markdown`, which a notebook renders as highlighted Python.
    Raises :class:`~course_lib.errors.CourseLibError` when ``obj`` has no Python source
    (a builtin, a string, an instance).
    """
    if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)):
        raise CourseLibError(
            "show_source: expected a function, class or method, "
            f"got {type(obj).__name__} {obj!r:.60}"
        )
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError) as error:
        raise CourseLibError(f"show_source: no Python source for {obj!r:.60}: {error}") from None
    return Markdown(f"```python\n{textwrap.dedent(source).rstrip()}\n```")


def widget_stack(children: list[Any], selected_index: int = 0) -> Any:
    """A widget that shows one of ``children`` at a time, chosen by its ``selected_index``.

    Link a slider to it with ``ipywidgets.jslink((slider, "value"), (stack,
    "selected_index"))`` and it follows the slider in the browser, with no kernel (on the
    website too). With ipywidgets 8 it is a ``Stack``; ipywidgets 7, which Colab
    preinstalls and the course keeps, has no ``Stack``, so there it is a ``Tab`` with one
    numbered tab per child (clicking a tab works as well as the slider).
    """
    if not children:
        raise CourseLibError("widget_stack: expected at least one child widget, got none")
    if not 0 <= selected_index < len(children):
        raise CourseLibError(
            f"widget_stack: selected_index must be in 0..{len(children) - 1}, got {selected_index}"
        )
    if hasattr(ipywidgets, "Stack"):
        return ipywidgets.Stack(list(children), selected_index=selected_index)
    tab = ipywidgets.Tab(list(children))
    for index in range(len(children)):
        tab.set_title(index, str(index))
    tab.selected_index = selected_index
    return tab


def glue(name: str, value: Any) -> None:
    """Make ``value`` available to the chapter's Markdown as ``{glue:text}`name```.

    On the website (Jupyter Book runs the notebook with ``myst_nb`` installed) this is
    ``myst_nb.glue(name, value, display=False)``: the prose shows the number the cell
    computed, so no page types a measured figure by hand. Where ``myst_nb`` is not
    installed (Colab, a plain ``pip install course-lib``) it does nothing and the
    Markdown shows the role as written. Glue preformatted strings (``f"{loss:.2f}"``).
    """
    if not isinstance(name, str) or not name:
        raise CourseLibError(f"glue: name must be a non-empty str, got {name!r}")
    try:  # optional: myst_nb comes with the book tooling, not with course-lib
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=False)


__all__ = ["STEPS", "Step", "glue", "seven_step_map", "show_source", "widget_stack"]
