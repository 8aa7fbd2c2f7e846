"""Architecture diagrams for the chapters, drawn with matplotlib from code kept here.

One module per idea, in chapter order: ``preprocessing`` (chapter 2), ``attention`` and
``encoder`` (chapter 3), ``decoder`` and ``model`` (chapters 3-4), ``generation`` (chapters 5
and 7), ``training`` (chapter 6). All are built from the primitives of
:mod:`course_lib.diagrams.draw` (boxes, arrows, a colour-blind-safe palette) and the layer
blocks of :mod:`course_lib.diagrams.layers`, so every figure of the course looks alike.
Each public function returns a closed :class:`matplotlib.figure.Figure`, so a notebook cell
that ends with it shows the figure exactly once.
"""
