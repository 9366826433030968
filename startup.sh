#!/usr/bin/env bash
# Amazon MWAA startup script (uploaded as s3://<prefix>-mwaa/startup.sh by `python -m deploy.mwaa upload`).
#
# MWAA sources it on every component (scheduler, worker, web server) before installing requirements.txt and
# starting Airflow, and keeps the variables it exports for the Airflow processes. It only sets the values
# `dataplatform.config.settings()` reads; it installs nothing and calls no network (MWAA gives it 5 minutes
# and a failure here delays every component). It is sourced, so no `set -e`, no `exit`.
#
# Each DATAPLATFORM_* value comes from the first of:
#   1. the variable itself, if already set;
#   2. an MWAA Airflow configuration option `dataplatform.<name>` (MWAA exports it as
#      AIRFLOW__DATAPLATFORM__<NAME>): the no-code override, changed with `aws mwaa update-environment`;
#   3. what MWAA itself provides:
#      DATAPLATFORM_PREFIX       <- AIRFLOW_ENV_NAME (the environment's name), lower-cased, "_" -> "-":
#                                   name the environment after the prefix, e.g. `reco-prod` -> buckets
#                                   reco-prod-data-lake, reco-prod-mwaa, ...
#      DATAPLATFORM_REGION       <- AWS_REGION / AWS_DEFAULT_REGION (set by MWAA)
#      DATAPLATFORM_ACCOUNT_ID   <- CUSTOMER_ACCOUNT_ID (set by MWAA's container image)
#      DATAPLATFORM_RETRY_DELAY_SECONDS: only from 1. or 2. (config.py's default otherwise)
# A value that resolves to nothing is not exported, so config.py's default applies.
# MWAA protects some variables (AIRFLOW_ENV_NAME, AWS_REGION, PYTHONPATH, ...): this script never sets them.

_dataplatform_export() {  # NAME VALUE: export DATAPLATFORM_NAME=VALUE unless VALUE is empty
    if [ -n "$2" ]; then
        export "DATAPLATFORM_$1=$2"
        echo "startup.sh: DATAPLATFORM_$1=$2"
    fi
}

_dataplatform_env_prefix="$(printf '%s' "${AIRFLOW_ENV_NAME:-}" | tr '[:upper:]_' '[:lower:]-')"

_dataplatform_export PREFIX "${DATAPLATFORM_PREFIX:-${AIRFLOW__DATAPLATFORM__PREFIX:-${_dataplatform_env_prefix}}}"
_dataplatform_export REGION "${DATAPLATFORM_REGION:-${AIRFLOW__DATAPLATFORM__REGION:-${AWS_REGION:-${AWS_DEFAULT_REGION:-}}}}"
_dataplatform_export ACCOUNT_ID "${DATAPLATFORM_ACCOUNT_ID:-${AIRFLOW__DATAPLATFORM__ACCOUNT_ID:-${CUSTOMER_ACCOUNT_ID:-}}}"
_dataplatform_export RETRY_DELAY_SECONDS "${DATAPLATFORM_RETRY_DELAY_SECONDS:-${AIRFLOW__DATAPLATFORM__RETRY_DELAY_SECONDS:-}}"

unset -f _dataplatform_export
unset _dataplatform_env_prefix
