"""The one exception type users see from course_lib.

Every check on user input (written once, in :mod:`course_lib.checks`) raises
:class:`CourseLibError` (or a subclass) with a message that names the problem, so the
command-line tool can print it without a traceback and notebooks show one readable line.
"""


class CourseLibError(ValueError):
    """A problem with the caller's input, configuration, files or environment."""


class ShapeError(CourseLibError):
    """A tensor has the wrong number of dimensions, size or dtype."""
