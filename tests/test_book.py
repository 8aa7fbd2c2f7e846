"""The book configuration: chapters are executed at build time and a failing cell fails the build.

The slow tests build a tiny book in a temporary folder with the repository's own
``_config.yml`` (and ``book/`` for the logo, bibliography and extension), using the flags of
``make book``: once with a notebook that raises (the build must fail and say why) and once
with a healthy notebook (the same settings must pass, warnings as errors included).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, book_config

JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")


def make_flags() -> list[str]:
    """The jupyter-book flags of ``make book`` (JB_FLAGS in the Makefile)."""
    match = re.search(r"^JB_FLAGS\s*:?=\s*(.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, "the Makefile must define JB_FLAGS"
    return match.group(1).split()


def test_make_book_builds_everything_with_warnings_as_errors():
    flags = make_flags()
    for flag in ("--all", "-W", "-n", "--keep-going"):
        assert flag in flags, f"make book must pass {flag} to jupyter-book"


def test_notebooks_are_executed_and_errors_fail_the_build():
    config = book_config()
    execute = config["execute"]
    assert execute["execute_notebooks"] == "force"
    assert execute["timeout"] >= 600
    assert execute["raise_on_error"] is True
    assert execute["allow_errors"] is False
    sphinx = config["sphinx"]["config"]
    assert sphinx["nb_execution_raise_on_error"] is True
    assert sphinx["nb_execution_show_tb"] is True


def test_site_loads_no_javascript_from_other_hosts():
    sphinx = book_config()["sphinx"]["config"]
    scripts = [*sphinx["nb_ipywidgets_js"], sphinx["mathjax_path"]]
    for script in scripts:
        assert not script.startswith(("http:", "https:", "//")), f"{script} comes from a CDN"
        assert script.startswith("vendor/"), script
    assert "_build/site-static" in sphinx["html_static_path"]
    assert "sphinx_thebe" not in sphinx["extensions"]


def test_only_the_toc_is_built_and_the_rest_is_excluded():
    config = book_config()
    assert config["only_build_toc_files"] is True
    for pattern in (".venv", "_build", "tests", "src", "README.md", "CONTRIBUTING.md"):
        assert pattern in config["exclude_patterns"], pattern


def test_launch_buttons_and_bibliography():
    config = book_config()
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    # No button may lead nowhere: there is no Binder (or JupyterHub, Thebe) environment.
    unbacked = {"binderhub_url", "jupyterhub_url", "thebe"} & set(config["launch_buttons"])
    assert not unbacked, f"launch buttons without an environment behind them: {unbacked}"
    assert config["repository"]["branch"] == "main"
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    bib = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    assert "@inproceedings{vaswani2017attention," in bib


# --- building a tiny book with the real configuration --------------------------------------


def tiny_book(tmp_path: Path, cells: list[str]) -> Path:
    """A book with the repository's configuration, a front page and one notebook."""
    book = tmp_path / "book-under-test"
    book.mkdir()
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    shutil.copytree(ROOT / "book", book / "book", ignore=shutil.ignore_patterns("__pycache__"))
    (book / "_build" / "site-static").mkdir(parents=True)  # the site's JS folder must exist
    (book / "index.md").write_text("# A tiny book\n\nOne chapter follows.\n", encoding="utf-8")
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: index\nchapters:\n  - file: chapters/only\n", encoding="utf-8"
    )
    (book / "chapters").mkdir()
    title = nbformat.v4.new_markdown_cell("# The only chapter")
    code = [nbformat.v4.new_code_cell(source) for source in cells]
    nb = nbformat.v4.new_notebook(cells=[title, *code])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, book / "chapters" / "only.ipynb")
    return book


def build(book: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(JUPYTER_BOOK), "build", str(book), *make_flags()],
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_a_notebook_that_raises_fails_the_build(tmp_path):
    book = tiny_book(tmp_path, ["x = 1", 'raise RuntimeError("deliberate failure in a chapter")'])
    result = build(book)
    output = result.stdout + result.stderr
    assert result.returncode != 0, "the build passed although a notebook raised:\n" + output
    assert "deliberate failure in a chapter" in output, output[-3000:]
    assert "only.ipynb" in output


@pytest.mark.slow
def test_a_healthy_notebook_builds_with_the_same_settings(tmp_path):
    book = tiny_book(tmp_path, ["x = 6 * 7", "print(x)"])
    result = build(book)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    page = (book / "_build" / "html" / "chapters" / "only.html").read_text(encoding="utf-8")
    assert "42" in page, "the notebook was not executed at build time"


def test_site_javascript_is_pinned_and_copied_selectively():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "install_site_js", ROOT / "scripts/install_site_js.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, version, integrity, _ in module.PACKAGES:
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} must be pinned exactly"
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", integrity), f"{name}: bad integrity"
    wanted = module.wanted
    assert wanted("requirejs", "package/require.js") == "require.js"
    assert wanted("requirejs", "package/bin/r.js") is None
    manager = "@jupyter-widgets/html-manager"
    assert wanted(manager, "package/dist/embed-amd.js") == "embed-amd.js"
    assert (
        wanted(manager, "package/dist/1551f4f60c37af51121f.woff2") == "1551f4f60c37af51121f.woff2"
    )
    assert wanted(manager, "package/dist/embed-amd.js.map") is None
    assert wanted("mathjax", "package/es5/tex-chtml.js") == "tex-chtml.js"
    assert wanted("mathjax", "package/es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff")
    assert wanted("mathjax", "package/es5/tex-svg.js") is None
    with pytest.raises(ValueError, match="no copy rule for leftpad"):
        wanted("leftpad", "package/index.js")
