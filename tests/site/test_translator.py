"""The "Try the translator" page in headless Chromium, network blocked except 127.0.0.1.

The page (and every other page with a ``<div class="course-translator">``, such as the end
of chapter 7) loads the exported model with onnxruntime-web from the site itself, and:

- translates "I hate pizza" exactly as PyTorch does, word by word, with the attention map
  labelled with the words on both axes (screenshot: ``_build/site-test/translator.png``);
- says so when the box is empty, a word is unknown or the sentence is too long;
- says so when the model file fails to load (a 404 injected by the browser's router);
- logs no console errors and sends no request to another host.
"""

from __future__ import annotations

import pytest
from conftest import SHOTS, open_offline_page

from course_lib.translate import Translator

pytestmark = pytest.mark.browser

PAGE = "book/translator.html"
SETTLED = "() => ['ready', 'load-failed'].includes(document.querySelector(%r).dataset.state)"
FINISHED = (
    "() => ['done', 'error', 'load-failed'].includes(document.querySelector(%r).dataset.state)"
)


@pytest.fixture(scope="module")
def python_translator():
    return Translator.load("bundled")


def pages_with_translator(site) -> list[str]:
    return sorted(
        str(path.relative_to(site))
        for path in site.rglob("*.html")
        if 'class="course-translator"' in path.read_text(encoding="utf-8")
    )


def open_translator(browser, base_url, path: str = PAGE, box: str = ".course-translator"):
    context, page, log = open_offline_page(browser)
    page.goto(f"{base_url}/{path}", wait_until="load")
    page.wait_for_function(SETTLED % box, timeout=60_000)
    return context, page, log


def translate(page, text: str, box: str = ".course-translator"):
    widget = page.locator(box).first
    widget.evaluate("(node) => { node.dataset.state = 'test-clicked'; }")
    widget.locator(".translator-input").fill(text)
    widget.locator(".translator-button").click()
    page.wait_for_function(FINISHED % box, timeout=60_000)
    return widget


def test_the_translator_page_is_built_with_its_files(site):
    assert PAGE in pages_with_translator(site)
    static = site / "_static"
    for name in ("translator.js", "tokenizer.js", "manifest.json", "encoder.onnx", "decoder.onnx"):
        assert (static / "translator" / name).is_file(), name
    for name in ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"):
        assert (static / "vendor" / "onnxruntime-web" / name).is_file(), name


def test_i_hate_pizza_in_the_browser(browser, base_url, site, python_translator):
    context, page, log = open_translator(browser, base_url)
    try:
        widget = translate(page, "I hate pizza")
        assert widget.get_attribute("data-state") == "done"
        expected = python_translator("I hate pizza")
        assert expected == "Je déteste la pizza"
        assert widget.locator(".translator-output").inner_text() == expected
        assert widget.locator(".translator-message").is_hidden()
        # Word by word: one step per French token, then <end>.
        steps = widget.locator(".translator-steps li").all_inner_texts()
        assert [s.split()[0] for s in steps] == ["je", "déteste", "la", "pizza", "<end>"]
        # The map: English words as columns, French words (and <end>) as rows.
        columns = widget.locator(".translator-map thead th").all_inner_texts()[1:]
        rows = widget.locator(".translator-map tbody th").all_inner_texts()
        assert columns == ["i", "hate", "pizza"]
        assert rows == ["je", "déteste", "la", "pizza", "<end>"]
        assert widget.locator(".translator-map td").count() == 15
        page.screenshot(path=str(SHOTS / "translator.png"), full_page=True)
        assert not log.problems(), "\n".join(log.problems())
    finally:
        context.close()


def test_bad_input_gets_a_clear_message(browser, base_url):
    context, page, log = open_translator(browser, base_url)
    try:
        widget = translate(page, "   ")
        message = widget.locator(".translator-message")
        assert message.get_attribute("data-kind") == "empty"
        assert "Type an English sentence" in message.inner_text()
        assert widget.locator(".translator-output").inner_text() == ""

        widget = translate(page, "I love sushi")
        assert widget.get_attribute("data-state") == "done"
        assert message.get_attribute("data-kind") == "unknown"
        assert "“sushi”" in message.inner_text() and "<unk>" in message.inner_text()
        assert widget.locator(".translator-output").inner_text().strip()
        assert "sushi (<unk>)" in widget.locator(".translator-map thead").inner_text()

        widget = translate(page, " ".join(["pizza"] * 80))
        assert message.get_attribute("data-kind") == "too-long"
        assert "80 words" in message.inner_text() and "max_len = 64" in message.inner_text()
        assert widget.locator(".translator-output").inner_text() == ""
        assert not log.problems(), "\n".join(log.problems())
    finally:
        context.close()


def test_a_model_that_fails_to_load_is_reported(browser, base_url):
    context, page, log = open_offline_page(browser)
    page.route("**/translator/decoder.onnx", lambda route: route.fulfill(status=404, body="gone"))
    try:
        page.goto(f"{base_url}/{PAGE}", wait_until="load")
        page.wait_for_function(SETTLED % ".course-translator", timeout=60_000)
        widget = page.locator(".course-translator").first
        assert widget.get_attribute("data-state") == "load-failed"
        message = widget.locator(".translator-message")
        assert message.is_visible() and message.get_attribute("data-kind") == "load-failed"
        assert "could not be loaded" in message.inner_text()
        assert "decoder.onnx: HTTP 404" in message.inner_text()
        widget = translate(page, "I hate pizza")  # pressing Translate says it again
        assert message.get_attribute("data-kind") == "load-failed"
        # The browser itself logs the 404; nothing else may go wrong.
        others = [p for p in log.problems() if "404" not in p]
        assert not others, "\n".join(others)
    finally:
        context.close()


def test_every_page_with_a_translator_box_translates(browser, base_url, site, python_translator):
    """book/translator.html and, once it has its box, chapter 7's compact version."""
    for path in pages_with_translator(site):
        context, page, log = open_translator(browser, base_url, path)
        try:
            boxes = page.locator(".course-translator")
            for i in range(boxes.count()):
                box = f".course-translator[data-box='{i}']"
                page.evaluate(
                    "(i) => document.querySelectorAll('.course-translator')[i].dataset.box = i", i
                )
                widget = translate(page, "We eat red apples", box)
                assert widget.locator(".translator-output").inner_text() == python_translator(
                    "We eat red apples"
                ), f"{path}, box {i}"
            assert not log.problems(), f"{path}:\n" + "\n".join(log.problems())
        finally:
            context.close()
