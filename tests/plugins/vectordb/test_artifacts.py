"""Which model version to load, from the ML artifacts bucket on the moto server."""

from __future__ import annotations

import re
import time
import uuid

import boto3
import numpy as np
import pytest

from dataplatform.handoffs import HandoffError, ModelManifest, ModelRows
from dataplatform.vectordb import artifacts as ma
from dataplatform.vectordb.embeddings_file import EmbeddingsFileError, embeddings_csv_bytes

pytestmark = pytest.mark.stack


@pytest.fixture
def bucket(local_stack):
    s3 = boto3.client("s3")
    name = f"artifacts-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield s3, name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for o in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=o["Key"])
    s3.delete_bucket(Bucket=name)


ITEMS = embeddings_csv_bytes(["S10_1678", "S10_1949"], np.ones((2, 4), dtype=np.float32))
USERS = embeddings_csv_bytes([103, 112], np.ones((2, 4), dtype=np.float32))


def manifest_of(version: str, files: dict[str, bytes]) -> bytes:
    return ModelManifest.describe(version=version, dimension=4, files=files, rows=ModelRows(items=2, users=2)
                                  ).model_dump_json().encode()


def publish(s3, bucket: str, prefix: str, manifest: bool = True) -> None:
    s3.put_object(Bucket=bucket, Key=prefix + ma.ITEMS, Body=ITEMS)
    s3.put_object(Bucket=bucket, Key=prefix + ma.USERS, Body=USERS)
    if manifest:
        s3.put_object(Bucket=bucket, Key=prefix + ma.MANIFEST,
                      Body=manifest_of(prefix.split("/")[1], {ma.ITEMS: ITEMS, ma.USERS: USERS}))


def test_nothing_published_names_both_layouts(bucket) -> None:
    s3, name = bucket
    with pytest.raises(ma.ArtifactsNotFoundError, match=r"models/ or .*embeddings/"):
        ma.resolve(s3, name)


def test_newest_complete_version_wins_and_incomplete_ones_are_ignored(bucket) -> None:
    s3, name = bucket
    publish(s3, name, "models/v1/")
    time.sleep(1.1)
    publish(s3, name, "models/v2/")
    time.sleep(1.1)
    publish(s3, name, "models/v3/", manifest=False)  # still uploading: no manifest yet
    assert ma.resolve(s3, name).version == "v2"


def test_flat_layout_gets_a_stable_version_and_wins_when_newer(bucket) -> None:
    s3, name = bucket
    publish(s3, name, "models/v1/")
    time.sleep(1.1)
    publish(s3, name, "embeddings/", manifest=False)
    flat = ma.resolve(s3, name)
    assert flat.version.startswith("flat-") and flat.prefix == "embeddings/"
    assert ma.resolve(s3, name).version == flat.version  # same files, same version: a rerun is a no-op
    assert ma.resolve(s3, name, flat.version) == flat


def test_files_changed_after_the_manifest_are_refused(bucket) -> None:
    s3, name = bucket
    publish(s3, name, "models/v1/")
    artifacts = ma.resolve(s3, name, "v1")
    s3.put_object(Bucket=name, Key="models/v1/manifest.json", Body=manifest_of("v1", {ma.ITEMS: b"other content"}))
    with pytest.raises(ValueError, match="differs from the manifest"):
        ma.read_validated(s3, ma.with_manifest(s3, artifacts), known_products={"S10_1678", "S10_1949"},
                          known_customers={103, 112}, min_product_coverage=1.0)


def test_valid_pair_reads_back_with_its_checksums(bucket) -> None:
    s3, name = bucket
    publish(s3, name, "models/v1/")
    emb = ma.read_validated(s3, ma.with_manifest(s3, ma.resolve(s3, name)), known_products={"S10_1678", "S10_1949"},
                            known_customers={103, 112}, min_product_coverage=1.0)
    assert emb.items.dimension == emb.users.dimension == 4 and set(emb.sha256) == {ma.ITEMS, ma.USERS}


@pytest.mark.parametrize(("manifest", "field"), [
    (b'{"version": "v1", "rows": {"items": 2, "users": 2}, "files": {}}', "dimension: Field required"),
    (b'{"version": "v1", "dimension": "four", "rows": {"items": 2, "users": 2}, "files": {}}', "dimension: Input"),
    (b'{"version": "v1", "dimension": 4, "rows": {"items": 2}, "files": {}}', "rows.users: Field required"),
    (b'{"version": "v1", "dimension": 4, "rows": {"items": 2, "users": 2}, "files": {"x": {"sha256": "zz", '
     b'"bytes": 1}}}', "files.x.sha256"),
    (b"not json", "(root): Invalid JSON"),
])
def test_malformed_manifest_fails_naming_the_field(bucket, manifest, field) -> None:
    s3, name = bucket
    publish(s3, name, "models/v1/", manifest=False)
    s3.put_object(Bucket=name, Key="models/v1/manifest.json", Body=manifest)
    with pytest.raises(HandoffError, match=re.escape(field)) as err:
        ma.with_manifest(s3, ma.resolve(s3, name, "v1"))
    assert "s3://" in str(err.value) and "models/v1/manifest.json" in str(err.value)


def test_manifest_of_another_version_is_refused(bucket) -> None:
    s3, name = bucket
    publish(s3, name, "models/v1/", manifest=False)
    s3.put_object(Bucket=name, Key="models/v1/manifest.json", Body=manifest_of("v0", {}))
    with pytest.raises(ValueError, match="describes version 'v0', not 'v1'"):
        ma.with_manifest(s3, ma.resolve(s3, name, "v1"))


def test_unknown_customer_fails_validation_naming_the_file(bucket) -> None:
    s3, name = bucket
    publish(s3, name, "models/v1/")
    with pytest.raises(EmbeddingsFileError, match=r"user_embeddings\.csv"):
        ma.read_validated(s3, ma.resolve(s3, name), known_products={"S10_1678", "S10_1949"},
                          known_customers={103}, min_product_coverage=1.0)
