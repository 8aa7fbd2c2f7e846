"""Architecture diagrams for the chapters, drawn with matplotlib from code kept here.

One module per chapter's diagrams (``encoder.py`` for chapter 3's, ``decoder.py`` for
chapter 4's, ...), all built from the few primitives of :mod:`course_lib.diagrams.draw`
(boxes, arrows, a colour-blind-safe palette), so every figure of the course looks alike.
Each public function returns a closed :class:`matplotlib.figure.Figure`, so a notebook cell
that ends with it shows the figure exactly once.
"""
