# The two commands a newcomer runs (see README): `make demo` and `make test`.
# Both set up everything they need on a fresh machine; .ci/run calls `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9

.PHONY: setup demo test test-deps system-deps lint bench clean lock

# Python environment: exact versions and hashes from requirements.lock (exported from uv.lock).
# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (as on our CI machines) Python would
# otherwise compile some 2,400 modules from source on every command (5-9 s of a 2 s re-ingest).
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync -q --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q spendscope bench
	touch $@

setup: $(VENV)/.installed

## demo: generate a multi-cloud month, ingest it into ./spendscope-demo/warehouse.duckdb, print the result
demo: setup
	$(BIN)/spendscope demo

# What the test suite needs beyond Python packages: Azurite (npm, pinned in tests/servers/node).
# The FOCUS validator (../shared/tools/focus-validate) installs itself into its own Python >= 3.12
# virtualenv on first use; moto_server comes with the Python dev dependencies.
NODE_DIR := tests/servers/node
$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --silent --no-audit --no-fund
	touch $@

# The BigQuery emulator in its own virtualenv, with the spatial extension installed from its package
# (otherwise it tries to download it at start and exits).
BQ_VENV := .venv-bqemulator
$(BQ_VENV)/.installed: tests/servers/bqemulator-requirements.txt
	test -x $(BQ_VENV)/bin/python || $(PYTHON) -m venv $(BQ_VENV)
	$(BQ_VENV)/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BQ_VENV)/bin/uv pip install -q --python $(BQ_VENV)/bin/python -r tests/servers/bqemulator-requirements.txt
	$(BQ_VENV)/bin/python -c "import duckdb, duckdb_extension_spatial as s, pathlib; \
	  ext = next(pathlib.Path(s.__file__).parent.rglob('spatial.duckdb_extension')); \
	  duckdb.sql(f\"INSTALL '{ext}'\")"
	touch $@

# Debian packages the real-server tests start: Prometheus (+ promtool), Pushgateway, Alertmanager and
# Chromium (see ../shared/COMPONENTS.md). Installed when any of them is missing; sudo unless root.
SUDO := $(shell test "$$(id -u)" -eq 0 || echo sudo)
system-deps:
	command -v promtool && command -v prometheus-pushgateway && command -v prometheus-alertmanager \
	  && command -v chromium >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y \
	  --no-install-recommends prometheus prometheus-pushgateway prometheus-alertmanager chromium)
	command -v java >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y \
	  --no-install-recommends openjdk-17-jre-headless)  # PySpark's local mode (tests/spark)

test-deps: setup $(NODE_DIR)/node_modules/.installed $(BQ_VENV)/.installed system-deps

## test: install everything the tests need, then run the whole suite (exit 5, no tests, fails too)
test: test-deps
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check spendscope tests bench
	$(BIN)/ruff format --check spendscope tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) spendscope-demo .pytest_cache .mypy_cache .ruff_cache

# Re-resolve requirements.lock after editing pyproject.toml (keeps existing pins where they still fit).
lock: setup
	$(BIN)/uv pip compile -q pyproject.toml --group dev --generate-hashes --universal -o requirements.lock
