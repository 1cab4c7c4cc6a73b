# sitroom — two commands: `make demo` runs everything, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo up test unit lint bench fuzz system-deps clean help

help:
	@echo "make demo   - run the whole system on embedded servers with the simulator"
	@echo "make test   - lint, type-check and run the whole test suite"
	@echo "make bench  - run the benchmarks and print the figures"
	@echo "make fuzz   - fuzz the codecs with atheris for FUZZ_SECONDS (default 300)"

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

fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	mkdir -p var/fuzz-corpus && cp -n tests/fixtures/cot/*.xml tests/fixtures/cap/*.xml var/fuzz-corpus/ 2>/dev/null || true
	$(BIN)/python fuzz/fuzz_codecs.py -max_total_time=$${FUZZ_SECONDS:-300} var/fuzz-corpus

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
