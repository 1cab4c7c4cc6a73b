# sitroom — two commands: `make demo` runs everything, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo up test unit lint bench system-deps clean help

help:
	@echo "make demo   - run the whole system on embedded servers with the simulator"
	@echo "make test   - lint, type-check and run the whole test suite"
	@echo "make bench  - run the benchmarks and print the figures"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sitroom demo

up: $(STAMP)
	$(BIN)/sitroom up

system-deps:
	@bash .ci/system-deps

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q

test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest

bench: $(STAMP) system-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
