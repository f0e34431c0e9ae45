# restock — two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv and install into it on first use (quick the second time).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: demo test lint serve system-packages pg-client bench bench-forecast bench-forecast-external bench-propose bench-import bench-web bench-reoptimize bench-replay bench-brushing bench-presale bench-orders-import lock clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# Debian packages the browser tests and charts need: Chromium (never a downloaded browser)
# and a CJK font so Chinese pages and charts render. Installed once, as root, through apt.
APT_PACKAGES := chromium fonts-wqy-microhei
system-packages:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wenquanyi micro hei"; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing $(APT_PACKAGES) with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	  else \
	    echo "missing Debian packages: sudo apt-get install $(APT_PACKAGES)" >&2; exit 1; \
	  fi; \
	fi

demo: $(STAMP)
	$(BIN)/restock demo

test: $(STAMP) system-packages pg-client
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q

# Serves the configured database; after `make demo`, the demo's (var/demo.db, log in with the
# account in var/demo-login.txt) unless RESTOCK_DATABASE_URL names another.
DEMO_DB ?= var/demo.db
serve: $(STAMP)
	@if [ -z "$$RESTOCK_DATABASE_URL" ] && [ -f "$(DEMO_DB)" ]; then \
	  echo "serving the demo database $(DEMO_DB) (set RESTOCK_DATABASE_URL to serve another)"; \
	  RESTOCK_DATABASE_URL="sqlite:///$(abspath $(DEMO_DB))" $(BIN)/restock serve; \
	else \
	  $(BIN)/restock serve; \
	fi

# `restock backup`/`restore` on PostgreSQL run pg_dump/pg_restore (same major version as the server or newer).
pg-client:
	@command -v pg_dump >/dev/null && command -v pg_restore >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: bench-import bench-forecast bench-forecast-external bench-propose bench-web bench-reoptimize bench-replay bench-brushing bench-presale bench-orders-import bench-season-bound

bench-import: $(STAMP)
	$(BIN)/python -m bench.import_bench

bench-forecast: $(STAMP)
	$(BIN)/python -m bench.forecast

# Held-out accuracy on the real data sets in ../shared/data/external (see its README).
bench-forecast-external: $(STAMP)
	$(BIN)/python -m bench.forecast_external

bench-propose: $(STAMP)
	$(BIN)/python -m bench.propose

bench-web: $(STAMP)
	$(BIN)/python -m bench.web

bench-reoptimize: $(STAMP)
	$(BIN)/python -m bench.reoptimize

bench-replay: $(STAMP)
	$(BIN)/python -m bench.replay

# Precision/recall of the brushing rules on the sample's planted bursts (issue 17).
bench-brushing: $(STAMP)
	nice -n 10 $(BIN)/python -m bench.brushing

# Double 11 event-day error 14/7/3 days ahead, with and without pre-sale deposits (issue 17).
bench-presale: $(STAMP)
	nice -n 10 $(BIN)/python -m bench.presale

# orders.csv import speed and peak memory at 10 million rows and a quarter of that (issue 17).
bench-orders-import: $(STAMP)
	nice -n 10 $(BIN)/python -m bench.orders_import

# How well any forecaster can do on per-SKU season totals of the sample's kind of data (issue 11).
bench-season-bound: $(STAMP)
	nice -n 10 $(BIN)/python -m bench.season_bound

# Refresh the lock after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^restock' > constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
