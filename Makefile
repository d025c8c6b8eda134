# pgcube — every target installs what it needs first, so a fresh machine with
# only Python 3.11 can run `make serve` or `make test` straight away.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test lint unit integration browser chromium screenshots migrate openapi bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start the service (embedded PostgreSQL unless PGCUBE_DATABASE_URL is set).
serve: $(STAMP)
	$(BIN)/pgcube serve

## Lint, type-check, check the import contracts and run the whole test suite.
test: lint chromium
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench alembic
	$(BIN)/ruff format --check src tests bench alembic
	$(BIN)/mypy
	$(BIN)/lint-imports  # the import contracts in pyproject.toml (docs/architecture.md)

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

browser: $(STAMP) chromium
	$(BIN)/pytest tests/browser

## The browser tests drive Debian's Chromium (never a downloaded one): installed here when it is
## missing and we are root with apt (CI). Elsewhere they skip, saying how to get it.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "== installing chromium for the browser tests"; \
		apt-get update -qq || true; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null || true; \
	fi

## The dashboard's screenshots in docs/screenshots/ (the browser walk saves them as it goes).
screenshots: $(STAMP) chromium
	PGCUBE_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/browser/test_walk.py

migrate: $(STAMP)
	$(BIN)/pgcube migrate

## Regenerate the committed OpenAPI document (a test keeps it current).
openapi: $(STAMP)
	$(BIN)/pgcube openapi > docs/openapi.json

## Benchmarks (docs/benchmarks.md), ~10 min: requests against the floor and the ceiling, uvicorn vs
## granian (ARGS='--large' for 1M docs), then the bulk import (IMPORT_ARGS) and the 50-client load run.
## ARGS=--quick: a couple of minutes of small data and short runs, for development; docs/ left alone.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

BENCH_QUICK = $(if $(findstring --quick,$(ARGS)),--quick)
bench: $(BENCH_STAMP)
	@started=$$(date +%s); \
	$(BIN)/python -m bench $(ARGS) && \
	$(BIN)/python -m bench.import_bench $(BENCH_QUICK) $(IMPORT_ARGS) && \
	$(BIN)/python -m bench.file_bench $(if $(BENCH_QUICK),--no-docs) && \
	$(BIN)/python -m bench.vector_bench $(BENCH_QUICK) && \
	$(BIN)/python -m bench.load $(if $(BENCH_QUICK),--quick,--write-docs); \
	status=$$?; echo "make bench: $$(( $$(date +%s) - started )) s"; exit $$status

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
