"""The built website, checked the way a reader sees it: in a browser, with no network.

Every page of ``_toc.yml`` is loaded once in headless Chromium (requests to any host but
127.0.0.1 are aborted); the tests below then check what that visit saw:

- no JavaScript errors, failed requests or requests to other hosts;
- math rendered by the site's own MathJax, no raw TeX left outside code;
- every image loaded (non-zero natural width);
- widgets rendered from their saved state, with the figures they show;
- hidden inputs (exercise solutions) collapsed;
- no text swallowed as an unknown HTML tag (a bare ``<unk>`` in Markdown is not shown);
- chapters: a Colab launch link for that notebook, a working .ipynb download link, and a
  full-page screenshot in ``_build/site-test/<chapter>.png``.
"""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import (
    BOOK,
    SHOTS,
    WIDGET_VIEW,
    book_config,
    open_offline_page,
    toc_files,
    wait_until_settled,
)

import course_lib

PAGES = toc_files(BOOK)
CHAPTERS = [page for page in PAGES if page.startswith("chapters/")]
HTML = [f"{page}.html" for page in PAGES]

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
RAW_TEX = ("$$", "\\(", "\\)", "\\[", "\\]", "\\frac", "\\sqrt", "\\mathrm")

pytestmark = pytest.mark.browser


@dataclass
class Visit:
    """What one page showed in the browser."""

    path: str
    source: str
    problems: list[str]
    text_length: int = 0
    math_nodes: int = 0
    math_rendered: int = 0
    raw_tex: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    images: int = 0
    widget_views: int = 0
    widget_views_rendered: int = 0
    widget_images_broken: int = 0
    hidden_cells: list[dict] = field(default_factory=list)
    launch_links: list[str] = field(default_factory=list)
    colab_links: list[str] = field(default_factory=list)
    content_colab_links: list[str] = field(default_factory=list)
    download_links: list[str] = field(default_factory=list)
    unknown_tags: list[str] = field(default_factory=list)


def collect(page, path: str, source: str, problems: list[str]) -> Visit:
    visit = Visit(path=path, source=source, problems=problems)
    visit.text_length = len(page.locator("article").first.inner_text().strip())
    visit.math_nodes = page.locator("article .math").count()
    visit.math_rendered = page.locator("article mjx-container").count()
    text = page.evaluate(
        """() => {
            const copy = document.querySelector('article').cloneNode(true);
            copy.querySelectorAll('pre, code, script, mjx-container, .highlight')
                .forEach(node => node.remove());
            return copy.innerText;
        }"""
    )
    visit.raw_tex = [delimiter for delimiter in RAW_TEX if delimiter in text]
    visit.images = page.evaluate("() => document.images.length")
    visit.broken_images = page.evaluate(
        """() => Array.from(document.images)
            .filter(img => !(img.complete && img.naturalWidth > 0))
            .map(img => img.getAttribute('src'))"""
    )
    visit.widget_views = page.locator(f'script[type="{WIDGET_VIEW}"]').count()
    visit.widget_views_rendered = page.evaluate(
        """(type) => Array.from(document.querySelectorAll(`script[type="${type}"]`))
            .filter(s => { const w = s.parentElement.querySelector('.jupyter-widgets');
                           return w && w.getBoundingClientRect().height > 0; }).length""",
        WIDGET_VIEW,
    )
    visit.widget_images_broken = page.evaluate(
        """() => Array.from(document.querySelectorAll('.jupyter-widgets img'))
            .filter(img => !(img.complete && img.naturalWidth > 0)).length"""
    )
    visit.hidden_cells = page.evaluate(
        """() => Array.from(document.querySelectorAll('.cell.tag_hide-input')).map(cell => {
            const details = cell.querySelector('details.above-input');
            const input = cell.querySelector('.cell_input');
            return {
                toggle: details !== null,
                open: details ? details.open : null,
                input_visible: input ? input.checkVisibility() : null,
                summary: details ? details.querySelector('summary').innerText : '',
            };
        })"""
    )
    visit.launch_links = page.evaluate(
        """() => Array.from(document.querySelectorAll('.dropdown-launch-buttons a'))
            .map(a => a.href)"""
    )
    visit.colab_links = [h for h in visit.launch_links if "colab.research.google.com" in h]
    visit.content_colab_links = page.evaluate(
        """() => Array.from(document.querySelectorAll('article a'))
            .map(a => a.href).filter(h => h.includes('colab.research.google.com/github'))"""
    )
    visit.download_links = page.evaluate(
        """() => Array.from(document.querySelectorAll('.dropdown-download-buttons a'))
            .map(a => a.getAttribute('href')).filter(h => h && h.endsWith('.ipynb'))"""
    )
    visit.unknown_tags = page.evaluate(
        """() => Array.from(document.querySelectorAll('article *'))
            .filter(node => node instanceof HTMLUnknownElement)
            .map(node => `<${node.localName}> in "${node.parentElement.innerText.slice(0, 60)}"`)"""
    )
    return visit


@pytest.fixture(scope="session")
def visit(browser, base_url, site):
    """visit(path) loads the page once per test session and returns what it showed."""
    seen: dict[str, Visit] = {}

    def load(path: str) -> Visit:
        if path not in seen:
            context, page, log = open_offline_page(browser)
            try:
                page.goto(f"{base_url}/{path}", wait_until="load")
                wait_until_settled(page)
                source = (site / path).read_text(encoding="utf-8")
                seen[path] = collect(page, path, source, log.problems())
                if path.startswith("chapters/"):
                    shot = SHOTS / f"{Path(path).stem}.png"
                    page.screenshot(path=str(shot), full_page=True)
            finally:
                context.close()
        return seen[path]

    return load


@pytest.mark.parametrize("path", HTML + ["index.html"])
def test_page_loads_offline_without_errors(visit, path):
    seen = visit(path)
    assert not seen.problems, f"{path}:\n" + "\n".join(seen.problems)
    assert seen.text_length > 0, f"{path} shows no text"


@pytest.mark.parametrize("path", HTML)
def test_no_text_is_swallowed_as_an_unknown_html_tag(visit, path):
    """Markdown passes ``<unk>`` or ``<pad>`` through as HTML, and the browser shows nothing:
    such tokens must be in code or escaped."""
    seen = visit(path)
    assert not seen.unknown_tags, f"{path}: " + "; ".join(seen.unknown_tags[:5])


@pytest.mark.parametrize("path", HTML)
def test_math_is_rendered_by_the_sites_own_mathjax(visit, path):
    seen = visit(path)
    if seen.math_nodes:
        assert re.search(r'src="[^"]*_static/vendor/mathjax/tex-chtml\.js', seen.source), (
            f"{path}: MathJax must be served by the site"
        )
        assert seen.math_rendered >= seen.math_nodes, (
            f"{path}: {seen.math_rendered} of {seen.math_nodes} formulas rendered"
        )
    assert not seen.raw_tex, f"{path}: raw TeX left in the page text: {seen.raw_tex}"


@pytest.mark.parametrize("path", HTML)
def test_every_image_loads(visit, path):
    seen = visit(path)
    assert not seen.broken_images, f"{path}: images that did not load: {seen.broken_images}"


@pytest.mark.parametrize("path", HTML)
def test_widgets_render_from_saved_state(visit, path):
    seen = visit(path)
    if seen.widget_views == 0:
        return
    assert WIDGET_STATE in seen.source, f"{path}: widget views but no saved widget state"
    for script in ("vendor/requirejs/require.js", "vendor/html-manager/embed-amd.js"):
        assert f"_static/{script}" in seen.source, f"{path}: {script} not served by the site"
    assert seen.widget_views_rendered == seen.widget_views, (
        f"{path}: {seen.widget_views_rendered} of {seen.widget_views} widgets rendered"
    )
    assert seen.widget_images_broken == 0, f"{path}: figures inside widgets did not load"


@pytest.mark.parametrize("path", HTML)
def test_hidden_inputs_and_solutions_are_collapsed(visit, path):
    for index, cell in enumerate(visit(path).hidden_cells):
        where = f"{path}: hidden cell {index}"
        assert cell["toggle"], f"{where} has no show/hide toggle"
        assert cell["open"] is False, f"{where} is open"
        assert cell["input_visible"] is False, f"{where}: its code is visible"
        assert "Show code cell source" in cell["summary"], where


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_has_colab_launch_and_notebook_download(visit, base_url, chapter):
    repo = book_config(BOOK)["repository"]
    github = repo["url"].rstrip("/").removeprefix("https://github.com/")
    prefix = repo.get("path_to_book", "").strip("/")
    notebook = f"{prefix}/{chapter}.ipynb" if prefix else f"{chapter}.ipynb"
    tag = f"v{course_lib.__version__}"  # the release the chapter's setup cell installs
    colab = f"https://colab.research.google.com/github/{github}/blob/{tag}/{notebook}"

    seen = visit(f"{chapter}.html")
    assert seen.colab_links == [colab], f"{chapter}: Colab launch links {seen.colab_links}"
    assert seen.launch_links == seen.colab_links, (
        f"{chapter}: every launch button must open Colab, found {seen.launch_links}"
    )
    # the chapter's badges: the chapter with solutions, and its student edition
    # (scripts/add_exercise_badges.py; student/ is written by scripts/student_edition.py)
    name = Path(chapter).name
    student_notebook = f"{prefix}/student/{name}.ipynb" if prefix else f"student/{name}.ipynb"
    student = colab.replace(notebook, student_notebook)
    assert colab in seen.content_colab_links, f"{chapter}: badges {seen.content_colab_links}"
    assert student in seen.content_colab_links, (
        f"{chapter}: no 'Open the exercises in Colab' badge to {student} "
        f"(run python scripts/add_exercise_badges.py)"
    )
    assert len(seen.download_links) == 1, f"{chapter}: .ipynb download links {seen.download_links}"
    link = seen.download_links[0]
    assert link.endswith(f"_sources/{chapter}.ipynb"), link
    with urllib.request.urlopen(f"{base_url}/_sources/{chapter}.ipynb") as response:
        downloaded = json.load(response)
    assert downloaded["nbformat"] == 4 and downloaded["cells"], f"{chapter}: not a notebook"
    assert (SHOTS / f"{Path(chapter).name}.png").is_file()


def test_search_finds_attention(browser, base_url, site):
    context, page, log = open_offline_page(browser)
    try:
        page.goto(f"{base_url}/search.html?q=attention", wait_until="load")
        results = page.locator("#search-results ul.search li")
        results.first.wait_for(timeout=30_000)
        titles = " | ".join(results.all_inner_texts())
        assert results.count() >= 1
        assert "Glossary" in titles, f"the glossary defines attention; results: {titles}"
        assert not log.problems(), "\n".join(log.problems())
    finally:
        context.close()
