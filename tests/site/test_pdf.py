"""The PDF of the book (``make pdf``): every chapter is in it, with its figures, and the
website links to it.

The PDF is opened with pypdf. Its outline (one bookmark per heading, written by Chromium)
gives the page where each chapter starts; the chapter runs until the next top-level
bookmark. Each chapter's title (the ``# `` heading of its notebook) must be the bookmark and
appear in the text of that page, and the chapter's pages must hold at least one image (the
figures are PNG outputs of the notebooks). The copy on the website must be the same file,
linked from the setup page.
"""

from __future__ import annotations

import functools
import re

import nbformat
import pytest
from conftest import BOOK, SITE, chapter_paths

PDF = BOOK / "_build" / "pdf" / "book.pdf"
SITE_PDF = SITE / "book" / "the-transformer-step-by-step.pdf"


def squeeze(text: str) -> str:
    """Letters and digits only: Chromium's outline and text drop or double some spaces."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


@functools.cache
def chapter_titles() -> list[str]:
    titles = []
    for path in chapter_paths():
        nb = nbformat.read(path, as_version=4)
        heading = next(
            line[2:].strip()
            for cell in nb.cells
            if cell.cell_type == "markdown"
            for line in cell.source.splitlines()
            if line.startswith("# ")
        )
        titles.append(re.sub(r"^\d+\.\s*", "", heading))
    return titles


@pytest.fixture(scope="module")
def reader():
    if not PDF.is_file():
        pytest.fail(f"no PDF at {PDF}: run `make pdf`", pytrace=False)
    from pypdf import PdfReader

    return PdfReader(PDF)


def outline(reader) -> list[tuple[int, str, int]]:
    """(depth, title, page index) of every bookmark, in order."""

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                yield from walk(item, depth + 1)
            else:
                yield depth, item.title, reader.get_destination_page_number(item)

    return list(walk(reader.outline, 0))


def images_on(page, seen=None) -> int:
    """Image XObjects drawn on ``page``, including those inside form XObjects."""
    seen = set() if seen is None else seen
    resources = page.get("/Resources") or {}
    xobjects = resources.get("/XObject") or {}
    count = 0
    for name in xobjects:
        ref = xobjects.raw_get(name)
        key = getattr(ref, "idnum", None)
        if key is not None and key in seen:
            continue
        seen.add(key)
        obj = xobjects[name].get_object()
        if obj.get("/Subtype") == "/Image":
            count += 1
        elif obj.get("/Subtype") == "/Form":
            count += images_on(obj, seen)
    return count


@functools.cache
def chapter_ranges(reader) -> dict[str, range]:
    marks = outline(reader)
    depth = min(d for d, title, _ in marks if squeeze(chapter_titles()[0]) in squeeze(title))
    top = [(squeeze(title), page) for d, title, page in marks if d == depth]
    ranges = {}
    for title in chapter_titles():
        index = next((i for i, (t, _) in enumerate(top) if squeeze(title) in t), None)
        if index is None:
            continue
        start = top[index][1]
        end = top[index + 1][1] if index + 1 < len(top) else len(reader.pages) - 1
        ranges[title] = range(start, max(end, start) + 1)
    return ranges


def test_pdf_has_every_chapter_title(reader):
    ranges = chapter_ranges(reader)
    missing = [title for title in chapter_titles() if title not in ranges]
    assert not missing, f"chapters without a bookmark in {PDF.name}: {missing}"
    for title, pages in ranges.items():
        text = squeeze(reader.pages[pages.start].extract_text() or "")
        assert squeeze(title) in text, f"{title!r} not on page {pages.start + 1}"


def test_every_chapter_has_a_figure(reader):
    for title, pages in chapter_ranges(reader).items():
        figures = sum(images_on(reader.pages[i]) for i in pages)
        assert figures >= 1, f"{title!r} (pages {pages.start + 1}-{pages.stop}) shows no image"


def test_pdf_size_is_sane(reader):
    assert len(reader.pages) >= 7 * 5, f"only {len(reader.pages)} pages"
    assert PDF.stat().st_size < 100e6, f"{PDF.stat().st_size / 1e6:.0f} MB"


def test_the_website_links_the_pdf():
    assert SITE_PDF.is_file(), f"no {SITE_PDF}: `make pdf` after `make book` copies it there"
    assert SITE_PDF.read_bytes() == PDF.read_bytes(), "the website's PDF is not the latest build"
    for page in ("setup", "intro"):
        html = (SITE / "book" / f"{page}.html").read_text(encoding="utf-8")
        assert f'href="{SITE_PDF.name}"' in html, f"book/{page}.html does not link the PDF"
