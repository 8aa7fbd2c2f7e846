"""Sphinx extension for the course website.

Every chapter's first cell shows Colab's "Open in Colab" badge, an image on
colab.research.google.com. The website must not load anything from another host, so when
the book is built the badge image is replaced by ``book/images/colab-badge.svg``; the link
around it still opens the chapter in Colab. In the notebooks themselves (GitHub, Colab,
Jupyter) the original badge stays.
"""

from __future__ import annotations

from docutils import nodes

COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "/book/images/colab-badge.svg"  # a leading "/" means: from the book's root


def use_local_badge(app, doctree: nodes.document) -> None:
    for image in doctree.findall(nodes.image):
        if image.get("uri") == COLAB_BADGE:
            image["uri"] = LOCAL_BADGE
            if "candidates" in image:
                del image["candidates"]


def use_release(app, config) -> None:
    """The site belongs to one release of the course (RELEASING.md): its version is shown in
    every page's footer, and the launch buttons open the chapters at that release's tag,
    whose setup cell installs the same version (as the chapters' Colab badges do).
    ``repository.branch`` of ``_config.yml`` stays the development branch."""
    from course_lib import __version__

    config.version = config.release = __version__
    options = config.html_theme_options
    options["repository_branch"] = f"v{__version__}"
    footer = options.get("extra_footer", "")
    options["extra_footer"] = f"{footer}<p>Version {__version__} of the course.</p>"


def setup(app):
    # Before Sphinx's image collector (priority 500) resolves and copies image files.
    app.connect("doctree-read", use_local_badge, priority=400)
    app.connect("config-inited", use_release)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
