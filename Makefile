# Two commands for a newcomer: `make run` (install + demo on the embedded store), `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
HOME_DIR ?= .canh
PYTEST_ARGS ?=

.PHONY: run test install deps lint fmt bench clean

$(VENV)/.installed: pyproject.toml setup.py
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/canh --home $(HOME_DIR) demo

# System packages and services the tests use (tshark, poppler, fonts, Elasticsearch), idempotent.
deps:
	bash scripts/test-deps.sh

test: install deps
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy canh collectors rules incidents tui

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) $(HOME_DIR) build *.egg-info
