"""Checks of every dependency the pipelines use, each returning what it found or raising why not.

Plain Python on DB-API connections and boto3 clients, so the checks run the same from the
`platform_healthcheck` DAG, a test or a shell.
"""

from __future__ import annotations

import re
from typing import Any

WRITE_PRIVILEGES = re.compile(
    r"\b(ALL PRIVILEGES|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|INDEX|TRUNCATE|GRANT OPTION)\b"
)


class HealthCheckFailed(RuntimeError):
    """A dependency is missing or misconfigured; the message says which and how."""


def check_source_is_read_only(conn: Any, database: str) -> dict[str, Any]:
    """The source must be reachable and must not be writable by us: a read replica or a read-only user."""
    cur = conn.cursor()
    cur.execute("SELECT VERSION(), CURRENT_USER(), @@global.read_only")
    version, user, read_only = cur.fetchone()
    cur.execute("SHOW GRANTS FOR CURRENT_USER()")
    grants = [row[0] for row in cur.fetchall()]
    writable = [g for g in grants if WRITE_PRIVILEGES.search(g.split(" TO ")[0])
                and (f"`{database}`" in g or " ON *.*" in g)]
    if writable and not read_only:
        raise HealthCheckFailed(
            f"source user {user} can write to {database} and the server is not read_only: {writable}"
        )
    cur.execute(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s", (database,)
    )
    (tables,) = cur.fetchone()
    if not tables:
        raise HealthCheckFailed(f"source database {database!r} has no tables visible to {user}")
    return {"version": version, "user": user, "server_read_only": bool(read_only), "tables": tables}


def check_pgvector(conn: Any) -> dict[str, Any]:
    cur = conn.cursor()
    cur.execute("SELECT current_setting('server_version'), "
                "(SELECT extversion FROM pg_extension WHERE extname = 'vector')")
    server, pgvector = cur.fetchone()
    if pgvector is None:
        raise HealthCheckFailed("the pgvector extension is not installed: CREATE EXTENSION vector")
    return {"postgres": server, "pgvector": pgvector}


def check_buckets(s3: Any, buckets: tuple[str, ...]) -> dict[str, Any]:
    missing = []
    for bucket in buckets:
        try:
            s3.head_bucket(Bucket=bucket)
        except Exception as exc:  # noqa: BLE001 - collected and reported together
            missing.append(f"{bucket} ({exc})")
    if missing:
        raise HealthCheckFailed(f"buckets missing or not accessible: {missing}")
    return {"buckets": list(buckets)}


def check_stream_active(kinesis: Any, stream: str) -> dict[str, Any]:
    summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    if summary["StreamStatus"] not in ("ACTIVE", "UPDATING"):
        raise HealthCheckFailed(f"stream {stream} is {summary['StreamStatus']}")
    return {"stream": stream, "status": summary["StreamStatus"], "shards": summary["OpenShardCount"]}


def check_topic(sns: Any, topic_arn: str) -> dict[str, Any]:
    attrs = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    return {"topic": topic_arn, "subscriptions": int(attrs.get("SubscriptionsConfirmed", 0))}


def report(states: dict[str, str], results: dict[str, Any]) -> dict[str, Any]:
    """One line per check; raises listing the failed ones so the run is red and the alert fires."""
    lines = {name: {"state": states.get(name), "result": results.get(name)} for name in sorted(states)}
    for name, line in lines.items():
        print(f"{name:<24} {line['state']:<10} {line['result'] or ''}")
    failed = [name for name, line in lines.items() if line["state"] != "success"]
    if failed:
        raise HealthCheckFailed(f"failed checks: {', '.join(failed)} (see each task's log)")
    return lines
