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

.PHONY: help venv book site-js test lint format unit nbval site-test bench clean \
	pdf colab-test oldest

help:
	@echo "make book    build the website (_build/html), executing every chapter"
	@echo "make test    lint + unit/grading tests + nbval + book + browser tests"
	@echo "make lint    ruff check and ruff format --check"
	@echo "make format  apply ruff's fixes and formatting"
	@echo "make venv    create .venv with the pinned versions (done by book and test)"
	@echo "make bench   run the benchmarks (python -m benchmarks)"
	@echo "make pdf     the book as one PDF (_build/pdf/book.pdf, copied into the website)"
	@echo "make colab-test  each chapter alone in a Colab-like environment, after its setup cell"
	@echo "make oldest  unit tests with the oldest dependency versions pyproject.toml claims"
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

# The book as one PDF: a single-page build (chapters not executed again) printed by Debian's
# Chromium; copied into _build/html/book/ when the website is there (after `make book`).
pdf: venv site-js
	$(BIN)/python scripts/build_pdf.py

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

test: lint unit nbval book pdf site-test
	@echo "make test: all parts passed"

# --- releases: Colab and the oldest supported versions (.ci/run runs both after make test) --

# Every chapter alone in a Colab-like environment (_build/colab-venv, scripts/colab-runtime.txt)
# after its own setup cell, which must upgrade nothing Colab preinstalls.
# `make colab-test UPDATE_DOCS=1` also rewrites the versions table of book/setup.md.
colab-test: venv
	$(BIN)/python scripts/colab_env.py $(if $(UPDATE_DOCS),--update-docs)

# The unit tests on the oldest versions pyproject.toml claims (scripts/oldest_constraints.py),
# with the package installed (not editable) into _build/oldest-venv.
OLDEST_VENV := _build/oldest-venv
OLDEST_TESTS := tests/test_attention.py tests/test_batching.py tests/test_checkpoint.py \
	tests/test_config.py tests/test_data_*.py tests/test_decoder.py tests/test_embedding.py \
	tests/test_encoder.py tests/test_generate.py tests/test_interop.py tests/test_masks.py \
	tests/test_model.py tests/test_tokenize_*.py tests/test_translate.py tests/test_loss.py \
	tests/test_optim.py tests/test_runtime.py tests/test_trainer.py tests/test_recipes.py \
	tests/test_notebook_helpers.py tests/test_widget_stack.py tests/test_doctor.py \
	tests/test_cli_translate_evaluate.py

$(OLDEST_VENV)/.stamp: pyproject.toml constraints.txt scripts/oldest_constraints.py
	rm -rf $(OLDEST_VENV)
	@mkdir -p _build
	$(BIN)/python scripts/oldest_constraints.py > _build/oldest-constraints.txt
	$(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install -q "$$(grep '^torch==' _build/oldest-constraints.txt)"
	$(OLDEST_VENV)/bin/python -m pip install -q -c _build/oldest-constraints.txt \
		-r _build/oldest-constraints.txt pytest pytest-timeout pyyaml
	@touch $@

oldest: venv $(OLDEST_VENV)/.stamp
	$(OLDEST_VENV)/bin/python -m pip install -q --no-deps --force-reinstall .
	$(BIN)/python scripts/oldest_constraints.py --verify $(OLDEST_VENV)/bin/python
	$(OLDEST_VENV)/bin/python -m pytest -p no:cacheprovider $(OLDEST_TESTS)

bench: venv site-js
	$(BIN)/python -m benchmarks

clean:
	rm -rf _build dist build .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
