"""Shared checks for the diagram tests: every text of a figure, and a closed Figure."""

from __future__ import annotations

from matplotlib._pylab_helpers import Gcf
from matplotlib.figure import Figure
from matplotlib.text import Text


def labels(fig: Figure) -> list[str]:
    """Every text of the figure: box labels, annotations, titles, tick labels."""
    return [t.get_text() for t in fig.findobj(Text)]


def texts(fig: Figure) -> str:
    """All of :func:`labels`, one per line."""
    return "\n".join(labels(fig))


def assert_closed_figure(fig: object) -> None:
    """A Figure that pyplot no longer holds (so a notebook shows it once, as the value)."""
    assert isinstance(fig, Figure)
    assert all(m.canvas.figure is not fig for m in Gcf.get_all_fig_managers())
