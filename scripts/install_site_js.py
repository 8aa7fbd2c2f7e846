#!/usr/bin/env python3
"""Install the JavaScript the website needs, from the npm registry, into a static folder.

The built book must work from a plain static file server with no network, so the scripts
that widgets and math need are served by the site itself instead of a CDN:

* ``requirejs`` - the module loader the Jupyter widgets bundle expects;
* ``@jupyter-widgets/html-manager`` - ``dist/embed-amd.js`` renders the widget state that
  executed notebooks store in the page (sliders, progress bars, output widgets);
* ``mathjax`` (version 3) - renders the TeX math of the pages;
* ``onnxruntime-web`` - runs the exported translation model on the "Try the translator"
  page: only ``ort.wasm.min.mjs`` and the single WebAssembly build it loads
  (``ort-wasm-simd-threaded.mjs`` + ``.wasm``, used with one thread).

Each package is fetched with ``npm pack`` at an exact version, its tarball is checked
against the SHA-512 integrity pinned below (the same value ``package-lock.json`` files
record), and only the files the site needs are copied to ``DEST/vendor/<name>/``.
``_config.yml`` lists ``DEST`` in ``html_static_path``; these files are never committed.

It also copies ``scripts/widgets-config.js`` (ours, committed) to ``DEST/vendor/``: it points
RequireJS at the local widget manager and lets the widget manager typeset with MathJax 3.

Usage: ``python scripts/install_site_js.py [DEST]`` (default ``_build/site-static``).
Tarballs are cached in ``.cache/site-js/`` so a rebuild needs no network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "site-js"

# name, version, integrity (sha512 of the registry tarball), folder under vendor/
PACKAGES = [
    (
        "requirejs",
        "2.3.8",
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        "requirejs",
    ),
    (
        "@jupyter-widgets/html-manager",
        "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        "html-manager",
    ),
    (
        "mathjax",
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        "mathjax",
    ),
    (
        "onnxruntime-web",
        "1.30.0",
        "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ==",
        "onnxruntime-web",
    ),
]

# MathJax files the site does not use (SVG output, Node entry points, "full" bundles).
MATHJAX_SKIP = ("node-main.js", "-svg", "-full", "/mml-chtml.js", "output/svg")
# onnxruntime-web: the WebAssembly-only ES module and the one build it loads (no WebGPU,
# WebGL or JSEP builds, no source maps): about 14 MB instead of 140.
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


def wanted(name: str, member: str) -> str | None:
    """Where a file of the package tarball goes under vendor/<folder>/, or None to skip it."""
    if not member.startswith("package/"):
        return None
    path = member[len("package/") :]
    if name == "requirejs":
        return path if path in ("require.js", "README.md", "package.json") else None
    if name == "@jupyter-widgets/html-manager":
        if path == "package.json":
            return path
        if not path.startswith("dist/") or path.endswith(".map") or path == "dist/embed.js":
            return None
        return path[len("dist/") :]
    if name == "mathjax":
        if path in ("LICENSE", "package.json"):
            return path
        if not path.startswith("es5/") or any(skip in "/" + path for skip in MATHJAX_SKIP):
            return None
        return path[len("es5/") :]
    if name == "onnxruntime-web":
        if path in ("README.md", "package.json"):
            return path
        return path[len("dist/") :] if path in [f"dist/{f}" for f in ORT_FILES] else None
    raise ValueError(f"no copy rule for {name}")


def integrity(path: Path) -> str:
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def fetch(name: str, version: str, expected: str) -> Path:
    """The verified tarball of name@version, from the cache or the npm registry."""
    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / f"{name.replace('/', '-').lstrip('@')}-{version}.tgz"
    if cached.exists() and integrity(cached) == expected:
        return cached
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            ["npm", "pack", "--json", "--pack-destination", tmp, f"{name}@{version}"],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            sys.exit(
                f"install_site_js: `npm pack {name}@{version}` failed "
                f"(is npm installed and the npm registry reachable?):\n{result.stderr}"
            )
        filename = json.loads(result.stdout)[0]["filename"]
        tarball = Path(tmp) / filename
        actual = integrity(tarball)
        if actual != expected:
            sys.exit(
                f"install_site_js: {name}@{version} integrity mismatch: "
                f"expected {expected}, got {actual}"
            )
        shutil.copyfile(tarball, cached)
    return cached


def install(dest: Path) -> None:
    stamp = dest.with_name(dest.name + ".stamp")  # outside DEST: Sphinx copies all of DEST
    config_js = (ROOT / "scripts" / "widgets-config.js").read_text(encoding="utf-8")
    pins = json.dumps(PACKAGES) + config_js
    if stamp.exists() and stamp.read_text() == pins:
        print(f"install_site_js: {dest} is up to date")
        return
    vendor = dest / "vendor"
    if vendor.exists():
        shutil.rmtree(vendor)
    dest.mkdir(parents=True, exist_ok=True)
    for name, version, expected, folder in PACKAGES:
        tarball = fetch(name, version, expected)
        count = 0
        with tarfile.open(tarball) as archive:
            for member in archive.getmembers():
                target = wanted(name, member.name)
                if target is None or not member.isfile():
                    continue
                out = vendor / folder / target
                out.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None
                out.write_bytes(source.read())
                count += 1
        print(f"install_site_js: {name}@{version}: {count} files -> {vendor / folder}")
    (vendor / "widgets-config.js").write_text(config_js, encoding="utf-8")
    stamp.write_text(pins)


if __name__ == "__main__":
    install(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "site-static")
