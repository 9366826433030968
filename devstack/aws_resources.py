"""Create, idempotently, the AWS resources the pipelines expect, on moto.

In AWS these belong to the infrastructure code (the buckets, stream, topic, Glue database and role);
locally the stack makes them so every DAG finds what it would find in a real account.
"""

from __future__ import annotations

import json

import boto3
from botocore.exceptions import ClientError

from dataplatform.config import Settings


def create_resources(s: Settings, endpoint_url: str) -> list[str]:
    kw = {"endpoint_url": endpoint_url, "region_name": s.region}
    s3, kinesis = boto3.client("s3", **kw), boto3.client("kinesis", **kw)
    sns, glue, iam = boto3.client("sns", **kw), boto3.client("glue", **kw), boto3.client("iam", **kw)
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
    return made
