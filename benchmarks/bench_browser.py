"""The "Try the translator" page in headless Chromium: how long a translation takes and how
much the page downloads (``python -m benchmarks --only browser``).

Needs the built site (``make book``), Debian's Chromium and Playwright. The site is served
from ``_build/html`` on 127.0.0.1 and every request to another host is aborted (and
counted: there must be none). Measured:

* ``browser_model_ready_ms``: from navigation to the model being loaded (onnxruntime-web's
  WebAssembly compiled, both ONNX sessions created);
* ``browser_translate_first_ms``: the first press of *Translate* on "I hate pizza", from the
  click to the full translation and its attention map on the page (the page's own
  ``performance.now()`` difference, stored in ``data-translate-ms``);
* ``browser_translate_ms``: the median of the next ``REPEATS`` presses (warm);
* ``browser_download_bytes``: the bytes of every response the page received, by part
  (the exported model, onnxruntime-web, the rest of the page).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import statistics
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from scripts.chromium import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("COURSE_BOOK_DIR", ROOT)) / "_build" / "html"  # as the site tests
PAGE = "book/translator.html"
SENTENCES = ("I hate pizza", "We don't eat the big red apples")
REPEATS = 10


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def _part(url: str) -> str:
    path = urlparse(url).path
    if "/_static/translator/" in path:
        return "model"
    if "/_static/vendor/onnxruntime-web/" in path:
        return "onnxruntime"
    return "page"


def _translate(page, sentence: str) -> float:
    box = page.locator(".course-translator").first
    box.evaluate("(node) => { node.dataset.state = 'bench'; }")
    box.locator(".translator-input").fill(sentence)
    box.locator(".translator-button").click()
    page.wait_for_function(
        "() => ['done', 'error'].includes(document.querySelector('.course-translator')"
        ".dataset.state)",
        timeout=60_000,
    )
    if box.get_attribute("data-state") != "done":
        raise SystemExit(f"the translator page failed on {sentence!r}")
    return float(box.get_attribute("data-translate-ms"))


def run() -> dict:
    from playwright.sync_api import sync_playwright

    if not (SITE / PAGE).is_file():
        raise SystemExit(f"no {SITE / PAGE}: build the site first (make book)")
    chromium = os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        raise SystemExit("the browser benchmark needs Chromium (apt-get install chromium)")
    handler = functools.partial(_Quiet, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sizes: dict[str, int] = {"model": 0, "onnxruntime": 0, "page": 0}
    files: dict[str, int] = {}
    blocked: list[str] = []

    def route(route):
        if urlparse(route.request.url).hostname in ("127.0.0.1", None):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    def on_response(response):
        try:
            size = len(response.body())
        except Exception:  # a redirect or an aborted request has no body
            size = 0
        sizes[_part(response.url)] += size
        files[urlparse(response.url).path] = size

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", route)
            page = context.new_page()
            page.on("response", on_response)
            start = time.perf_counter()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/{PAGE}")
            page.wait_for_function(
                "() => document.querySelector('.course-translator').dataset.state === 'ready'",
                timeout=120_000,
            )
            ready_ms = (time.perf_counter() - start) * 1000
            first = _translate(page, SENTENCES[0])
            output = page.locator(".course-translator .translator-output").first.inner_text()
            warm = [_translate(page, SENTENCES[0]) for _ in range(REPEATS)]
            longer = [_translate(page, SENTENCES[1]) for _ in range(REPEATS)]
            page.wait_for_load_state("networkidle")
            version = browser.version
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    total = sum(sizes.values())
    return {
        "browser_page": PAGE,
        "browser_chromium": version,
        "browser_sentence": SENTENCES[0],
        "browser_translation": output,
        "browser_model_ready_ms": round(ready_ms, 1),
        "browser_translate_first_ms": round(first, 1),
        "browser_translate_ms": round(statistics.median(warm), 1),
        "browser_translate_long_sentence": SENTENCES[1],
        "browser_translate_long_ms": round(statistics.median(longer), 1),
        "browser_repeats": REPEATS,
        "browser_download_bytes": total,
        "browser_download_mb": round(total / 1e6, 2),
        "browser_download_bytes_by_part": sizes,
        "browser_download_mb_by_part": {k: round(v / 1e6, 2) for k, v in sizes.items()},
        "browser_files": len(files),
        "browser_blocked_requests": len(blocked),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
