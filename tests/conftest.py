"""Shared test helpers: repository paths, the book configuration, chapter order, CI policy,
and the fixtures of the browser tests in ``tests/site``.

Test modules import the helpers with ``from conftest import ...``; this is the only
``conftest.py`` of the suite, so that name always means this file.

CI policy: with ``CI=true`` in the environment a skipped test is a failure (a missing browser
or tool must not let the suite pass quietly). Locally, skips are reported loudly at the end.

Browser tests: the site in ``_build/html`` (``make book``) is served by Python's
``http.server`` on 127.0.0.1 at a free port; every request to any other host is aborted, so
a page that needs the network fails. Chromium is Debian's (``/usr/bin/chromium`` or
``$COURSE_CHROMIUM``), driven by Playwright. ``COURSE_BOOK_DIR`` points the browser tests at
another book folder (its ``_toc.yml``, ``_config.yml`` and ``_build/html``). Screenshots go
to ``<book>/_build/site-test/``.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from course_lib.data import make_toy_corpus
from course_lib.tokenize import BPETokenizer, WordTokenizer
from scripts.chromium import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS_DIR = ROOT / "chapters"
BOOK = Path(os.environ.get("COURSE_BOOK_DIR", ROOT)).resolve()
SITE = BOOK / "_build" / "html"
SHOTS = BOOK / "_build" / "site-test"


def running_in_ci() -> bool:
    """True when the CI environment variable is set to a true value (as CI services do)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def book_config(book: Path = ROOT) -> dict:
    """The parsed ``_config.yml``."""
    return yaml.safe_load((book / "_config.yml").read_text(encoding="utf-8"))


def toc_files(book: Path = ROOT) -> list[str]:
    """Every ``file:`` entry of ``_toc.yml`` in reading order (root first), without suffix."""
    toc = yaml.safe_load((book / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            for key in ("chapters", "sections", "parts"):
                walk(entry.get(key, []))

    walk(toc.get("parts", []) + toc.get("chapters", []))
    return files


def chapter_paths() -> list[Path]:
    """The chapter notebooks in the order ``_toc.yml`` lists them."""
    return [ROOT / f"{name}.ipynb" for name in toc_files() if name.startswith("chapters/")]


@pytest.fixture
def one_thread():
    """Tiny models train much faster on one thread (no thread hand-offs on a busy machine);
    the thread count is restored afterwards, also when a test (or `--threads`) changed it."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


# --- CI policy: a skip is a failure under CI=true -------------------------------------------

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not _skipped:
        return
    banner = "CI=true: skipped tests count as failures" if running_in_ci() else "SKIPPED TESTS"
    terminalreporter.section(banner, sep="!", red=True, bold=True)
    for line in _skipped:
        terminalreporter.line(f"  {line}", red=True)
    if not running_in_ci():
        terminalreporter.line(
            "  These parts of the suite did not run here; in CI (CI=true) they must.", red=True
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if running_in_ci() and _skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- browser tests: the built site, a local server, headless Chromium ------------------------


def chromium_path() -> str | None:
    for candidate in (os.environ.get("COURSE_CHROMIUM"), "/usr/bin/chromium", "chromium"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


def missing(what: str) -> None:
    """Fail under CI=true, otherwise skip with a message nobody can miss."""
    message = f"BROWSER TESTS DID NOT RUN: {what}"
    if running_in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@dataclass
class PageLog:
    """What went wrong while a page loaded."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            [f"console error: {text}" for text in self.console_errors]
            + [f"uncaught exception: {text}" for text in self.page_errors]
            + [f"failed request: {text}" for text in self.failed_requests]
            + [f"request to another host (blocked): {url}" for url in self.blocked]
        )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture(scope="session")
def site() -> Path:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site at {SITE}: run `make book` first", pytrace=False)
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SITE


@pytest.fixture(scope="session")
def base_url(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if executable is None:
        missing("Chromium not found (apt-get install chromium, or set COURSE_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright Python package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_offline_page(browser):
    """A new browser context and page that can reach 127.0.0.1 only, and its error log."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    log = PageLog()

    def route(route):
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            log.blocked.append(url)
            route.abort()

    def on_response(response):
        if response.status >= 400:
            log.failed_requests.append(f"{response.url} (HTTP {response.status})")

    def on_request_failed(request):
        if urlparse(request.url).hostname == "127.0.0.1":
            log.failed_requests.append(f"{request.url} ({request.failure})")

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda msg: msg.type == "error" and log.console_errors.append(msg.text))
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)
    return context, page, log


@pytest.fixture
def page_and_log(browser):
    """A fresh page with no network beyond 127.0.0.1, and the log of what went wrong."""
    context, page, log = open_offline_page(browser)
    yield page, log
    context.close()


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def wait_until_settled(page) -> None:
    """Wait for MathJax, the widgets and every image of the page."""
    page.wait_for_load_state("networkidle")
    page.evaluate("async () => { if (window.MathJax?.startup) await MathJax.startup.promise; }")
    if page.locator(f'script[type="{WIDGET_VIEW}"]').count():
        page.wait_for_selector(".jupyter-widgets", timeout=30_000)
        page.wait_for_load_state("networkidle")
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
    page.evaluate("() => window.scrollTo(0, 0)")


# --- shared by the data and tokenizer tests ------------------------------------------------

SHARED_DATA = ROOT.parent / "shared" / "data"
SAMPLE = SHARED_DATA / "tatoeba-eng-fra-sample.tsv"  # English<TAB>French<TAB>attribution
LARGE = SHARED_DATA / "tatoeba-eng-fra-large.tsv"  # English<TAB>French

needs_shared_data = pytest.mark.skipif(
    not SAMPLE.is_file() or not LARGE.is_file(),
    reason=f"the Tatoeba test copies are not in {SHARED_DATA}",
)


# The bundled corpus and the French tokenizers fitted on it (tests/test_tokenize_*.py).
@pytest.fixture(scope="module")
def corpus():
    return make_toy_corpus(0)


@pytest.fixture(scope="module")
def fr_tok(corpus):
    return WordTokenizer.fit([f for _, f in corpus.train], "fr")


@pytest.fixture(scope="module")
def bpe(corpus):
    return BPETokenizer.fit([f for _, f in corpus.train], vocab_size=300, language="fr")
