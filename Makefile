# Fresh machine: `make demo` (emulated AWS + Dagster UI) or `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 5055
SPEED  ?= 150
UI_PORT ?= 3000
REPORTS_PORT ?= 3080
export DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: install test demo emulator bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH (or make PYTHON=python3)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n 2 tests

# The emulator and the report server (the reports folder over HTTP: a browser opens no file:// link from the
# Dagster UI) run in the background; dagster dev in the foreground. Ctrl-C stops all three.
demo: $(STAMP)
	mkdir -p $(DAGSTER_HOME) .cxgm/data/reports && rm -f .cxgm/emulator.env
	test -f $(DAGSTER_HOME)/dagster.yaml || cp deploy/dagster.local.yaml $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/cxgm-emulator start --port $(PORT) --speed $(SPEED) --env-file .cxgm/emulator.env & \
	  EMU=$$!; $(PY) -m http.server $(REPORTS_PORT) --bind 127.0.0.1 --directory .cxgm/data/reports >/dev/null 2>&1 & \
	  WEB=$$!; trap 'kill $$EMU $$WEB 2>/dev/null' EXIT INT TERM; \
	  $(VENV)/bin/cxgm-emulator wait --port $(PORT) --env-file .cxgm/emulator.env && \
	  . ./.cxgm/emulator.env && CXGM_REFRESH_SECONDS=$${CXGM_REFRESH_SECONDS:-60} \
	  CXGM_REPORTS_URL=http://127.0.0.1:$(REPORTS_PORT) CXGM_UI_URL=http://127.0.0.1:$(UI_PORT) \
	  $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

emulator: $(STAMP)
	$(VENV)/bin/cxgm-emulator start --port $(PORT) --speed $(SPEED) --env-file .cxgm/emulator.env

bench: $(STAMP)
	$(PY) bench/fetch_bench.py

clean:
	rm -rf $(VENV) .cxgm .dagster_home
