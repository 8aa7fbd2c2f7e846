# The Transformer, Step by Step - the two commands:
#
#   make book   build the website into _build/html, executing every chapter
#   make test   run the whole test suite (lint, unit and grading tests, nbval, book, browser)
#
# Both create .venv and install the package with the pinned versions of constraints.txt.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.course-installed
SITE_STATIC := _build/site-static
JB_FLAGS := --all -W -n --keep-going

# Same results on every run: fixed hash seed; two threads (the course's reference machine)
# unless the caller asks otherwise. The notebooks' kernels inherit these.
export PYTHONHASHSEED := 0
export OMP_NUM_THREADS ?= 2
export MKL_NUM_THREADS ?= 2
export PYDEVD_DISABLE_FILE_VALIDATION := 1

# Steps of `make test` run in order, one at a time.
.NOTPARALLEL:

.PHONY: help venv book site-js test lint format unit nbval site-test bench clean

help:
	@echo "make book    build the website (_build/html), executing every chapter"
	@echo "make test    lint + unit/grading tests + nbval + book + browser tests"
	@echo "make lint    ruff check and ruff format --check"
	@echo "make format  apply ruff's fixes and formatting"
	@echo "make venv    create .venv with the pinned versions (done by book and test)"
	@echo "make bench   run the benchmarks (python -m benchmarks)"
	@echo "make clean   remove build outputs (keeps .venv)"

# --- environment ---------------------------------------------------------------------------

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -c constraints.txt -e ".[book,dev]"
	@touch $@

venv: $(STAMP)

# --- the website ---------------------------------------------------------------------------

# The JavaScript the site serves itself (widgets, RequireJS, MathJax), from the npm registry.
$(SITE_STATIC).stamp: scripts/install_site_js.py scripts/widgets-config.js
	$(BIN)/python scripts/install_site_js.py $(SITE_STATIC)

# The "Try the translator" page: the bundled model exported to ONNX (+ vocabularies,
# tokenizer rules, manifest and the page's JavaScript), generated at every build, never committed.
TRANSLATOR := $(SITE_STATIC)/translator/manifest.json
$(TRANSLATOR): $(STAMP) src/course_lib/export.py src/course_lib/assets/toy_model.pt \
		$(wildcard src/course_lib/web/*.js)
	$(BIN)/course-lib export --checkpoint bundled --out $(SITE_STATIC)/translator --check

site-js: $(STAMP) $(SITE_STATIC).stamp $(TRANSLATOR)

book: venv site-js
	$(BIN)/jupyter-book build . $(JB_FLAGS)
	@echo "Website: $(CURDIR)/_build/html/index.html"

# --- tests ---------------------------------------------------------------------------------

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: venv
	$(BIN)/pytest tests --ignore=tests/site

nbval: venv
	$(BIN)/pytest --nbval --nbval-current-env --nbval-cell-timeout=600 \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider chapters/

site-test: venv
	$(BIN)/pytest tests/site

test: lint unit nbval book site-test
	@echo "make test: all parts passed"

bench: venv site-js
	$(BIN)/python -m benchmarks

clean:
	rm -rf _build dist build .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
