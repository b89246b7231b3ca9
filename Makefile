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

.PHONY: install run data test lint format serve aws-demo viz viz-build mlflow-ui demo-drift rollback benchmark benchmark-serving benchmark-parking benchmark-sentiment loadtest clean-data help infra-tools infra-check cost teardown

help:
	@echo "make run         install, write raw data if data/raw has none (retail, parking, sentiment), kedro run"
	@echo "make test        run the test suite"
	@echo "make lint        ruff, ruff format --check, mypy"
	@echo "make viz         kedro viz run (lineage with medallion layers)"
	@echo "make aws-demo    the lifecycle on an S3 data lake (conf/aws) on a local moto server"
	@echo "make serve       HTTP inference on the local model store (http://127.0.0.1:8080/docs)"
	@echo "make mlflow-ui   MLflow UI on the local store"
	@echo "make demo-drift  append a drifted week, run again; then an undrifted week (USE_CASE=retail|sentiment)"
	@echo "make rollback    restore the previous champion (USE_CASE=retail|parking|sentiment)"
	@echo "make benchmark   LGSR-scale benchmark (about 2.67M lines), writes docs/benchmarks.md figures"
	@echo "make benchmark-parking  real-sample MAE, daily run time and memory, forecast latency"
	@echo "make benchmark-sentiment  accuracy on unseen real reviews, training time, review latency"
	@echo "make loadtest    Locust, headless, against a local server of the sentiment champion"
	@echo "make infra-check terraform fmt, checkov, HCL security test, kustomize + schemas, actionlint"
	@echo "make cost        monthly cost estimate per environment (refreshes docs/cost.md)"
	@echo "make teardown ENV=dev [DRY_RUN=1]  empty and destroy an AWS environment"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml serving/pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade "pip==25.3"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,viz]" \
		-e "./serving[s3,sklearn]"
	touch $(STAMP)

install: $(STAMP)

# checkov and actionlint in their own venv: checkov's dependency ranges conflict with
# the project's pins (infra/tools-requirements.txt).
$(INFRA_STAMP): infra/tools-requirements.txt
	$(PYTHON) -m venv $(INFRA_VENV) || python3 -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install --quiet --upgrade "pip==25.3"
	$(INFRA_VENV)/bin/python -m pip install --quiet --no-deps -r infra/tools-requirements.txt
	touch $(INFRA_STAMP)

infra-tools: $(INFRA_STAMP)

infra-check: $(STAMP) $(INFRA_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/infra

cost: $(STAMP)
	$(BIN)/python infra/scripts/cost_estimate.py --write

teardown: $(STAMP)
	$(BIN)/python infra/scripts/teardown.py --env $(ENV) $(if $(DRY_RUN),--dry-run,)

data: $(STAMP)
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

run: data
	$(BIN)/kedro run

test: $(STAMP) $(INFRA_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=8

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks serving infra/scripts loadtest
	$(BIN)/ruff format --check src tests benchmarks serving infra/scripts loadtest
	$(BIN)/mypy
	$(BIN)/hadolint infra/docker/serving.Dockerfile infra/docker/pipeline.Dockerfile
	$(BIN)/nbstripout --verify notebooks/*.ipynb

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks serving infra/scripts loadtest
	$(BIN)/ruff format src tests benchmarks serving infra/scripts loadtest

# Serves what `make run` promoted; SERVING_* variables override (serving/README.md).
serve: $(STAMP)
	@test -f data/models/production/$(USE_CASE).json || { \
		echo "no promoted $(USE_CASE) model in data/models: run 'make run' first"; exit 1; }
	SERVING_MODEL_STORE_URI=$${SERVING_MODEL_STORE_URI:-data/models} \
		SERVING_USE_CASES=$${SERVING_USE_CASES:-$(USE_CASE)} $(BIN)/mlops-serve

# The lifecycle on an S3 data lake (conf/aws) served by a moto server on loopback.
aws-demo: data
	$(BIN)/python -m mlops_platform.aws.demo

viz: $(STAMP)
	$(BIN)/kedro viz run --no-browser

viz-build: $(STAMP)
	$(BIN)/kedro viz build

mlflow-ui: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///data/mlflow/mlflow.db --host 127.0.0.1 --port 5000

demo-drift: $(STAMP)
	$(BIN)/python -m mlops_platform.demo_drift --use-case $(USE_CASE)

rollback: $(STAMP)
	$(BIN)/mlops-model rollback --use-case $(USE_CASE)

benchmark: $(STAMP)
	$(BIN)/python benchmarks/lifecycle_benchmark.py

# Real-sample accuracy, daily lifecycle time and forecast latency (needs wrk).
benchmark-parking: $(STAMP)
	$(BIN)/python benchmarks/parking_benchmark.py

# Accuracy on real reviews never trained on, training time, latency of long reviews.
benchmark-sentiment: $(STAMP)
	$(BIN)/python benchmarks/sentiment_benchmark.py

# Locust, headless, against a local server of the promoted sentiment champion for a
# bounded time; writes its figures into docs/benchmarks.md. Against a deployment:
#   locust -f loadtest/locustfile.py --headless --host https://<alb> -u 50 -t 5m
loadtest: $(STAMP)
	$(BIN)/python loadtest/run_local.py --users $(LOADTEST_USERS) \
		--seconds $(LOADTEST_SECONDS) --write

# Needs a promoted champion (make run) and wrk (apt-get install wrk).
benchmark-serving: $(STAMP)
	$(BIN)/python benchmarks/serving_benchmark.py

clean-data:
	find data -mindepth 2 ! -name .gitkeep -delete 2>/dev/null || true
	find data -mindepth 2 -type d -empty -delete 2>/dev/null || true
