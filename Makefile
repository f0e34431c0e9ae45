# restock — two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv and install into it on first use (quick the second time).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: demo test lint pg-client bench bench-forecast bench-propose bench-import lock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/restock demo

test: $(STAMP) pg-client
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q

# `restock backup`/`restore` on PostgreSQL run pg_dump/pg_restore (same major version as the server or newer).
pg-client:
	@command -v pg_dump >/dev/null && command -v pg_restore >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: bench-import bench-forecast bench-propose

bench-import: $(STAMP)
	$(BIN)/python -m bench.import_bench

bench-forecast: $(STAMP)
	$(BIN)/python -m bench.forecast

bench-propose: $(STAMP)
	$(BIN)/python -m bench.propose

# Refresh the lock after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^restock' > constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
