"""The read-only database role the serving Lambdas connect as: least privilege on the vector store.

**What it can do.** Connect to the vector database, look up objects in the store's schema (USAGE), and SELECT the
tables the serving code reads (`dataplatform.serving`): every model version's `item_embeddings__<slug>` /
`user_embeddings__<slug>` / `item_neighbours__<slug>` / `user_top_items__<slug>`, `model_versions` and
`popular_products` (`SERVED_PATTERN`). Nothing else: no other table or view (not the reader views, which the serving
code does not use; not a table someone adds later to the schema), no write (grants are SELECT only and every
transaction of the role starts read-only), no CREATE on the schema or database, no inherited privilege (NOINHERIT),
no superuser-like attribute. Retired versions' tables stay readable until they are pruned: a reader's cache may name
the previous version for a few seconds after a swap (`serving.live.LIVE_CACHE_SECONDS`).

**Why grants survive every `embeddings_load`.** A load creates new tables; a swap only repoints views and flips
`model_versions.is_live`. An event trigger (`create_reader_grant_function.sql`) grants SELECT on each new table
whose name the serving code reads, in the loader's own transaction, as the loader (the owner). `ALTER DEFAULT
PRIVILEGES` would also cover new tables, but every new table of the loader, whatever it holds: the trigger
grants by name, so a table of personal data created in the same schema by the same role stays unreadable.

**Who runs what.**
- `ensure_reader_role(admin, ...)`, once per environment and on password rotation, by an administrator (the RDS
  master user: CREATE ROLE needs CREATEROLE, an event trigger the master user): role, attributes, password (from
  the role's Secrets Manager secret), CONNECT, USAGE, the grant trigger.
  `python -m dataplatform.vectordb.roles ensure --admin-dsn ... --secret-id ...` does it from a shell;
  locally `devstack.lambda_resources` does it with a generated password.
- `sync_reader_grants(loader, ...)`, at every `streaming_deploy` (and by `ensure_reader_role`'s caller), as the
  pipelines' role that owns the tables: grants SELECT on served tables that lack it (tables loaded before the
  trigger existed) and revokes everything on any other table of the schema. Idempotent; returns what it changed.
- `reader_problems(conn, ...)`: what is not as it should be (role missing or too powerful, trigger missing or
  granting by an older pattern than `SERVED_PATTERN`).

SQL in `include/sql/` (identifiers and literals composed by psycopg). Plain Python: no Airflow import.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from dataplatform.paths import sql_path
from dataplatform.serving.live import ITEM_PREFIX, NEIGHBOURS_PREFIX, TOP_ITEMS_PREFIX, USER_PREFIX

SERVED_TABLES = ("model_versions", "popular_products")
SERVED_PREFIXES = (ITEM_PREFIX, USER_PREFIX, NEIGHBOURS_PREFIX, TOP_ITEMS_PREFIX)
SERVED_PATTERN = (f"^({'|'.join(map(re.escape, SERVED_PREFIXES))})[a-z0-9_]+$|"
                  f"^({'|'.join(SERVED_TABLES)})$")
"""The tables the serving package reads (tests/plugins/streaming/test_reader_role.py checks its SQL against it)."""


def _composed(name: str, **parts: sql.Composable) -> sql.Composed:
    return sql.SQL(sql_path(name).read_text()).format(**parts)


def trigger_name(role: str) -> str:
    return f"grant_{role}_on_create"


@dataclass(frozen=True)
class GrantChanges:
    """What `sync_reader_grants` grants and revokes (table names)."""

    grant: list[str] = field(default_factory=list)
    revoke: list[str] = field(default_factory=list)
    not_owned: list[str] = field(default_factory=list)
    """Tables needing a change the connected role cannot make (owned by another role)."""

    def __bool__(self) -> bool:
        return bool(self.grant or self.revoke)

    def lines(self, role: str) -> list[str]:
        out = [f"+ GRANT SELECT ON {t} TO {role}" for t in self.grant]
        out += [f"- REVOKE ALL ON {t} FROM {role}" for t in self.revoke]
        out += [f"! {t}: owned by another role, fix by hand" for t in self.not_owned]
        return out


def grant_changes(conn: psycopg.Connection, *, role: str, schema: str) -> GrantChanges:
    """Compare the role's table privileges in `schema` with least privilege (SELECT on served tables only)."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql_path("select_reader_table_grants.sql").read_text(),
                           {"role": role, "schema": schema, "pattern": SERVED_PATTERN}).fetchall()
    changes = GrantChanges()
    for row in rows:
        name = row["table_name"]
        wrong = (row["served"] and (not row["can_select"] or row["can_write"])) or (
            not row["served"] and (row["can_select"] or row["can_write"]))
        if not wrong:
            continue
        if not row["owned"]:
            changes.not_owned.append(name)
        elif row["served"]:
            if row["can_write"]:
                changes.revoke.append(name)
            changes.grant.append(name)
        else:
            changes.revoke.append(name)
    return changes


def sync_reader_grants(conn: psycopg.Connection, *, role: str, schema: str) -> GrantChanges:
    """Make the role's table privileges in `schema` least privilege, in one transaction; returns the changes."""
    changes = grant_changes(conn, role=role, schema=schema)
    with conn.transaction(), conn.cursor() as cur:
        for name in changes.revoke:
            cur.execute(_composed("revoke_reader_table.sql", table=sql.Identifier(schema, name),
                                  role=sql.Identifier(role)))
        for name in changes.grant:
            cur.execute(_composed("grant_reader_table.sql", table=sql.Identifier(schema, name),
                                  role=sql.Identifier(role)))
    return changes


def ensure_reader_role(admin: psycopg.Connection, *, role: str, password: str, schema: str,
                       connection_limit: int) -> None:
    """Create or repair the role (as an administrator), in one transaction; idempotent. Table grants are
    `sync_reader_grants`' job (as the tables' owner)."""
    if not password or len(password) < 16:
        raise ValueError("the serving role's password must have at least 16 characters")
    role_id, database = sql.Identifier(role), sql.Identifier(admin.info.dbname)
    trigger, function = sql.Identifier(trigger_name(role)), sql.Identifier(trigger_name(role))
    with admin.transaction(), admin.cursor() as cur:
        if cur.execute(sql_path("select_database_role.sql").read_text(), {"role": role}).fetchone() is None:
            cur.execute(_composed("create_reader_role.sql", role=role_id))
        cur.execute(_composed("alter_reader_role.sql", role=role_id, connection_limit=sql.Literal(connection_limit),
                              password=sql.Literal(password)))
        cur.execute(_composed("set_reader_read_only.sql", role=role_id))
        cur.execute(_composed("grant_reader_connect.sql", database=database, role=role_id))
        cur.execute(_composed("grant_reader_schema.sql", schema=sql.Identifier(schema), role=role_id))
        cur.execute(_composed("create_reader_grant_function.sql", function=function, schema=sql.Literal(schema),
                              role=sql.Literal(role), pattern=sql.Literal(SERVED_PATTERN)))
        cur.execute(_composed("drop_reader_grant_trigger.sql", trigger=trigger))
        cur.execute(_composed("create_reader_grant_trigger.sql", trigger=trigger, function=function))


def reader_problems(conn: psycopg.Connection, *, role: str) -> list[str]:
    """What makes the role missing or more than read-only; empty when it is as `ensure_reader_role` leaves it."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(sql_path("select_database_role.sql").read_text(), {"role": role}).fetchone()
        trigger = cur.execute(sql_path("select_event_trigger.sql").read_text(),
                              {"trigger": trigger_name(role)}).fetchone()
    if row is None:
        return [f"role {role} does not exist: an administrator runs `python -m dataplatform.vectordb.roles ensure`"]
    problems = [f"role {role} has {attr}" for attr in ("rolsuper", "rolcreaterole", "rolcreatedb",
                                                        "rolreplication", "rolbypassrls", "rolinherit") if row[attr]]
    if "default_transaction_read_only=on" not in row["config"]:
        problems.append(f"role {role} does not start read-only transactions")
    if trigger is None or trigger["evtenabled"] == "D":
        problems.append(f"event trigger {trigger_name(role)} is missing or disabled: new model versions' tables "
                        "would not be readable; an administrator runs `python -m dataplatform.vectordb.roles ensure`")
    elif SERVED_PATTERN not in trigger["prosrc"]:
        problems.append(f"event trigger {trigger_name(role)} grants by an older list of served tables (installed "
                        "before the neighbour lists?): new model versions' tables would not all be readable; an "
                        "administrator runs `python -m dataplatform.vectordb.roles ensure`")
    return problems


def main(argv: Sequence[str] | None = None) -> None:
    """`ensure`: as an administrator, create or repair the role with the password of its Secrets Manager secret."""
    import boto3

    parser = argparse.ArgumentParser(prog="python -m dataplatform.vectordb.roles", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ensure = sub.add_parser("ensure")
    ensure.add_argument("--admin-dsn", required=True, help="libpq connection string of the administrator")
    ensure.add_argument("--secret-id", required=True, help="the role's secret (RDS format: username, password)")
    ensure.add_argument("--schema", default="public")
    ensure.add_argument("--connection-limit", type=int, default=500)
    args = parser.parse_args(argv)
    secret = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=args.secret_id)["SecretString"])
    with psycopg.connect(args.admin_dsn) as admin:
        ensure_reader_role(admin, role=secret["username"], password=secret["password"], schema=args.schema,
                           connection_limit=args.connection_limit)
        changes = sync_reader_grants(admin, role=secret["username"], schema=args.schema)
        print("\n".join(changes.lines(secret["username"])) or "table grants already least privilege")
        print("\n".join(reader_problems(admin, role=secret["username"])) or f"{secret['username']}: ok")


if __name__ == "__main__":
    main()
