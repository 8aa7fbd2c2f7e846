"""One source of truth: library code shown in a chapter must equal the library.

A chapter cell that shows code from ``course_lib`` for the reader to study carries the cell
metadata ``{"course": {"mirror": "course_lib.module.QualName"}}``. Its source must equal
``inspect.getsource`` of that object (dedented; trailing whitespace ignored), so the code a
reader studies is exactly the code later chapters import.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import textwrap
from pathlib import Path

import nbformat
import pytest
from conftest import chapter_paths


def resolve(qualified: str) -> object:
    """Import ``package.module.Class.method`` style names: longest importable module, then attributes."""
    parts = qualified.split(".")
    for split in range(len(parts), 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            obj = getattr(obj, attribute)
        return obj
    raise ModuleNotFoundError(f"no importable module in {qualified!r}")


def normalise(source: str) -> list[str]:
    """Lines without trailing whitespace, without leading and trailing blank lines."""
    return [line.rstrip() for line in textwrap.dedent(source).strip("\n").splitlines()]


def mirror_problems(nb: nbformat.NotebookNode, name: str) -> list[str]:
    """One message per mirror cell of ``nb`` that does not equal the library source."""
    problems = []
    for index, cell in enumerate(nb.cells):
        qualified = cell.get("metadata", {}).get("course", {}).get("mirror")
        if qualified is None:
            continue
        where = f"{name} cell {index} (mirror of {qualified})"
        if cell.cell_type != "code":
            problems.append(f"{where}: a mirror cell must be a code cell")
            continue
        try:
            obj = resolve(qualified)
            library = inspect.getsource(obj)
        except (ImportError, AttributeError, TypeError, OSError) as error:
            problems.append(f"{where}: cannot get the library source: {error}")
            continue
        expected, shown = normalise(library), normalise(cell.source)
        if expected != shown:
            diff = "\n".join(
                difflib.unified_diff(expected, shown, "library", "notebook", lineterm="", n=1)
            )
            problems.append(f"{where} differs from the library:\n{diff}")
    return problems


@pytest.mark.parametrize("path", chapter_paths(), ids=lambda p: p.name)
def test_chapter_mirror_cells_equal_the_library(path: Path):
    nb = nbformat.read(path, as_version=4)
    problems = mirror_problems(nb, path.name)
    assert not problems, "\n\n".join(problems)


# --- the check itself ---------------------------------------------------------------------


def notebook_with(source: str, qualified: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata={"course": {"mirror": qualified}})
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# x"), cell])


def test_identical_copy_passes_even_with_trailing_whitespace():
    from course_lib.notebook import show_source

    source = inspect.getsource(show_source)
    padded = "\n".join(line + "   " for line in source.splitlines()) + "\n\n"
    assert mirror_problems(notebook_with(padded, "course_lib.notebook.show_source"), "nb") == []


def test_method_of_a_class_is_compared_dedented():
    from course_lib.attention import MultiHeadAttention

    indented = inspect.getsource(MultiHeadAttention.forward)
    assert indented.startswith("    def forward(")
    source = textwrap.dedent(indented)
    qualified = "course_lib.attention.MultiHeadAttention.forward"
    assert mirror_problems(notebook_with(source, qualified), "nb") == []


def test_drift_is_detected_and_shown_as_a_diff():
    from course_lib.notebook import show_source

    source = inspect.getsource(show_source).replace("rstrip()", "strip()")
    problems = mirror_problems(notebook_with(source, "course_lib.notebook.show_source"), "ch.ipynb")
    assert len(problems) == 1
    assert "ch.ipynb cell 1 (mirror of course_lib.notebook.show_source) differs" in problems[0]
    assert "-" in problems[0] and "+" in problems[0] and "strip()" in problems[0]


def test_unknown_object_is_reported():
    problems = mirror_problems(notebook_with("x = 1", "course_lib.notebook.no_such_thing"), "nb")
    assert len(problems) == 1
    assert "cannot get the library source" in problems[0]
    assert "no_such_thing" in problems[0]


def test_markdown_mirror_cell_is_reported():
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("x", metadata={"course": {"mirror": "course_lib"}})]
    )
    assert mirror_problems(nb, "nb") == [
        "nb cell 0 (mirror of course_lib): a mirror cell must be a code cell"
    ]
