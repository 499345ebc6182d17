# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,demo]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/vigil demo --out out/demo

# ruff (its rules, then formatting: `ruff format` fixes what it reports), mypy --strict and the import
# layers (lint-imports, the contract in pyproject.toml); runs no test
lint: $(STAMP)
	$(BIN)/ruff check vigil tests bench
	$(BIN)/ruff format --check vigil tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: $(STAMP)
	scripts/ensure-services.sh
	scripts/install-prometheus.sh
	scripts/install-debian-package.sh chromium chromium
	scripts/install-debian-package.sh graphviz dot
	scripts/install-debian-package.sh openjdk-17-jre-headless java
	scripts/install-mermaid-parser.sh
	$(BIN)/ruff check vigil tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest vigil tests

bench: $(STAMP)
	$(BIN)/python bench/drift_bench.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
