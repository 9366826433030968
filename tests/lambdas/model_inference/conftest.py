"""Fixtures for the model-inference Lambda: a vector DB schema of its own with a live synthetic model (its
user-feature model on moto S3), the handler cold-started against it, a fake Lambda context."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import boto3
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from dataplatform.vectordb import store
from lambdas.packaging import load_handler
from tests.plugins.serving.conftest import Model, load_model, publish_popular

EVENTS = Path(__file__).resolve().parents[3] / "lambdas" / "model_inference" / "events"
SPEC_CODES = ("S18_3232", "S24_2300", "S12_1099", "S10_1678")
"""The products the sample events browse (customers 100..159 have stored vectors; 141 is the spec's)."""


def sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@dataclass
class FakeContext:
    function_name: str = "reco-local-model-inference"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:reco-local-model-inference"
    aws_request_id: str = "7c1a2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass(frozen=True)
class Deployment:
    conninfo: str
    model: Model
    bucket: str


@pytest.fixture(scope="module")
def deployment(local_stack) -> Iterator[Deployment]:
    """A schema with version `v1` live (published with its user-feature model) and a popular-products ranking."""
    c = json.loads(os.environ["AIRFLOW_CONN_PG_VECTOR"])
    base = make_conninfo(host=c["host"], port=c["port"], user=c["login"], password=c["password"], dbname=c["schema"])
    schema, bucket = f"test_mi_{secrets.token_hex(4)}", f"test-mi-{secrets.token_hex(4)}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": os.environ["AWS_DEFAULT_REGION"]})
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    conninfo = make_conninfo(base, options=f"-c search_path={schema},public")
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            store.ensure_schema(conn)
            model = load_model(conn, "v1", s3=s3, bucket=bucket, extra_codes=SPEC_CODES)
            publish_popular(conn, {"Spain": ["S10_0005", "S18_3232"], "*": ["S10_0001", "S10_0002", "S10_0003"]})
        yield Deployment(conninfo, model, bucket)
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)


def cold_start(environment: dict[str, str]) -> ModuleType:
    """Import the handler afresh (a new container) with `environment` set while it initialises."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("DATAPLATFORM_VECTOR_DSN", "DATAPLATFORM_VECTOR_SECRET_ARN", "DATAPLATFORM_POPULAR_COPY_URI"):
            patch.delenv(name, raising=False)
        for name, value in environment.items():
            patch.setenv(name, value)
        return load_handler("model_inference", fresh=True)


@pytest.fixture(scope="module")
def handler_module(deployment: Deployment) -> ModuleType:
    return cold_start({"DATAPLATFORM_VECTOR_DSN": deployment.conninfo})


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()
