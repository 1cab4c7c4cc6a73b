# sitroom — two commands: `make demo` runs everything, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements/dev.lock
# The lock's resolver, pinned: `make lock` refreshes the lock on purpose (docs/deploy.md).
UV     := uv==0.13.10

.PHONY: demo up test test-latest unit lint bench bench-desk bench-compare fuzz lock system-deps clean help

help:
	@echo "make demo   - run the whole system on embedded servers with the simulator"
	@echo "make test   - lint, type-check and run the whole test suite"
	@echo "make bench  - run the benchmarks and print the figures"
	@echo "make bench-desk - the desk with 1,000 incidents and 10,000 units, beside b956a50's"
	@echo "make bench-compare BASE=REF - each benchmark on commit REF and on this tree, same run"
	@echo "make fuzz   - fuzz the codecs with atheris for FUZZ_SECONDS (default 300)"
	@echo "make lock   - re-resolve $(LOCK) to the newest releases inside pyproject's ranges"
	@echo "make test-latest - the suite on the newest releases inside the ranges (not the lock)"

# Everything comes from the lock, every file checked against its hash; sitroom itself is
# installed editable without touching the index again (its build backend is in the lock too).
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
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

# Drift seen on purpose: a separate environment with the newest releases pyproject allows.
test-latest: system-deps
	@test -x .venv-latest/bin/python || $(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	.venv-latest/bin/ruff check .
	.venv-latest/bin/mypy
	.venv-latest/bin/python -m pytest

lock: $(STAMP)
	$(BIN)/python -m pip install --quiet '$(UV)'
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra dev --upgrade \
	  --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o $(LOCK)

bench: $(STAMP) system-deps
	$(BIN)/python -m bench

bench-desk: $(STAMP) system-deps
	$(BIN)/python -m bench --only desk

bench-compare: $(STAMP) system-deps
	@test -n "$(BASE)" || { echo "usage: make bench-compare BASE=<commit> [ONLY='ingest feeds']"; exit 2; }
	$(BIN)/python -m bench.compare --base $(BASE) $(foreach b,$(ONLY),--only $(b))

fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	mkdir -p var/fuzz-corpus && cp -n tests/fixtures/cot/*.xml tests/fixtures/cap/*.xml var/fuzz-corpus/ 2>/dev/null || true
	$(BIN)/python fuzz/fuzz_codecs.py -max_total_time=$${FUZZ_SECONDS:-300} var/fuzz-corpus

clean:
	rm -rf $(VENV) .venv-latest var .pytest_cache .mypy_cache .ruff_cache .hypothesis
