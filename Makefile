# Two commands run everything: `make serve` (the emulator) and `make test` (the whole suite).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The emulator's own tests again with every emulator on PostgreSQL (the storage contract runs on both always)
PG_TESTS ?= tests/emulator

.PHONY: serve test lint format bench fuzz clean browser postgresql segment-actions node-clients

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)  ## set up and run the emulator on 127.0.0.1:8085 with ./sfmc-emulator.sqlite3
	$(BIN)/sfmc-emulator serve $(ARGS)

test: $(STAMP) browser postgresql node-clients segment-actions  ## set up and run the whole test suite in parallel, then lint
	$(BIN)/python -m pytest -n auto $(ARGS)
	SFMC_TEST_STORE=postgresql $(BIN)/python -m pytest -n auto $(PG_TESTS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The inspector's browser tests drive Debian's chromium; Playwright never downloads a browser here.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	fi

# The PostgreSQL store's tests start throw-away clusters with Debian's server binaries (initdb, pg_ctl).
postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; \
	fi

# Segment's published SFMC destination for the conformance suite: exactly the locked npm tree (Node 20).
SEGMENT_ACTIONS := conformance/segment_actions
segment-actions: $(SEGMENT_ACTIONS)/node_modules/.package-lock.json
$(SEGMENT_ACTIONS)/node_modules/.package-lock.json: $(SEGMENT_ACTIONS)/package-lock.json $(SEGMENT_ACTIONS)/package.json
	cd $(SEGMENT_ACTIONS) && npm ci --no-audit --no-fund --loglevel=error

# Real SFMC clients from npm (tests/clients): Node from Debian if missing, then the locked versions.
NODE_CLIENTS := tests/clients/node
node-clients: $(NODE_CLIENTS)/node_modules/.installed

$(NODE_CLIENTS)/node_modules/.installed: $(NODE_CLIENTS)/package.json $(NODE_CLIENTS)/package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm; \
	fi
	cd $(NODE_CLIENTS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)  ## apply the project's code style
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)  ## throughput of the sync rowset path with throttling off
	$(BIN)/python -m loadtests.bench_sync

fuzz: $(STAMP)  ## schemathesis from the served OpenAPI document: over 10,000 calls to a fresh emulator
	$(BIN)/python -m loadtests.fuzz $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
