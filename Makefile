# Two commands matter: `make demo` and `make test`. Each does all of its own set-up on a
# fresh machine: a virtualenv with the package and its extras, and (for the real-browser
# test) Debian's chromium, which Playwright drives; no tool ever downloads a browser.
PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint typecheck bench reliability setup browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(CHROMIUM):
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "chromium is missing; install it as root: apt-get install -y chromium" >&2; exit 1; \
	fi
	DEBIAN_FRONTEND=noninteractive apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

setup: $(STAMP)

browser: $(CHROMIUM)

demo: $(STAMP)
	$(VENV)/bin/hsframe demo

lint: $(STAMP)
	$(VENV)/bin/ruff check hsframe tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

test: $(STAMP) $(CHROMIUM) lint typecheck
	$(PY) -m pytest

# The full fault matrix and every crash seed, then the report table (the reduced form
# runs inside `make test`).
reliability: $(STAMP)
	$(PY) bench/reliability.py

bench: $(STAMP)
	$(PY) bench/load.py
	$(PY) bench/push.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
