# Regentra: `make demo` runs the product offline; `make test` proves it.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
endif
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup system-deps lint format test test-fast demo screenshots serve worker clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	touch $@

setup: $(VENV)/.synced

system-deps:
	scripts/system-deps

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy regentra

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Two pytest-xdist workers (each with its own databases, sandboxes, servers and ports; idle
# workers steal queued tests, as durations range from milliseconds to 40 s). On the 2-core
# machine the whole suite took 264 s so, about 2x faster than one process (~530 s).
# PARALLEL="-n 0" runs in this process, e.g. for a debugger.
PARALLEL ?= -n 2 --dist worksteal

# Everything: lint, both databases, in-process and e2e (real servers, workers, the demo, the
# CLI, Chromium), slow scenarios included.
test: setup system-deps lint
	$(BIN)/pytest $(PARALLEL) $(PYTEST_ARGS)

# The edit loop: in-process tests on SQLite only (no lint, no e2e, no PostgreSQL).
test-fast: setup
	$(BIN)/pytest $(PARALLEL) -m "not e2e and not slow" --backends sqlite $(PYTEST_ARGS)

demo: setup
	$(BIN)/regentra demo

# docs/screenshots/ for the README, from the demo (its own ports and var dir) in Chromium.
screenshots: setup system-deps
	$(BIN)/python scripts/screenshots --out docs/screenshots

serve: setup
	$(BIN)/regentra db upgrade
	$(BIN)/regentra serve

worker: setup
	$(BIN)/regentra worker

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache
