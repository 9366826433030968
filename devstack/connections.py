"""The one place that opens connections to the local stack, for devstack itself, the tests and the benchmarks.

The pipelines never use this module: they go through their Airflow connections (`mysql_source`, `pg_vector`,
`aws_default`, see `devstack/env.py`), which point at the same services. Ports come from the environment
(`StackConfig.from_env()`: `LOCAL_*_PORT`, `LOCAL_STATE_DIR`), passwords from the stack's generated
`.local/secrets.json`; nothing here reads `AIRFLOW_CONN_*`.

    stack = StackConnections.from_env()
    with stack.source_admin("classicmodels") as conn: ...     # MySQLdb, may write
    with stack.vector_db() as pg: ...                          # psycopg 3, the pipelines' role
    stack.aws_client("s3")                                     # boto3: moto; Glue: the local Glue endpoint
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devstack.env import REGION
from devstack.stack import (
    HOST,
    MYSQL_ADMIN_USER,
    MYSQL_READONLY_USER,
    PG_APP_USER,
    PG_DATABASE,
    Secrets,
    StackConfig,
    load_secrets,
)

if TYPE_CHECKING:
    import MySQLdb
    import psycopg

SOURCE_DATABASE = "classicmodels"
PG_SUPERUSER = "postgres"
MOTO_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class StackConnections:
    """Opens connections to one running local stack (the demo's, or the tests' on their own ports)."""

    cfg: StackConfig
    secrets: Secrets

    @classmethod
    def from_env(cls) -> StackConnections:
        cfg = StackConfig.from_env()
        return cls(cfg, load_secrets(cfg))

    # --- the MySQL source (MariaDB) -------------------------------------------------------------------------

    def source_admin_params(self) -> dict[str, Any]:
        """host, port, user, password of the admin account (may create databases): what `devstack.seed` takes."""
        return {"host": HOST, "port": self.cfg.mysql_port, "user": MYSQL_ADMIN_USER,
                "password": self.secrets.mysql_admin}

    def source_readonly_params(self) -> dict[str, Any]:
        """host, port, user, password of the pipelines' read-only account (SELECT on classicmodels only)."""
        return {"host": HOST, "port": self.cfg.mysql_port, "user": MYSQL_READONLY_USER,
                "password": self.secrets.mysql_readonly}

    def source_admin(self, database: str | None = None, **kwargs: Any) -> MySQLdb.Connection:
        """A MySQLdb connection as the admin account (utf8mb4; extra `MySQLdb.connect` arguments pass through)."""
        return _mysql(self.source_admin_params(), database, **kwargs)

    def source_readonly(self, database: str | None = SOURCE_DATABASE, **kwargs: Any) -> MySQLdb.Connection:
        """A MySQLdb connection as the pipelines' read-only account."""
        return _mysql(self.source_readonly_params(), database, **kwargs)

    def source_jdbc_url(self, database: str = SOURCE_DATABASE) -> str:
        return f"jdbc:mysql://{HOST}:{self.cfg.mysql_port}/{database}"

    # --- the vector DB (PostgreSQL + pgvector) ------------------------------------------------------------------

    def vector_conninfo(self, *, superuser: bool = False, dbname: str = PG_DATABASE, **options: Any) -> str:
        """libpq connection string, as the pipelines' role (or the superuser); `options` are extra keywords
        (e.g. `options="-c search_path=bench,public"`)."""
        from psycopg.conninfo import make_conninfo

        user, password = (PG_SUPERUSER, self.secrets.pg_superuser) if superuser else (PG_APP_USER,
                                                                                     self.secrets.pg_app)
        return make_conninfo(host=HOST, port=self.cfg.pg_port, user=user, password=password, dbname=dbname,
                             connect_timeout=5, **options)

    def vector_db(self, *, superuser: bool = False, dbname: str = PG_DATABASE, autocommit: bool = False,
                  **options: Any) -> psycopg.Connection:
        """A psycopg 3 connection (a context manager: commits on success, closes at the end)."""
        import psycopg

        return psycopg.connect(self.vector_conninfo(superuser=superuser, dbname=dbname, **options),
                               autocommit=autocommit)

    # --- AWS (moto) ---------------------------------------------------------------------------------------------

    def aws_client(self, service: str) -> Any:
        """A boto3 client routed as the pipelines' `aws_default` is: Glue to the local Glue endpoint (whose job
        runs really run), every other service to moto. Whatever AWS_* variables the shell has."""
        import boto3

        endpoint = self.cfg.glue_endpoint if service == "glue" else self.cfg.moto_endpoint
        return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **MOTO_CREDENTIALS)

    def moto_client(self, service: str) -> Any:
        """A boto3 client on moto itself (for Glue: moto's API without the local endpoint's job runs)."""
        import boto3

        return boto3.client(service, endpoint_url=self.cfg.moto_endpoint, region_name=REGION, **MOTO_CREDENTIALS)


def _mysql(params: dict[str, Any], database: str | None, **kwargs: Any) -> MySQLdb.Connection:
    import MySQLdb

    args = {**params, "charset": "utf8mb4", "connect_timeout": 5, **kwargs}
    if database:
        args["database"] = database
    return MySQLdb.connect(**args)
