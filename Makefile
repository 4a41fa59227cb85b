# Two commands on a fresh clone: `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
CCRISK := $(VENV)/bin/ccrisk
STAMP := $(VENV)/.installed
PORT ?= 3000
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export MLFLOW_DISABLE_TELEMETRY=true
export BENTOML_DO_NOT_TRACK=true
export DO_NOT_TRACK=true
export BENTOML_HOME=$(CURDIR)/.ccrisk/bentoml

.PHONY: install run serve train-sample test test-all lint format bench bench-quick clean

install: $(STAMP)

# torch goes in first (the CPU wheel), then everything else under the lock file.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# Trains on data_samples/ when the registry has no champion, prints a fresh admin key named
# "demo" (the README's curl examples read it from $$CCRISK_KEY), then serves on 127.0.0.1:$(PORT).
run: install
	$(CCRISK) ensure-champion
	$(CCRISK) keys create --role admin --name demo --replace
	$(CCRISK) serve --port $(PORT)

serve: install
	$(CCRISK) serve --port $(PORT)

train-sample: install
	$(CCRISK) train fraud --data data_samples/claims_sample.csv
	for task in complaint complaint_topic intent; do $(CCRISK) train text --task $$task --sample || exit 1; done
	$(CCRISK) train kb

test: install
	$(PY) -m pytest -m "not slow" -q

test-all: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Benchmarks write JSON under benchmarks/results/ (several minutes; --quick for a smoke run).
bench: install
	$(CCRISK) bench

bench-quick: install
	$(CCRISK) bench --quick

clean:
	rm -rf .ccrisk .pytest_cache .ruff_cache
