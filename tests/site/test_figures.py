"""Every picture of a chapter, checked in the browser in light and dark mode (issue 15).

Each chapter page is loaded twice in headless Chromium (no network but 127.0.0.1): once as
the site opens by default (light) and once in the theme's dark mode (``localStorage`` mode
and theme ``dark``, as the theme's switcher leaves them). A full-page screenshot of each goes
to ``_build/site-test/<chapter>-light.png`` and ``<chapter>-dark.png``. Then:

- every ``<img>`` in the page's article has alt text that says something: not empty, not a
  file name, not a Python repr such as ``<Figure size 640x480 with 1 Axes>``;
- every image is a figure with a caption numbered by Sphinx ("Figure 3.2 ..."), and every
  ``<figure>`` has such a caption -- except the images listed in :data:`NOT_FIGURES` with
  the reason, and images drawn by a widget from its saved state (the chapter shows the same
  information as a captioned static figure, see CONTRIBUTING.md);
- in dark mode every figure stays readable: the colour behind its corners (its own pixels
  where they are opaque, else the background the page gives it) is light.

Chapters gain their captions and alt text as they are revised; until then this test names
each image that lacks them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import BOOK, SHOTS, open_offline_page, toc_files, wait_until_settled

CHAPTERS = [page for page in toc_files(BOOK) if page.startswith("chapters/")]
MODES = ("light", "dark")

# Images that are not figures: (a part of their src, why they need no numbered caption).
NOT_FIGURES = [
    (
        "colab-badge.svg",
        "the 'Open In Colab' badge at the top of each chapter: a link with alt text, not a figure",
    ),
]
CAPTION = re.compile(r"^\s*Figure \d+\.\d+\b")
FILE_NAME = re.compile(r"(^|/)[\w.\-]+\.(png|svg|jpe?g|gif|webp)$", re.IGNORECASE)

pytestmark = pytest.mark.browser

IMAGES_JS = """
() => {
    const article = document.querySelector('article');
    const images = Array.from(article.querySelectorAll('img')).map(img => {
        const figure = img.closest('figure');
        const caption = figure ? figure.querySelector('figcaption') : null;
        let corners = null;
        if (img.complete && img.naturalWidth > 0) {
            try {
                const canvas = document.createElement('canvas');
                canvas.width = img.naturalWidth;
                canvas.height = img.naturalHeight;
                const context = canvas.getContext('2d');
                context.drawImage(img, 0, 0);
                const w = canvas.width - 1, h = canvas.height - 1;
                const inset = (v) => Math.min(2, v);
                corners = [[inset(w), inset(h)], [w - inset(w), inset(h)],
                           [inset(w), h - inset(h)], [w - inset(w), h - inset(h)]]
                    .map(([x, y]) => Array.from(context.getImageData(x, y, 1, 1).data));
            } catch (error) {
                corners = null;
            }
        }
        let background = 'rgba(0, 0, 0, 0)';
        for (let node = img; node && node !== document.documentElement; node = node.parentElement) {
            const colour = getComputedStyle(node).backgroundColor;
            if (colour && !/rgba\\(.*,\\s*0\\)$/.test(colour) && colour !== 'transparent') {
                background = colour;
                break;
            }
        }
        if (background === 'rgba(0, 0, 0, 0)') {
            background = getComputedStyle(document.body).backgroundColor;
        }
        return {
            src: (img.getAttribute('src') || '').slice(0, 120),
            alt: img.getAttribute('alt'),
            in_figure: figure !== null,
            caption: caption ? caption.innerText.trim() : null,
            in_widget: img.closest('.jupyter-widgets, .widget-subarea') !== null,
            corners: corners,
            background: background,
        };
    });
    const figures = Array.from(article.querySelectorAll('figure')).map(figure => {
        const caption = figure.querySelector('figcaption');
        return {
            id: figure.id || (figure.querySelector('[id]') || {}).id || '',
            caption: caption ? caption.innerText.trim() : null,
            images: figure.querySelectorAll('img, svg').length,
        };
    });
    return {images, figures, theme: document.documentElement.dataset.theme || ''};
}
"""


@dataclass
class Pictures:
    chapter: str
    mode: str
    theme: str
    images: list[dict] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)


@pytest.fixture(scope="session")
def pictures(browser, base_url, site):
    """pictures(chapter, mode) loads the chapter once per mode and returns its images."""
    seen: dict[tuple[str, str], Pictures] = {}

    def load(chapter: str, mode: str) -> Pictures:
        if (chapter, mode) not in seen:
            context, page, _ = open_offline_page(browser)
            try:
                if mode == "dark":
                    context.add_init_script(
                        "localStorage.setItem('mode', 'dark');"
                        "localStorage.setItem('theme', 'dark');"
                    )
                page.goto(f"{base_url}/{chapter}.html", wait_until="load")
                wait_until_settled(page)
                found = page.evaluate(IMAGES_JS)
                shot = SHOTS / f"{Path(chapter).name}-{mode}.png"
                page.screenshot(path=str(shot), full_page=True)
            finally:
                context.close()
            seen[chapter, mode] = Pictures(
                chapter, mode, found["theme"], found["images"], found["figures"]
            )
        return seen[chapter, mode]

    return load


def not_a_figure(image: dict) -> str | None:
    """Why ``image`` needs no numbered caption, or None."""
    for part, reason in NOT_FIGURES:
        if part in image["src"]:
            return reason
    if image["in_widget"]:
        return "drawn by a widget from its saved state"
    return None


def bad_alt(alt: str | None) -> str | None:
    """What is wrong with an image's alt text, or None."""
    if alt is None or not alt.strip():
        return "no alt text"
    text = alt.strip()
    if FILE_NAME.search(text) or "_images/" in text:
        return f"alt text is a file name ({text!r})"
    if text.startswith("<") and text.endswith(">"):
        return f"alt text is a Python repr ({text!r})"
    return None


def _name(image: dict) -> str:
    src = image["src"]
    return "an inline image (data: URI)" if src.startswith("data:") else src


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_image_has_alt_text(pictures, chapter):
    seen = pictures(chapter, "light")
    problems = []
    for image in seen.images:
        if image["in_widget"]:
            continue  # its alt text comes from the widget library, not from the chapter
        problem = bad_alt(image["alt"])
        if problem:
            problems.append(f"{_name(image)}: {problem}")
    assert not problems, f"{chapter}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_image_is_a_figure_with_a_numbered_caption(pictures, chapter):
    seen = pictures(chapter, "light")
    problems = []
    for image in seen.images:
        if not_a_figure(image):
            continue
        if not image["in_figure"]:
            problems.append(f"{_name(image)} (alt {image['alt']!r}): not in a figure")
        elif not image["caption"] or not CAPTION.match(image["caption"]):
            problems.append(
                f"{_name(image)}: caption {image['caption']!r} is not numbered 'Figure N.M'"
            )
    for figure in seen.figures:
        if not figure["caption"] or not CAPTION.match(figure["caption"]):
            problems.append(f"figure {figure['id']!r}: caption {figure['caption']!r}")
        if figure["images"] == 0:
            problems.append(f"figure {figure['id']!r}: shows no image")
    assert not problems, f"{chapter}:\n  " + "\n  ".join(problems)


def _rgba(colour: str) -> tuple[float, float, float, float]:
    values = [float(v) for v in re.findall(r"[\d.]+", colour)]
    return (*values[:3], values[3] if len(values) > 3 else 1.0)  # type: ignore[return-value]


def luminance(red: float, green: float, blue: float) -> float:
    """Relative luminance (WCAG) of an sRGB colour given as 0-255 channels."""

    def linear(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def corner_luminance(image: dict) -> float | None:
    """The darkest of the image's corners as the reader sees them (an opaque pixel, or the
    background the page paints behind a transparent one)."""
    if not image["corners"]:
        return None
    background = _rgba(image["background"])[:3]
    values = []
    for r, g, b, a in image["corners"]:
        alpha = a / 255
        mixed = [alpha * c + (1 - alpha) * bg for c, bg in zip((r, g, b), background)]
        values.append(luminance(*mixed))
    return min(values)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_figures_stay_readable_in_dark_mode(pictures, chapter):
    seen = pictures(chapter, "dark")
    assert seen.theme == "dark", f"{chapter}: dark mode did not apply (theme {seen.theme!r})"
    problems = []
    for image in seen.images:
        if any(part in image["src"] for part, _ in NOT_FIGURES):
            continue
        value = corner_luminance(image)
        if value is None:
            problems.append(f"{_name(image)}: could not be read back to check its background")
        elif value < 0.5:
            problems.append(
                f"{_name(image)}: dark background behind the figure in dark mode "
                f"(luminance {value:.2f}; figures need a white background)"
            )
    assert not problems, f"{chapter}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_light_and_dark_screenshots_are_saved(pictures, chapter):
    for mode in MODES:
        pictures(chapter, mode)
        shot = SHOTS / f"{Path(chapter).name}-{mode}.png"
        assert shot.is_file() and shot.stat().st_size > 10_000, shot


# --- the helpers themselves --------------------------------------------------------------------


def test_bad_alt_texts_are_named():
    assert bad_alt(None) == "no alt text"
    assert bad_alt("  ") == "no alt text"
    assert "file name" in bad_alt("../_images/abc123.png")
    assert "repr" in bad_alt("<Figure size 640x480 with 1 Axes>")
    assert bad_alt("Heat map of the attention weights of 'I love pizza'") is None


def test_captions_must_be_numbered():
    assert CAPTION.match("Figure 3.2 Multi-head attention")
    assert not CAPTION.match("Fig. 3 Multi-head attention")
    assert not CAPTION.match("Multi-head attention")


def test_a_transparent_corner_is_judged_on_the_background_behind_it():
    dark_page = {"corners": [[0, 0, 0, 0]] * 4, "background": "rgb(18, 18, 18)"}
    light_box = {"corners": [[0, 0, 0, 0]] * 4, "background": "rgb(206, 214, 221)"}
    white_png = {"corners": [[255, 255, 255, 255]] * 4, "background": "rgb(18, 18, 18)"}
    assert corner_luminance(dark_page) < 0.5
    assert corner_luminance(light_box) > 0.5
    assert corner_luminance(white_png) == pytest.approx(1.0)
