"""Build the PDF of the book (`make pdf`): one HTML page of the whole book, printed by Chromium.

Jupyter Book's own ``--builder pdfhtml`` downloads a Chromium of its own (pyppeteer), which
cannot work offline, so this does the same with Debian's Chromium:

1. ``jupyter-book build --builder singlehtml`` with the repository's ``_config.yml`` except
   that notebooks are not executed again (the committed chapters are executed; the website
   build executes them and nbval compares them). Output: ``_build/pdf/_build/singlehtml``.
2. That page is served on 127.0.0.1 and opened in headless Chromium (``/usr/bin/chromium``
   or ``$COURSE_CHROMIUM``) through Playwright, with every other host blocked; once MathJax
   has typeset every formula and every image has loaded, it is printed to
   ``_build/pdf/book.pdf`` (A4, with a document outline: one bookmark per chapter).
3. If the website was built (``_build/html``), the PDF is copied to
   ``_build/html/book/the-transformer-step-by-step.pdf``, where the introduction and the
   setup page link to it.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import yaml
from chromium import CHROMIUM_ARGS  # scripts/chromium.py, beside this file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "pdf"
PDF_NAME = "the-transformer-step-by-step.pdf"
SITE_COPY = ROOT / "_build" / "html" / "book" / PDF_NAME
# Wide code and tables are wrapped instead of cut at the page edge; the navigation, the
# header buttons and the "show code" toggles are for the screen only.
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 16mm 14mm; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article, .prev-next-area,
.bd-footer, .bd-footer-content, .bd-header-article, #pst-back-to-top, .toggle-details,
.headerlink, .copybtn { display: none !important; }
.bd-main .bd-content .bd-article-container { max-width: 100% !important; }
.bd-page-width { max-width: 100% !important; }
pre, .highlight pre, .output pre { white-space: pre-wrap !important; word-break: break-word; }
img { max-width: 100% !important; page-break-inside: avoid; }
h1 { break-before: page; }
"""


def chromium() -> str:
    for candidate in (os.environ.get("COURSE_CHROMIUM"), "/usr/bin/chromium", "chromium"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    raise SystemExit("make pdf: Chromium not found (apt-get install chromium, or COURSE_CHROMIUM)")


def pdf_config(out: Path) -> Path:
    """``_config.yml`` with execution off, written next to the PDF build."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["execute"]["execute_notebooks"] = "off"
    # Paths in the configuration are relative to its own folder: make them absolute.
    config["logo"] = str(ROOT / config["logo"])
    config["bibtex_bibfiles"] = [str(ROOT / f) for f in config["bibtex_bibfiles"]]
    sphinx = config["sphinx"]
    sphinx["local_extensions"] = {k: str(ROOT / v) for k, v in sphinx["local_extensions"].items()}
    static = sphinx["config"]["html_static_path"]
    sphinx["config"]["html_static_path"] = [str(ROOT / p) for p in static]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "_config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def build_single_page(out: Path) -> Path:
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [
        str(jupyter_book),
        "build",
        str(ROOT),
        "--builder",
        "singlehtml",
        "--config",
        str(pdf_config(out)),
        "--path-output",
        str(out),
        "--all",
        "-n",
        "--keep-going",
    ]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)
    # index.html only redirects to the root document, which holds the whole book.
    root_doc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))["root"]
    page = out / "_build" / "singlehtml" / f"{root_doc}.html"
    if not page.is_file():
        raise SystemExit(f"make pdf: the single-page build wrote no {page}")
    return page


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def print_pdf(out: Path, page: Path, pdf: Path) -> None:
    from playwright.sync_api import sync_playwright

    site = out / "_build" / "singlehtml"
    # Sphinx writes the root document (book/intro) at book/intro.html but links its
    # _static/ and _images/ as if it were at the top: print a copy from the top.
    top = site / "whole-book.html"
    shutil.copy(page, top)
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{top.name}"
    blocked: list[str] = []

    def route(route):
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1100, "height": 1400})
            context.route("**/*", route)
            tab = context.new_page()
            tab.goto(url, wait_until="load", timeout=120_000)
            tab.wait_for_load_state("networkidle", timeout=120_000)
            tab.evaluate(
                "async () => { if (window.MathJax?.startup) await MathJax.startup.promise; }"
            )
            tab.add_style_tag(content=PRINT_CSS)
            tab.evaluate("() => document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
            tab.wait_for_function(
                "() => Array.from(document.images).every(i => i.complete)", timeout=120_000
            )
            math = tab.evaluate(
                "() => [document.querySelectorAll('.math').length,"
                " document.querySelectorAll('mjx-container').length]"
            )
            if math[1] < math[0]:
                raise SystemExit(f"make pdf: MathJax typeset {math[1]} of {math[0]} formulas")
            pdf.parent.mkdir(parents=True, exist_ok=True)
            tab.pdf(
                path=str(pdf),
                format="A4",
                print_background=True,
                outline=True,
                tagged=True,
                prefer_css_page_size=True,
            )
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    if blocked:
        print(f"make pdf: blocked {len(blocked)} requests to other hosts, e.g. {blocked[0]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="build folder (default _build/pdf)")
    parser.add_argument("--no-build", action="store_true", help="print the last single page again")
    args = parser.parse_args(argv)
    start = time.time()
    out = args.out.resolve()
    if args.no_build:
        root_doc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))["root"]
        page = out / "_build" / "singlehtml" / f"{root_doc}.html"
    else:
        page = build_single_page(out)
    pdf = out / "book.pdf"
    print_pdf(out, page, pdf)
    from pypdf import PdfReader

    pages = len(PdfReader(pdf).pages)
    size = pdf.stat().st_size / 1e6
    print(f"PDF: {pdf} ({pages} pages, {size:.1f} MB) in {time.time() - start:.0f} s")
    if SITE_COPY.parent.is_dir():
        shutil.copy(pdf, SITE_COPY)
        print(f"copied to the website: {SITE_COPY}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
