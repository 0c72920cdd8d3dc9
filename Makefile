# make demo | make test | make bench — each creates .venv on a fresh clone.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint docs clean venv

venv: $(STAMP)

# The CPU wheel torch==2.13.0 goes in first (local disk, < 1 min); an unpinned torch
# would pull a multi-GB CUDA build. Then the package with its [dev] extra.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/torchdoctor demo

# The report's browser test needs headless Chromium (Debian's package): installed when missing.
test: $(STAMP)
	bash scripts/ensure_chromium.sh
	bash scripts/ensure_postgres.sh
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

# docs/config.md and docs/cli.md are generated from the schema and the CLI (tests/test_docs.py
# fails when a committed page drifts).
docs: $(STAMP)
	$(BIN)/python -m torchdoctor.docs

clean:
	rm -rf $(VENV) .pytest_cache runs
