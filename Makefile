# The README's commands. Everything installs into .venv from PyPI; nothing is needed by hand.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint unit unit-postgres postgres bench soak clean install browser check tickets executions
# the suites that run a second time with the mirror on PostgreSQL
POSTGRES_SUITES := tests/spine tests/trackers tests/faults tests/chatops tests/ops

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/gateway serve

# The everyday CLI commands without activating .venv: `make tickets ARGS="DQ-4"`.
check: $(STAMP)
	$(BIN)/gateway check $(ARGS)

tickets: $(STAMP)
	$(BIN)/gateway tickets $(ARGS)

executions: $(STAMP)
	$(BIN)/gateway executions $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# The console's browser tests drive Debian's Chromium through chromedriver (never a browser download).
browser:
	test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; }

unit: $(STAMP) browser postgres
	$(BIN)/pytest -q

unit-postgres: $(STAMP) postgres
	GATEWAY_TEST_DATABASE=postgresql $(BIN)/pytest -q $(POSTGRES_SUITES)

# Debian's PostgreSQL server for the tests (the fixtures start their own on a free port)
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql)

test: lint unit unit-postgres

# Figures of the hot path on SQLite and PostgreSQL (README "Performance"); prints, asserts nothing.
bench: $(STAMP) postgres
	$(BIN)/python bench/ingress.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/lists.py

soak: $(STAMP)
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
