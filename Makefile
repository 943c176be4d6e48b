# Two commands for a newcomer: `make run` (install + demo on the embedded store), `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
HOME_DIR ?= .canh
PYTEST_ARGS ?=

.PHONY: run test install install-dev deps lint fmt bench clean

# `make run` installs what Canh needs to run; `make test` adds the test and lint tools.
# The native parts (native/*: EVTX reader, line parsers, row encoder) are built by that install: a
# change to their sources installs again.
NATIVE_SRC := $(wildcard native/*/Cargo.toml native/*/Cargo.lock native/*/src/*.rs)

$(VENV)/.installed: pyproject.toml setup.py $(NATIVE_SRC)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	@echo "installing Canh into $(VENV) (log: $(VENV)/pip.log)"
	@$(VENV)/bin/pip install -e . > $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	$(VENV)/bin/python -c 'import canh.collectors, canh.rules, canh.incidents, canh.tui'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	@echo "installing the test tools into $(VENV) (log: $(VENV)/pip-dev.log)"
	@$(VENV)/bin/pip install -e '.[dev]' > $(VENV)/pip-dev.log 2>&1 || { cat $(VENV)/pip-dev.log; exit 1; }
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	$(VENV)/bin/canh --home $(HOME_DIR) demo

# System packages and services the tests use (tshark, poppler, fonts, Elasticsearch), idempotent.
deps:
	bash scripts/test-deps.sh

test: install-dev deps
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy canh collectors rules incidents tui

fmt: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) $(HOME_DIR) build *.egg-info
