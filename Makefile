# The two commands: `make demo` (the pipeline on the local Airflow platform, left running) and `make test`.
PY := .venv/bin/python
.DEFAULT_GOAL := help
.PHONY: help setup demo up down status test test-fast lint stack-up stack-down stack-status seed bundle deploy bench lock

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/'

setup:  ## install apt packages and the locked Python environment (idempotent)
	@scripts/bootstrap.sh

demo: setup  ## up + seed + trigger the pipeline through Airflow's REST API + summary; the platform keeps running
	$(PY) -m devstack demo

up: setup  ## start the local stack and the Airflow platform (UI and REST API on :8080, LOCAL_AIRFLOW_PORT)
	$(PY) -m devstack up

down:  ## stop the Airflow platform and the local stack; no process is left (state in .local/ is kept)
	$(PY) -m devstack down

status:  ## query each service of the stack and each Airflow component
	$(PY) -m devstack status

TEST_WORKERS ?= 2

test: setup  ## the whole test suite: two workers, each starting its own stack on separate ports
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

test-fast: setup  ## the unit tests, no service started (the edit-test loop; under 90 s)
	$(PY) -m pytest -m "not stack and not spark and not slow" -q

lint: setup  ## ruff
	$(PY) -m ruff check .

stack-up: setup  ## start MariaDB, PostgreSQL+pgvector, moto; create AWS resources
	$(PY) -m devstack start

stack-down:  ## stop the local stack (state in .local/ is kept)
	$(PY) -m devstack stop

stack-status:  ## query each service
	$(PY) -m devstack status --only stack

seed: setup  ## re-seed the source (SCALE=sample|production)
	$(PY) -m devstack seed --scale $(or $(SCALE),sample)

bundle: setup  ## build what MWAA takes into build/mwaa/ (needs the target environment's DATAPLATFORM_* settings)
	$(PY) -m deploy.mwaa build

deploy: bundle  ## stage the Lambda packages, upload the bundle to the MWAA bucket and the Glue scripts
	$(PY) -m deploy.mwaa upload

bench: stack-up  ## run every benchmark (results in bench/results/; ~30 min)
	$(PY) bench/dag_parse.py
	eval "$$($(PY) -m devstack env)" && $(PY) bench/export_scale.py && $(PY) bench/vector_load.py \
		&& $(PY) bench/vector_search.py && $(PY) bench/serving_recall.py && $(PY) bench/serving.py && $(PY) bench/dashboard_freshness.py

lock:  ## re-resolve requirements-lock.txt from requirements-dev.in (Python 3.11 and 3.12)
	$(PY) -m uv pip compile -q requirements-dev.in --universal --python-version 3.11 -o requirements-lock.txt
