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

.PHONY: install lint test test-fast demo emulator bench bench-scale clean postgres prod-check

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) on PATH (or make PYTHON=python3)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Includes the production check (tests/deploy/test_prod_check.py), hence the PostgreSQL server.
lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP) postgres lint
	$(PY) -m pytest -n 2 tests

# The unit tier alone (no emulated account, browser or server): seconds, for the edit-test loop.
test-fast: $(STAMP)
	$(PY) -m pytest -n 2 -m unit tests

# Debian's PostgreSQL server, for the production check: installed when absent and we are root (CI's case);
# otherwise install it yourself, or the check is skipped locally (never in CI, where CI=true makes it fail).
postgres:
	@if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's postgresql (server for the production check)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else echo "no PostgreSQL server and not root: tests/deploy/test_prod_check.py will be skipped"; fi

# The production deployment on this machine: emulated AWS, PostgreSQL, frames on S3, SMTP alerts,
# dagster-daemon killed and restarted mid-attempt; prints each thing it checks (~5 minutes).
prod-check: $(STAMP) postgres
	$(PY) deploy/prod_check.py

# The emulator and the report server (the reports folder over HTTP: a browser opens no file:// link from the
# Dagster UI) run in the background; dagster dev in the foreground. Ctrl-C stops all three. The emulated portal is
# local: read at 20 requests a second, not the 4 a public one gets. The emulated clock runs SPEED times faster:
# a refresh every 60 s and a digest every 120 s at most (production: 900 and 600), or the eight-minute run shows
# two digests in all; the env file carries them to a `cxgm` shell too.
demo: $(STAMP)
	mkdir -p $(DAGSTER_HOME) .cxgm/data/reports && rm -f .cxgm/emulator.env
	test -f $(DAGSTER_HOME)/dagster.yaml || cp deploy/dagster.local.yaml $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/cxgm-emulator start --port $(PORT) --speed $(SPEED) --env-file .cxgm/emulator.env & \
	  EMU=$$!; $(PY) -m http.server $(REPORTS_PORT) --bind 127.0.0.1 --directory .cxgm/data/reports >/dev/null 2>&1 & \
	  WEB=$$!; trap 'kill $$EMU $$WEB 2>/dev/null' EXIT INT TERM; \
	  $(VENV)/bin/cxgm-emulator wait --port $(PORT) --env-file .cxgm/emulator.env && \
	  echo "export CXGM_REFRESH_SECONDS=$${CXGM_REFRESH_SECONDS:-60}" >> .cxgm/emulator.env && \
	  echo "export CXGM_DIGEST_SECONDS=$${CXGM_DIGEST_SECONDS:-120}" >> .cxgm/emulator.env && \
	  echo "cxgm: prod's attempt, its answer first: http://127.0.0.1:$(UI_PORT)/assets/migration_report?view=partitions&partition=ATTEMPT_2%7Cprod" && \
	  echo "cxgm: the command line in another shell: source .cxgm/emulator.env; .venv/bin/cxgm attempts" && \
	  . ./.cxgm/emulator.env && CXGM_REFRESH_SECONDS=$${CXGM_REFRESH_SECONDS:-60} CXGM_PORTAL_RATE=$${CXGM_PORTAL_RATE:-20} \
	  CXGM_REPORTS_URL=http://127.0.0.1:$(REPORTS_PORT) CXGM_UI_URL=http://127.0.0.1:$(UI_PORT) \
	  $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

emulator: $(STAMP)
	$(VENV)/bin/cxgm-emulator start --port $(PORT) --speed $(SPEED) --env-file .cxgm/emulator.env

# AWS's latency and default quotas; the old helpers' phase alone takes ~6 min (add --skip-old to leave it out)
BENCH_ARGS ?= --quotas --latency-ms 40
bench: $(STAMP)
	$(PY) bench/fetch_bench.py $(BENCH_ARGS)

# 10x the corpus (20,000 datasets, ~100,000 jobs an attempt; ~2 GB for the emulator), both shapes of the Maps
bench-scale: $(STAMP)
	$(PY) bench/fetch_bench.py --quotas --latency-ms 40 --skip-old --scenario corpus10x
	$(PY) bench/fetch_bench.py --quotas --latency-ms 40 --skip-old --scenario corpus10x --map-mode inline

clean:
	rm -rf $(VENV) .cxgm .dagster_home
