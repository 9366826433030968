"""Create, idempotently, the AWS resources the pipelines expect, on moto.

In AWS these belong to the infrastructure code (the buckets, stream, topic, Glue database, role and JDBC
connection); locally the stack makes them so every DAG finds what it would find in a real account.

The Glue JDBC connection of each job in `include/glue/jobs.yaml` (`<prefix>-<connection>`) points at the local
MariaDB with the pipelines' read-only account, as the real one points at the read replica: the local Glue
endpoint (`devstack/glue_local.py`) reads it for a job run as AWS Glue does.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from dataplatform.batch.glue_jobs import GlueJobSpec
from dataplatform.config import Settings
from devstack.connections import StackConnections


def create_resources(s: Settings, stack: StackConnections) -> list[str]:
    s3, kinesis, sns = stack.moto_client("s3"), stack.moto_client("kinesis"), stack.moto_client("sns")
    glue, iam = stack.moto_client("glue"), stack.moto_client("iam")
    made = []
    for bucket in s.buckets:
        try:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": s.region})
            made.append(f"s3://{bucket}")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
                raise
    try:
        kinesis.create_stream(StreamName=s.activity_stream, ShardCount=2)
        made.append(f"kinesis:{s.activity_stream}")
    except kinesis.exceptions.ResourceInUseException:
        pass
    kinesis.get_waiter("stream_exists").wait(StreamName=s.activity_stream, WaiterConfig={"Delay": 1})
    sns.create_topic(Name=s.alerts_topic)  # idempotent by name
    try:
        glue.create_database(DatabaseInput={"Name": s.glue_database})
        made.append(f"glue database {s.glue_database}")
    except glue.exceptions.AlreadyExistsException:
        pass
    role = s.glue_role_arn.rsplit("/", 1)[1]
    try:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"},
                           "Action": "sts:AssumeRole"}],
        }))
        made.append(f"iam role {role}")
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    readonly = stack.source_readonly_params()
    for name in sorted({spec.connection_name(s) for spec in GlueJobSpec.load_all()}):
        if create_glue_jdbc_connection(glue, name, stack.source_jdbc_url(s.source_database),
                                       user=readonly["user"], password=readonly["password"]):
            made.append(f"glue connection {name}")
    return made


def create_glue_jdbc_connection(glue: Any, name: str, jdbc_url: str, *, user: str, password: str) -> bool:
    """Create the Glue JDBC connection `name`; False if it exists already with these properties.

    moto has no UpdateConnection: a connection left with other properties (the stack's secrets were
    regenerated) is reported, and a restart of the stack (moto keeps its state in memory) clears it."""
    properties = {"JDBC_CONNECTION_URL": jdbc_url, "USERNAME": user, "PASSWORD": password,
                  "JDBC_ENFORCE_SSL": "false"}
    try:
        glue.create_connection(ConnectionInput={"Name": name, "ConnectionType": "JDBC",
                                                "ConnectionProperties": properties})
        return True
    except glue.exceptions.AlreadyExistsException:
        current = glue.get_connection(Name=name, HidePassword=False)["Connection"]["ConnectionProperties"]
        if current != properties:
            raise RuntimeError(f"Glue connection {name} exists on moto with other properties: restart the stack "
                               "(python -m devstack stop && python -m devstack start)") from None
        return False
