VENV ?= .venv
# Recipes run with the project's virtual environment active.
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(VIRTUAL_ENV)/bin:$(PATH)
# Re-install whenever the dependency list changes.
STAMP := $(VENV)/.installed

.PHONY: dev test bench install

dev: $(STAMP)
	dagster dev --host 127.0.0.1 --port 3000

test: $(STAMP)
	ruff check .
	ruff format --check .
	dg check defs
	pytest

bench: $(STAMP)
	python -m benchmarks.bench $(BENCH_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || python3 -m venv $(VENV)
	python -m pip install --quiet --upgrade pip
	python -m pip install --quiet -e '.[dev]'
	touch $@
