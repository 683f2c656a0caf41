# Every target creates the virtual environment and installs what it needs on first use.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
DEMO_ARGS ?=
# `make bench BENCH_DATABASE_URL=postgresql+asyncpg://...` adds PostgreSQL rows to the table.
BENCH_DATABASE_URL ?=

.PHONY: install demo test lint format bench bench-split bench-fanout clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The sandbox: the bot, a local Telegram lookalike and a web chat at http://127.0.0.1:8080.
# Options go through DEMO_ARGS, e.g. make demo DEMO_ARGS="--port 9090".
demo: $(STAMP)
	$(BIN)/newsbot sandbox $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache --no-logo

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/summary.py $(if $(BENCH_DATABASE_URL),--database-url $(BENCH_DATABASE_URL))

bench-split: $(STAMP)
	$(BIN)/python bench/split.py

bench-fanout: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/fanout.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
