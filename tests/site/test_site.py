"""The built website, checked the way a reader sees it: in a browser, with no network.

For every page of ``_toc.yml``: no JavaScript errors, no request leaves 127.0.0.1, math is
rendered by the site's own MathJax, every image loads, widgets render from their saved state,
solutions are collapsed. Chapter pages also need a Colab launch link for that notebook and a
download link, and get a full-page screenshot in ``_build/site-test/``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import BOOK, SHOTS, book_config, toc_files

PAGES = toc_files(BOOK)
CHAPTERS = [page for page in PAGES if page.startswith("chapters/")]

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def open_page(page, base_url: str, path: str) -> None:
    """Load a page and wait until its scripts have finished (MathJax, widgets, images)."""
    page.goto(f"{base_url}/{path}", wait_until="load")
    page.wait_for_load_state("networkidle")
    # MathJax typesets asynchronously; wait for its promise when the page loads it.
    page.wait_for_function("() => !window.MathJax || (window.MathJax.startup !== undefined)")
    page.evaluate("async () => { if (window.MathJax) await window.MathJax.startup.promise; }")
    # Scroll through the page so nothing waits for visibility, then wait for every image.
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function(
        "() => Array.from(document.images).every(img => img.complete)", timeout=15_000
    )
    page.evaluate("() => window.scrollTo(0, 0)")


def html_of(site: Path, path: str) -> str:
    return (site / path).read_text(encoding="utf-8")


@pytest.mark.browser
@pytest.mark.parametrize("path", [f"{page}.html" for page in PAGES] + ["index.html"])
def test_page_loads_offline_without_errors(page_and_log, base_url, site, path):
    page, log = page_and_log
    open_page(page, base_url, path)
    assert not log.problems(), f"{path}:\n" + "\n".join(log.problems())
    assert page.locator("article, main").first.inner_text().strip(), f"{path} has no content"


@pytest.mark.browser
@pytest.mark.parametrize("path", [f"{page}.html" for page in PAGES])
def test_math_is_rendered(page_and_log, base_url, site, path):
    page, log = page_and_log
    source = html_of(site, path)
    open_page(page, base_url, path)
    math_nodes = page.locator("article .math").count()
    if math_nodes:
        assert re.search(r'src="[^"]*_static/vendor/mathjax/tex-chtml\.js', source), (
            f"{path}: MathJax must come from the site itself"
        )
        rendered = page.locator("article mjx-container").count()
        assert rendered >= math_nodes, f"{path}: {rendered} of {math_nodes} formulas rendered"
    # Outside code, no TeX delimiters may be left for the reader to see.
    text = page.evaluate(
        """() => {
            const article = document.querySelector('article') || document.body;
            const copy = article.cloneNode(true);
            copy.querySelectorAll('pre, code, script, mjx-container, .highlight')
                .forEach(node => node.remove());
            return copy.innerText;
        }"""
    )
    for delimiter in ("$$", "\\(", "\\)", "\\[", "\\]", "\\frac", "\\sqrt"):
        assert delimiter not in text, f"{path}: raw TeX {delimiter!r} left in the page"
    assert not log.problems(), "\n".join(log.problems())


@pytest.mark.browser
@pytest.mark.parametrize("path", [f"{page}.html" for page in PAGES])
def test_every_image_loads(page_and_log, base_url, path):
    page, log = page_and_log
    open_page(page, base_url, path)
    broken = page.evaluate(
        """() => Array.from(document.images)
            .filter(img => !(img.complete && img.naturalWidth > 0))
            .map(img => img.getAttribute('src'))"""
    )
    assert not broken, f"{path}: images that did not load: {broken}"


@pytest.mark.browser
@pytest.mark.parametrize("path", [f"{page}.html" for page in PAGES])
def test_widgets_render_from_saved_state(page_and_log, base_url, site, path):
    page, log = page_and_log
    source = html_of(site, path)
    views = source.count(WIDGET_VIEW)
    if views == 0:
        assert WIDGET_STATE not in source or '"state": {}' in source, path
        return
    assert WIDGET_STATE in source, f"{path}: widget views but no saved widget state"
    assert "_static/vendor/html-manager/embed-amd.js" in source, f"{path}: widget JS not local"
    assert "_static/vendor/requirejs/require.js" in source, f"{path}: RequireJS not local"
    open_page(page, base_url, path)
    page.wait_for_selector(".jupyter-widgets", timeout=20_000)
    rendered = page.evaluate(
        """(type) => Array.from(document.querySelectorAll(`script[type="${type}"]`))
            .filter(s => s.parentElement.querySelector('.jupyter-widgets')).length""",
        WIDGET_VIEW,
    )
    assert rendered == views, f"{path}: {rendered} of {views} widget views rendered"
    assert page.locator(".jupyter-widgets").first.is_visible()
    broken = page.evaluate(
        """() => Array.from(document.querySelectorAll('.jupyter-widgets img'))
            .filter(img => !(img.complete && img.naturalWidth > 0)).length"""
    )
    assert broken == 0, f"{path}: {broken} figures inside widgets did not load"
    assert not log.problems(), "\n".join(log.problems())


@pytest.mark.browser
@pytest.mark.parametrize("path", [f"{page}.html" for page in PAGES])
def test_hidden_inputs_and_solutions_are_collapsed(page_and_log, base_url, path):
    page, log = page_and_log
    open_page(page, base_url, path)
    hidden = page.locator(".cell.tag_hide-input")
    for index in range(hidden.count()):
        cell = hidden.nth(index)
        details = cell.locator("details.above-input")
        assert details.count() == 1, f"{path}: hide-input cell {index} has no toggle"
        assert details.evaluate("node => node.open") is False, f"{path}: cell {index} is open"
        assert not cell.locator(".cell_input").is_visible(), f"{path}: solution {index} visible"
        assert "Show code cell source" in details.locator("summary").inner_text()


@pytest.mark.browser
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_has_colab_launch_and_download_and_screenshot(
    page_and_log, base_url, site, chapter
):
    page, log = page_and_log
    repo = book_config(BOOK)["repository"]
    github = repo["url"].rstrip("/").removeprefix("https://github.com/")
    prefix = repo.get("path_to_book", "").strip("/")
    notebook = f"{prefix}/{chapter}.ipynb" if prefix else f"{chapter}.ipynb"
    colab = f"https://colab.research.google.com/github/{github}/blob/{repo['branch']}/{notebook}"

    open_page(page, base_url, f"{chapter}.html")
    page.screenshot(path=str(SHOTS / f"{Path(chapter).name}.png"), full_page=True)

    launch = page.locator(f'.dropdown-launch-buttons a[href="{colab}"]')
    assert launch.count() == 1, f"{chapter}: no Colab launch button linking to {colab}"
    download = page.locator(f'.dropdown-download-buttons a[href$="_sources/{chapter}.ipynb"]')
    assert download.count() == 1, f"{chapter}: no .ipynb download link"
    response = page.request.get(f"{base_url}/_sources/{chapter}.ipynb")
    assert response.ok, f"{chapter}: download link answers HTTP {response.status}"
    downloaded = json.loads(response.text())
    assert downloaded["nbformat"] == 4 and downloaded["cells"], f"{chapter}: not a notebook"
    assert not log.problems(), "\n".join(log.problems())


@pytest.mark.browser
def test_search_finds_attention(page_and_log, base_url):
    page, log = page_and_log
    page.goto(f"{base_url}/search.html?q=attention", wait_until="load")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for(timeout=20_000)
    assert results.count() >= 1
    titles = " ".join(results.all_inner_texts()).lower()
    assert "glossary" in titles or "attention" in titles, titles
    assert not log.problems(), "\n".join(log.problems())
