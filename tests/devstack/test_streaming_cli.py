"""`python -m devstack.streaming` as a person runs it: generate, deliver until idle, and the end-to-end `run`.

Runs against resources named from a unique prefix (`DATAPLATFORM_PREFIX`), made and deleted here, and a vector DB
schema with a live synthetic model for the seeded source's catalogue.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest

from devstack.streaming import synthetic_model
from devstack.streaming.pipeline import state_dir, vector_conninfo
from devstack.streaming.source import catalogue_from_source

pytestmark = pytest.mark.stack
REGION = "eu-west-1"


@pytest.fixture
def cli_env(seeded_source) -> Iterator[dict[str, str]]:
    catalogue = catalogue_from_source()
    prefix = f"t{secrets.token_hex(4)}"
    kinesis, s3 = boto3.client("kinesis", region_name=REGION), boto3.client("s3", region_name=REGION)
    stream, bucket = f"{prefix}-user-activity", f"{prefix}-recommendations"
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    customers = sorted({c.customer_number for c in catalogue.customers})
    countries = sorted({c.country for c in catalogue.customers})
    with synthetic_model.model_schema(vector_conninfo(), catalogue.product_codes, customers, countries,
                                      prefix="cli") as conninfo:
        yield {**os.environ, "DATAPLATFORM_PREFIX": prefix, "DATAPLATFORM_VECTOR_DSN": conninfo}
    kinesis.delete_stream(StreamName=stream)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)
    (state_dir() / f"{prefix}-recommendations.checkpoints.json").unlink(missing_ok=True)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "devstack.streaming", *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_generate_then_deliver_until_idle(cli_env: dict[str, str]) -> None:
    generated = cli(cli_env, "generate", "--events", "60", "--malformed-share", "0.2", "--seed", "5")
    assert generated.returncode == 0, generated.stderr
    malformed = int(re.search(r"wrote 60 records \((\d+) malformed", generated.stdout).group(1))
    delivered = cli(cli_env, "deliver", "--until-idle")
    assert delivered.returncode == 0, delivered.stderr
    found = re.search(r"read 60: (\d+) Ok, (\d+) ProcessingFailed", delivered.stdout)
    assert found, delivered.stdout
    assert (int(found.group(1)), int(found.group(2))) == (60 - malformed, malformed)
    again = cli(cli_env, "deliver", "--until-idle")  # resumes from its checkpoints: nothing twice
    assert "read 0:" in again.stdout, again.stdout


def test_run_prints_n_in_equals_ok_plus_processing_failed_out(cli_env: dict[str, str]) -> None:
    done = cli(cli_env, "run", "--events", "80", "--seed", "6")
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"^80 in = (\d+) Ok \+ (\d+) ProcessingFailed out \(balanced", done.stdout, re.M)
    assert found, done.stdout
    assert int(found.group(1)) + int(found.group(2)) == 80
    assert "model versions         {'v1':" in done.stdout
