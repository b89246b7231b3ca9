# Single entry point. `make run` and `make test` work on a fresh machine with only
# Python 3.11: they create .venv, install the pinned stack, and go.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
USE_CASE ?= retail
# Retail data for `make run` (small enough for a laptop; see docs/benchmarks.md for scale).
RETAIL_WEEKS ?= 12
RETAIL_CUSTOMERS ?= 3000
RETAIL_STORES ?= 120
RETAIL_SEED ?= 7
# Parking: car parks and days of readings (daily files), ending on a Wednesday.
PARKING_DAYS ?= 45
PARKING_CAR_PARKS ?= 4
PARKING_SEED ?= 7
# Sentiment: the packaged real IMDB reviews dealt into daily files; the last planned
# day is left for `make demo-drift USE_CASE=sentiment`.
SENTIMENT_DAYS ?= 20
SENTIMENT_WRITTEN_DAYS ?= 19
# make loadtest: users and seconds of the Locust run against a local server.
LOADTEST_USERS ?= 8
LOADTEST_SECONDS ?= 30

# No telemetry or analytics from any part of the stack: this project runs offline.
export DO_NOT_TRACK := 1
export KEDRO_DISABLE_TELEMETRY := true
export GX_ANALYTICS_ENABLED := false
export MLFLOW_DISABLE_TELEMETRY := true
export MPLBACKEND := Agg
export KEDRO_LOGGING_CONFIG := $(CURDIR)/conf/logging.yml

INFRA_VENV := .venv-infra
INFRA_STAMP := $(INFRA_VENV)/.installed
ENV ?= dev

.PHONY: browser install run data test lint format serve aws-demo viz viz-build mlflow-ui demo-drift rollback benchmark benchmark-engines benchmark-serving benchmark-parking benchmark-sentiment loadtest clean-data help infra-tools infra-check cost teardown

# `make help` lists every target from its `## ` note, so a target cannot be left out
# (tests/test_readme_commands.py checks that each .PHONY target has one).
help: ## this list
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z][a-z-]*:.*## / {printf "make %-20s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# uv (pinned in constraints.txt) installs the pinned stack: on this project's 2-core VM
# it took 27 s where pip took about 4 minutes, for the same 316 packages at the same
# versions (`pip freeze` compared, 2026-12-06). Its output is kept in .venv/install.log
# (the tail is shown if it fails); the install prints uv's own summary lines.
NO_LONGER_INSTALLED := kedro-sagemaker
$(STAMP): $(BIN)/python pyproject.toml serving/pyproject.toml constraints.txt
	@echo "==> install 1/2: pip 25.3 and uv into $(VENV)"
	@$(BIN)/python -m pip install --quiet --upgrade "pip==25.3"
	@$(BIN)/python -m pip install --quiet -c constraints.txt uv
	@echo "==> install 2/2: the project and serving, at the versions pinned in constraints.txt"
	@set -o pipefail; $(BIN)/uv pip install --python $(BIN)/python \
		-c constraints.txt -e ".[dev,viz,spark]" -e "./serving[s3,sklearn]" 2>&1 \
		| tee $(VENV)/install.log \
		| awk '/^(Resolved|Prepared|Uninstalled|Installed|Audited) /{print "    " $$0; fflush()}' \
		|| { echo "uv failed; the end of $(VENV)/install.log:"; tail -25 $(VENV)/install.log; exit 1; }
	@# packages the project once installed and no longer does: an install leaves them
	@# in an existing .venv, and an installed Kedro CLI plugin is imported by every
	@# kedro command (tests/test_startup.py)
	@$(BIN)/uv pip uninstall --quiet --python $(BIN)/python $(NO_LONGER_INSTALLED) 2>/dev/null || true
	@touch $(STAMP)
	@echo "==> installed ($(VENV))"

install: $(STAMP) ## create .venv and install the pinned stack (constraints.txt)
# checkov and actionlint in their own venv: checkov's dependency ranges conflict with
# the project's pins (infra/tools-requirements.txt).
# (uv from .venv: an order-only prerequisite, so a reinstall of .venv does not
# reinstall these)
$(INFRA_STAMP): infra/tools-requirements.txt | $(STAMP)
	$(PYTHON) -m venv $(INFRA_VENV) || python3 -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --upgrade "pip==25.3"
	$(BIN)/uv pip install --quiet --python $(INFRA_VENV)/bin/python --no-deps -r infra/tools-requirements.txt
	touch $(INFRA_STAMP)

infra-tools: $(INFRA_STAMP) ## checkov and actionlint in their own .venv-infra
infra-check: $(STAMP) $(INFRA_STAMP) ## terraform fmt, checkov, HCL security test, kustomize + schemas, actionlint
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/infra

cost: $(STAMP) ## monthly cost estimate per environment (refreshes docs/cost.md)
	$(BIN)/python infra/scripts/cost_estimate.py --write

teardown: $(STAMP) ## empty and destroy an AWS environment (ENV=dev [DRY_RUN=1])
	$(BIN)/python infra/scripts/teardown.py --env $(ENV) $(if $(DRY_RUN),--dry-run,)

data: $(STAMP) ## write raw data if data/raw has none (retail, parking, sentiment)
	@if ! ls data/raw/retail/transactions_*.csv >/dev/null 2>&1; then \
		echo "no raw retail data: generating $(RETAIL_WEEKS) weeks"; \
		$(BIN)/python -m mlops_platform.datagen retail --out data/raw/retail \
			--weeks $(RETAIL_WEEKS) --customers $(RETAIL_CUSTOMERS) \
			--stores $(RETAIL_STORES) --seed $(RETAIL_SEED); \
	else echo "data/raw/retail already has transaction files: not generating"; fi
	@if ! ls data/raw/parking/*.csv >/dev/null 2>&1; then \
		echo "no raw parking data: generating $(PARKING_DAYS) days"; \
		$(BIN)/python -m mlops_platform.datagen parking --out data/raw/parking \
			--days $(PARKING_DAYS) --car-parks $(PARKING_CAR_PARKS) \
			--seed $(PARKING_SEED) --quiet; \
	else echo "data/raw/parking already has reading files: not generating"; fi
	@if ! ls data/raw/sentiment/*.csv >/dev/null 2>&1; then \
		echo "no raw sentiment data: writing $(SENTIMENT_WRITTEN_DAYS) of $(SENTIMENT_DAYS) days"; \
		$(BIN)/python -m mlops_platform.datagen sentiment --out data/raw/sentiment \
			--days $(SENTIMENT_DAYS) --write-days $(SENTIMENT_WRITTEN_DAYS); \
	else echo "data/raw/sentiment already has review files: not writing"; fi

run: data ## install, write raw data if there is none, kedro run (every use case)
	$(BIN)/kedro run

# Debian's Chromium for the tests that look at pages as a person would (the API docs
# offline, Kedro-Viz's layers): installed where apt-get runs as root; elsewhere those
# tests skip and say why.
browser: ## Chromium for the page tests (Debian's package, where apt-get can)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "==> installing Debian's chromium for the page tests"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
			|| { apt-get update >/dev/null 2>&1 \
				&& apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; } \
			|| echo "    chromium could not be installed: the page tests will skip"; \
		else echo "==> no chromium, and apt-get needs root: the page tests will skip"; fi; }

# OMP_WAIT_POLICY=passive: the workers, their servers and kedro runs share the cores,
# and OpenMP's idle threads (scikit-learn's HistGradientBoosting) spin-wait by
# default; one test took 79 s instead of 31 (75 s of CPU instead of 24) beside two
# busy processes (docs/benchmarks.md, "make test").
test: $(STAMP) $(INFRA_STAMP) browser ## the test suite (installs first if needed)
	OMP_WAIT_POLICY=passive $(BIN)/python -m pytest -q -p no:cacheprovider \
		--durations=8 --numprocesses=auto --maxprocesses=4 --dist loadfile

lint: $(STAMP) ## ruff, ruff format --check, mypy, hadolint, nbstripout
	$(BIN)/ruff check src tests benchmarks serving infra/scripts loadtest
	$(BIN)/ruff format --check src tests benchmarks serving infra/scripts loadtest
	$(BIN)/mypy
	$(BIN)/hadolint infra/docker/serving.Dockerfile infra/docker/pipeline.Dockerfile
	$(BIN)/nbstripout --verify notebooks/*.ipynb

format: $(STAMP) ## ruff format and ruff check --fix
	$(BIN)/ruff check --fix src tests benchmarks serving infra/scripts loadtest
	$(BIN)/ruff format src tests benchmarks serving infra/scripts loadtest

# Serves what `make run` promoted; SERVING_* variables override (serving/README.md).
serve: $(STAMP) ## HTTP inference on the local model store (http://127.0.0.1:8080/docs; USE_CASE=...)
	@test -f data/models/production/$(USE_CASE).json || { \
		echo "no promoted $(USE_CASE) model in data/models: run 'make run' first"; exit 1; }
	SERVING_MODEL_STORE_URI=$${SERVING_MODEL_STORE_URI:-data/models} \
		SERVING_USE_CASES=$${SERVING_USE_CASES:-$(USE_CASE)} $(BIN)/mlops-serve

# The lifecycle on an S3 data lake (conf/aws) served by a moto server on loopback.
aws-demo: data ## the lifecycle on an S3 data lake (conf/aws) on a local moto server
	$(BIN)/python -m mlops_platform.aws.demo

# Kedro-Viz opens with each use case's namespace collapsed; this URL expands them, so
# the raw -> silver -> gold -> models layers are visible at once.
VIZ_URL := http://127.0.0.1:4141/?expandAllPipelines=true
viz: $(STAMP) ## kedro viz run; open the printed URL (namespaces expanded, layers visible)
	@echo "==> Kedro-Viz: open $(VIZ_URL)"
	$(BIN)/kedro viz run --no-browser

viz-build: $(STAMP) ## kedro viz build: a static lineage site in build/
	$(BIN)/kedro viz build
	@echo "==> open build/index.html?expandAllPipelines=true (namespaces expanded)"

# One worker: `mlflow ui` starts four by default, each importing MLflow's server; on 2
# cores it answered after 28-31 s, with one worker after 13-20 s (2026-12-06). One
# person reads it.
mlflow-ui: $(STAMP) ## MLflow UI on the local store, opened on the project's runs
	@echo "MLflow UI, the project's runs: $$($(BIN)/python -m mlops_platform.tracking ui-url --tracking-uri sqlite:///data/mlflow/mlflow.db --base http://127.0.0.1:5000)"
	$(BIN)/mlflow ui --backend-store-uri sqlite:///data/mlflow/mlflow.db --host 127.0.0.1 --port 5000 --workers 1

demo-drift: $(STAMP) ## append a drifted period, run again; then an undrifted one (USE_CASE=retail|sentiment)
	$(BIN)/python -m mlops_platform.demo_drift --use-case $(USE_CASE)

rollback: $(STAMP) ## restore the previous champion (USE_CASE=retail|parking|sentiment)
	$(BIN)/mlops-model rollback --use-case $(USE_CASE)

benchmark: $(STAMP) ## LGSR-scale lifecycle benchmark (117 weeks, 5,000 customers: 3.35M lines)
	$(BIN)/python benchmarks/lifecycle_benchmark.py

# data_engineering's full refresh against the same work on DuckDB, Polars and Arrow.
benchmark-engines: $(STAMP) ## the pandas path against DuckDB, Polars and Arrow compute on 3.38M lines
	$(BIN)/python benchmarks/engine_benchmark.py

# Real-sample accuracy, daily lifecycle time and forecast latency (needs wrk).
benchmark-parking: $(STAMP) ## real-sample MAE, daily run time and memory, forecast latency
	$(BIN)/python benchmarks/parking_benchmark.py

# Accuracy on real reviews never trained on, training time, latency of long reviews.
benchmark-sentiment: $(STAMP) ## accuracy on unseen real reviews, training time, review latency
	$(BIN)/python benchmarks/sentiment_benchmark.py

# Locust, headless, against a local server of the promoted sentiment champion for a
# bounded time; writes its figures into docs/benchmarks.md. Against a deployment:
#   locust -f loadtest/locustfile.py --headless --host https://<alb> -u 50 -t 5m
loadtest: $(STAMP) ## Locust, headless, against a local server of the sentiment champion
	$(BIN)/python loadtest/run_local.py --users $(LOADTEST_USERS) \
		--seconds $(LOADTEST_SECONDS) --write

# Needs a promoted champion (make run) and wrk (apt-get install wrk).
benchmark-serving: $(STAMP) ## the service against its peers and the bare-FastAPI floor (needs wrk)
	$(BIN)/python benchmarks/serving_benchmark.py

clean-data: ## remove data/ (raw data is written again by the next make run)
	find data -mindepth 2 ! -name .gitkeep -delete 2>/dev/null || true
	find data -mindepth 2 -type d -empty -delete 2>/dev/null || true
