"""The platform's connections, by purpose, through the providers' hooks (Airflow extension module).

Connection ids come from `config.Settings`; credentials come from wherever Airflow finds them:
`AIRFLOW_CONN_*` locally, `airflow_settings.yaml` on Astro, Secrets Manager on MWAA.
"""

from __future__ import annotations

from typing import Any

from dataplatform.config import settings


def source_hook():
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    return MySqlHook(mysql_conn_id=settings().source_conn_id)


def vector_hook():
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresHook(postgres_conn_id=settings().vector_conn_id)


def aws_client(service: str) -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id=settings().aws_conn_id, client_type=service).get_conn()

