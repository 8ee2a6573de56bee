# Two commands for a new user: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.credit/dagster_home
export CREDIT_HOME ?= $(CURDIR)/.credit
export CREDIT_DATA_DIR ?= $(CURDIR)/data

.PHONY: install browser web demo data run ui image test test-all lint format bench bench-quality bench-scaling bench-decisions bench-drift bench-serving clean

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set, every process would
# compile Dagster, MLflow and GX again (import dagster: 4.0 s instead of 1.8 s).
$(BIN)/.installed: pyproject.toml uv.lock
	@$(PY) -m uv --version >/dev/null 2>&1 || $(PY) -m pip install --quiet uv
	$(PY) -m uv sync --frozen --compile-bytecode
	@touch $@

install: $(BIN)/.installed

## browser: Debian's headless Chromium and Japanese fonts for the browser tests, once
browser:
	@(command -v chromium && fc-list :lang=ja | grep -q .) >/dev/null 2>&1 || \
		(apt-get update && apt-get install -y chromium fonts-noto-cjk)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

data: install
	@[ -f $(CREDIT_DATA_DIR)/history/train.csv ] || $(BIN)/credit-assets generate $(CREDIT_DATA_DIR)

## demo: generate the default data (once) and materialize every asset on embedded defaults
demo: install data $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/credit-assets run --dataset santander

## ui: the Dagster UI (webserver + daemon) on the same instance and data; `make ui PORT=3001`
PORT ?= 3000
ui: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/credit-assets ui --port $(PORT)

## web: the review department's web app, with Dagster behind its login at /dagster
web: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/credit-assets web --insecure-cookies

# One pytest process per core; a test file stays in one process (its module fixtures, such as
# a trained environment, are built once).
XDIST := -n auto --dist loadfile

## test: the default suite (what CI runs)
test: install browser
	$(BIN)/python -m pytest $(XDIST)

## test-all: also the slow tests
test-all: install browser
	$(BIN)/python -m pytest $(XDIST) -m ""

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/model_quality.py

## bench-quality: what the quality checks cost (10,000-row day, 200,000-row history)
bench-quality: install
	$(BIN)/python bench/quality_checks.py

## bench-scaling: backfill throughput with 1 and 2 Celery workers and the multiprocess executor
bench-scaling: install
	$(BIN)/python bench/scaling.py

## bench-decisions: decisions with worded reasons against LightGBM predicting alone, in batch and one at a time
bench-decisions: install
	$(BIN)/python bench/decisions.py

## bench-fairness: the fairness figures and the proxy list on a 50,000-row holdout
.PHONY: bench-fairness
bench-fairness: install
	$(BIN)/python bench/fairness.py
## bench-drift: drift detection and false alarms against a PSI rule and Evidently's preset.
## Evidently runs in its own venv: its pins clash with the project's (it needs pandas < 3).
EVIDENTLY_VENV := .venv-evidently
$(EVIDENTLY_VENV)/.installed:
	@$(PY) -m uv venv -q $(EVIDENTLY_VENV) && \
	$(PY) -m uv pip install -q --python $(EVIDENTLY_VENV)/bin/python evidently "pandas<3" pyarrow \
	&& touch $@ || { rm -rf $(EVIDENTLY_VENV); echo "Evidently could not be installed"; }

bench-drift: install $(EVIDENTLY_VENV)/.installed
	$(BIN)/python bench/drift.py

## bench-serving: the decision API: one decision, HTTP latency at fixed rates, the batch endpoint
bench-serving: install
	$(BIN)/python bench/serving.py
## image: the one image of the scale-out profile, stamped with this checkout's revision
image:
	docker build -f deploy/Dockerfile --build-arg CODE_VERSION=$$(git rev-parse HEAD) -t credit-assets .

clean:
	rm -rf .credit data

## bench-training: training through the asset graph vs a plain script (see bench/README.md)
.PHONY: bench-training
bench-training: install
	$(BIN)/python bench/training.py

## bench-startup: each command's start-up against `python -c "import pandas"` (see bench/README.md)
.PHONY: bench-startup
bench-startup: install
	$(BIN)/python bench/startup.py

## bench-memory: peak memory of `score` on 300,000 rows against the file and against 30,000 rows
## bench-reading: reading a 200,000 x 200 CSV by the contract against reading it by inference
.PHONY: bench-memory bench-reading
bench-memory: install
	$(BIN)/python bench/memory.py

bench-reading: install
	$(BIN)/python bench/reading.py
