# Two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/calsync demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint browser
	$(BIN)/pytest

# The browser tests drive Debian's chromium through Playwright (never a browser Playwright
# downloads): installed here when missing and we are root; otherwise they skip, or fail
# under CALSYNC_REQUIRE_BROWSER=1.
browser:
	@test -x "$${CALSYNC_CHROMIUM:-/usr/bin/chromium}" || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; }

bench: $(STAMP)
	$(BIN)/python bench/initial_and_incremental.py

clean:
	rm -rf $(VENV) calsync.db
