# restock — two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv and install into it on first use (quick the second time).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: demo test lint bench bench-forecast bench-propose bench-import bench-replay lock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/restock demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: bench-import bench-forecast bench-propose bench-replay

bench-import: $(STAMP)
	$(BIN)/python -m bench.import_bench

bench-forecast: $(STAMP)
	$(BIN)/python -m bench.forecast

bench-propose: $(STAMP)
	$(BIN)/python -m bench.propose

bench-replay: $(STAMP)
	$(BIN)/python -m bench.replay

# Refresh the lock after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^restock' > constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
