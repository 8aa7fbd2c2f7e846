#!/usr/bin/env python3
"""Redraw the committed figures of the book pages from ``course_lib.notebook``.

Run after changing :func:`course_lib.notebook.seven_step_map`:
``.venv/bin/python scripts/draw_figures.py`` writes ``book/images/seven-steps.png``.
"""

from pathlib import Path

from course_lib.notebook import seven_step_map

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    out = ROOT / "book" / "images" / "seven-steps.png"
    seven_step_map(None).savefig(out, dpi=110, metadata={"Software": None})
    print(f"wrote {out}")
