# workbench: `make demo` installs everything and renders every notebook into reports/;
# `make test` runs the whole test suite (slow end-to-end and browser tests included).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: install demo test test-fast lint chromium redis lab clean-reports

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/workbench demo notebooks --log-output --jobs 2
	$(VENV)/bin/workbench pipeline run pipelines/retrain.yaml --jobs 2

# Chromium renders the reports in the browser tests (Debian package; needs root or sudo).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  elif command -v sudo >/dev/null 2>&1; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  elif [ "$$CI" = true ]; then echo "chromium missing and cannot be installed (no root, no sudo)"; exit 1; \
	  else echo "chromium missing: browser tests will be skipped"; fi; }

# redis-server backs the serving tests' shared cache and multi-worker runs (Debian package; root or sudo).
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  elif command -v sudo >/dev/null 2>&1; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  elif [ "$$CI" = true ]; then echo "redis-server missing and cannot be installed (no root, no sudo)"; exit 1; \
	  else echo "redis-server missing: Redis tests will be skipped"; fi; }
	@if [ "$$CI" = true ]; then command -v redis-server >/dev/null 2>&1 || { echo "redis-server could not be installed"; exit 1; }; fi

lint: install
	$(VENV)/bin/ruff check workbench tests benchmarks
	$(VENV)/bin/lint-imports

test: install chromium redis lint
	WANDB_MODE=offline $(PY) -m pytest -q

test-fast: install
	WANDB_MODE=offline $(PY) -m pytest -q -m "not slow"

lab: install
	$(VENV)/bin/jupyter lab notebooks

clean-reports:
	rm -rf reports/*/ reports/index.html
