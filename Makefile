# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/registry_test

.PHONY: run install migrate seed serve test lint audit test-sqlite test-postgres openapi bench bench-cpu bench-instructions bench-changes clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/registry migrate

seed: migrate
	$(BIN)/registry seed

run: seed
	@$(BIN)/python -m seed.banner
	$(BIN)/registry serve --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Known vulnerabilities (PyPI's advisories, so it needs the network) in every installed runtime
# and dev pin. Packages it cannot look up are listed and skipped; AUDIT_FLAGS=--strict fails on them.
audit: install
	$(BIN)/pip freeze --exclude-editable > $(VENV)/audit-requirements.txt
	$(BIN)/pip-audit --requirement $(VENV)/audit-requirements.txt --no-deps --disable-pip \
		--progress-spinner off $(AUDIT_FLAGS)

test-sqlite: install
	REGISTRY_TEST_DATABASE=sqlite $(BIN)/pytest

test-postgres: install
	REGISTRY_TEST_DATABASE=postgresql REGISTRY_TEST_POSTGRES_URL=$(PG_TEST_URL) $(BIN)/pytest

# The two suites wait on their databases more than they compute: run side by side, each
# printing when it ends, they take the time of one (523 s against 1,015 s one after the other,
# on two cores).
test: lint audit
	@echo "the suite on SQLite and on PostgreSQL, side by side; each reports when it ends"
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

# National-scale load test on the local PostgreSQL (its own database, registry_bench); see
# docs/benchmark.md. Bounded: a few seconds of warm-up and 15 s per endpoint.
bench: install
	$(BIN)/python bench/run.py

# The CPU each benched request costs the app, called in process: for comparing two commits on
# a noisy machine (docs/benchmark.md). Uses the bench database that `make bench` builds.
bench-cpu: install
	$(BIN)/python bench/cpu.py

# The instructions each of those requests costs, counted by valgrind's callgrind: the same
# count for the same code whatever else the machine does, for comparing commits exactly.
bench-instructions: install
	$(BIN)/python bench/instructions.py

# What partner changes cost the next match in a worker's match index, in process.
bench-changes: install
	$(BIN)/python bench/changes.py

openapi: install
	$(BIN)/python -m app.openapi > openapi/openapi.json

clean:
	rm -rf $(VENV) registry.db registry.db-shm registry.db-wal storage
