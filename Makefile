VENV ?= .venv
# The Python the virtual environments are made from.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 3000
# Recipes run with the project's virtual environment active.
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(VIRTUAL_ENV)/bin:$(PATH)
# make dev's Dagster instance: its dagster.yaml is committed, and the run history,
# materializations, schedule and sensor states Dagster keeps beside it survive restarts.
INSTANCE := $(abspath .dagster)
# Re-install whenever the locked versions change.
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# Lake mode's profile (etl_tutorial/lake.py): DuckDB 1.5.5 and its DuckLake extensions.
LAKE_VENV ?= .venv-lake
LAKE_STAMP := $(LAKE_VENV)/.installed
LAKE_LOCK := requirements-lake.lock

.PHONY: dev test bench install install-lake lock

dev: $(STAMP)
	@case "$(HOST)" in 127.0.0.1|localhost|::1) ;; *) echo "WARNING: Dagster's UI has no login." \
		"Anyone who can reach http://$(HOST):$(PORT) can launch and cancel runs and read every" \
		"table's preview. Put it behind the login in docs/deploying.md before sharing it." >&2 ;; esac
	@python -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], int(sys.argv[2])))' $(HOST) $(PORT) 2>/dev/null \
		|| { echo "Port $(PORT) on $(HOST) is already in use: start on another with 'make dev PORT=3001'."; exit 1; }
	DAGSTER_HOME=$(INSTANCE) dg dev --host $(HOST) --port $(PORT)

test: $(STAMP) $(LAKE_STAMP)
	ruff check .
	ruff format --check .
	dg check defs
	pytest -m "not lake"
	$(LAKE_VENV)/bin/pytest -m lake

bench: $(STAMP) $(LAKE_STAMP)
	python -m benchmarks.bench $(BENCH_ARGS)

install: $(STAMP)

install-lake: $(LAKE_STAMP)

# Exactly the locked versions, checked against their hashes; then the project itself.
$(STAMP): $(LOCK) pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(LAKE_STAMP): $(LAKE_LOCK) pyproject.toml
	test -d $(LAKE_VENV) || $(PYTHON) -m venv $(LAKE_VENV)
	$(LAKE_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps -r $(LAKE_LOCK)
	$(LAKE_VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Resolves pyproject.toml's ranges (and the build backend) again into exact, hashed versions for
# every platform and Python the project supports.
lock: $(STAMP)
	python -m pip install --quiet 'uv>=0.9'
	printf 'setuptools>=68\n' | uv pip compile pyproject.toml - --extra dev --extra deploy --universal \
		--python-version 3.10 --generate-hashes --quiet --output-file $(LOCK)
	printf 'setuptools>=68\n' | uv pip compile pyproject.toml - --extra dev --extra deploy --extra lake \
		--universal --python-version 3.10 --generate-hashes --quiet --output-file $(LAKE_LOCK)
