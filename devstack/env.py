"""The environment that points Airflow, boto3 and the package at the local stack.

Connections are `AIRFLOW_CONN_*` JSON, the same ids Astro (`airflow_settings.yaml`) and MWAA (Secrets
Manager `airflow/connections/<id>`) define. AWS calls go to moto: `AWS_ENDPOINT_URL` covers every boto3
client, so no code path can reach a real AWS account from the local stack. Glue calls go to the local Glue
endpoint (`devstack/glue_local.py`, moto's Glue API whose job runs really run): `service_config.glue` in the
`aws_default` connection for the provider's hooks, operators and triggers (sync and aiobotocore), and
`AWS_ENDPOINT_URL_GLUE` for a plain boto3 client.
"""

from __future__ import annotations

import json

from devstack.stack import (
    HOST,
    MYSQL_ADMIN_USER,
    MYSQL_READONLY_USER,
    PG_APP_USER,
    PG_DATABASE,
    REPO,
    Secrets,
    StackConfig,
)

LOCAL_PREFIX = "reco-local"
REGION = "eu-west-1"
MOTO_ACCOUNT_ID = "123456789012"


def connections(cfg: StackConfig, sec: Secrets) -> dict[str, dict]:
    return {
        "mysql_source": {
            "conn_type": "mysql", "host": HOST, "port": cfg.mysql_port, "schema": "classicmodels",
            "login": MYSQL_READONLY_USER, "password": sec.mysql_readonly,
        },
        "pg_vector": {
            "conn_type": "postgres", "host": HOST, "port": cfg.pg_port, "schema": PG_DATABASE,
            "login": PG_APP_USER, "password": sec.pg_app,
        },
        "aws_default": {
            "conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"region_name": REGION, "endpoint_url": cfg.moto_endpoint,
                      "service_config": {"glue": {"endpoint_url": cfg.glue_endpoint}}},
        },
    }


def local_env(cfg: StackConfig, sec: Secrets) -> dict[str, str]:
    airflow_home = cfg.state_dir / "airflow"
    env = {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
        "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}",
        "DATAPLATFORM_PREFIX": LOCAL_PREFIX,
        "DATAPLATFORM_REGION": REGION,
        "DATAPLATFORM_ACCOUNT_ID": MOTO_ACCOUNT_ID,
        "DATAPLATFORM_RETRY_DELAY_SECONDS": "1",  # a failing local run fails in seconds, not minutes
        "AWS_ENDPOINT_URL": cfg.moto_endpoint,
        "AWS_ENDPOINT_URL_GLUE": cfg.glue_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "LOCAL_MYSQL_PORT": str(cfg.mysql_port),
        "LOCAL_PG_PORT": str(cfg.pg_port),
        "LOCAL_MOTO_PORT": str(cfg.moto_port),
        "LOCAL_GLUE_PORT": str(cfg.glue_port),
        "LOCAL_STATE_DIR": str(cfg.state_dir),
        "LOCAL_MYSQL_ADMIN_USER": MYSQL_ADMIN_USER,
        "LOCAL_MYSQL_ADMIN_PASSWORD": sec.mysql_admin,
    }
    for conn_id, conn in connections(cfg, sec).items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(conn)
    return env
