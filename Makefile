# Two commands on a fresh clone: `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
CCRISK := $(VENV)/bin/ccrisk
STAMP := $(VENV)/.installed
AXE := tests/ui/node_modules/axe-core/axe.min.js
CHROMIUM := /usr/bin/chromium
PORT ?= 3000
MLFLOW_PORT ?= 5000
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export MLFLOW_DISABLE_TELEMETRY=true
export BENTOML_DO_NOT_TRACK=true
export DO_NOT_TRACK=true
export BENTOML_HOME=$(CURDIR)/.ccrisk/bentoml

.PHONY: install browser services run serve train-sample test test-all test-ui test-spark test-postgres lint format bench bench-quick mlflow-ui bento container notebooks clean

install: $(STAMP)

# What the browser tier (tests/ui) and `make bench` need besides Python: Debian's Chromium, driven
# by Playwright, and axe-core from npm (pinned in tests/ui/package-lock.json), injected by the tests.
browser: $(AXE) $(CHROMIUM)

# torch goes in first (the CPU wheel), then everything else under the lock file.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

$(AXE): tests/ui/package.json tests/ui/package-lock.json
	npm ci --prefix tests/ui --no-audit --no-fund --loglevel=error
	touch $(AXE)

$(CHROMIUM):
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
	  || { echo "install Debian's chromium package (as root: apt-get install chromium)"; exit 1; }

# What the Spark and PostgreSQL tiers need besides Python, installed where missing: Java 17 for
# pyspark, PostgreSQL's server programs (initdb, pg_ctl; the tests start a throwaway server).
services:
	@command -v java >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	  openjdk-17-jre-headless; } || { echo "install Java 17 (apt-get install openjdk-17-jre-headless)"; exit 1; }
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -q \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; } \
	  || { echo "install PostgreSQL's server (apt-get install postgresql)"; exit 1; }

# Trains on data_samples/ when the registry has no champion, prints a fresh admin key named
# "demo" (it opens both screens; the README's curl examples read it from $$CCRISK_KEY), then serves
# on 127.0.0.1:$(PORT).
run: install
	$(CCRISK) ensure-champion
	$(CCRISK) keys create --role admin --name demo --replace
	@echo "Screens: http://127.0.0.1:$(PORT)/agent, /claims and /admin (sign in with this key); API docs: http://127.0.0.1:$(PORT)/"
	$(CCRISK) serve --port $(PORT)

serve: install
	$(CCRISK) serve --port $(PORT)

train-sample: install
	$(CCRISK) train fraud --data data_samples/claims_sample.csv
	$(CCRISK) train fraud --data data_samples/health_claims_sample.csv --spec health_claims
	for task in complaint complaint_topic intent; do $(CCRISK) train text --task $$task --sample || exit 1; done
	$(CCRISK) train kb

test: install browser services
	$(PY) -m pytest -m "not slow" -q

test-all: install browser services
	$(PY) -m pytest -q

# The screens in a real browser alone (they also run in `make test`).
test-ui: install browser
	$(PY) -m pytest -m ui -q

# Batch scoring on Spark local[2] alone; the PostgreSQL tier alone (both also run in `make test`).
test-spark: install services
	$(PY) -m pytest -m spark -q

test-postgres: install services
	$(PY) -m pytest -m postgres -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Benchmarks (not part of the installed package) write JSON under benchmarks/results/ and
# regenerate docs/performance.md and the README's results table; ARGS="--only fraud" for one family.
bench: install browser services
	$(PY) -m benchmarks $(ARGS)

bench-quick: install browser
	$(PY) -m benchmarks --quick $(ARGS)

# A Bento of the service with the registry's champions (trained on the samples where missing); it
# serves from any folder with no MLflow store: `bentoml serve ccrisk:latest` (docs/deployment.md).
bento: install
	$(CCRISK) ensure-champion
	$(CCRISK) bento build

# The Bento as an OCI image, where a Docker daemon and the base image are available (says why not).
container: bento
	$(CCRISK) bento container --tag ccrisk:latest

# The MLflow UI on this project's own tracking store (a bare `mlflow ui` opens an empty one).
# Re-run every notebook in place on this project's champions, keeping outputs and plots.
notebooks: install
	$(CCRISK) ensure-champion
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb

mlflow-ui: install
	$(VENV)/bin/mlflow ui --port $(MLFLOW_PORT) --backend-store-uri \
	  "$$($(PY) -c 'from features.settings import load_settings as s; print(s().resolved_tracking_uri())')"

clean:
	rm -rf .ccrisk .pytest_cache .ruff_cache
