"""dataplatform.s3 on the test stack's moto server: paginated listing, batched deletes, upload-if-changed."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from dataplatform import s3 as s3_ops

pytestmark = pytest.mark.stack


@pytest.fixture
def bucket(s3_client) -> str:
    name = f"s3-test-{uuid.uuid4().hex[:10]}"
    s3_client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield name
    versions = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                for page in s3_client.get_paginator("list_object_versions").paginate(Bucket=name)
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
    for start in range(0, len(versions), 1000):
        s3_client.delete_objects(Bucket=name, Delete={"Objects": versions[start:start + 1000], "Quiet": True})
    s3_client.delete_bucket(Bucket=name)


def put_all(s3_client, bucket: str, keys: list[str]) -> None:
    for key in keys:
        s3_client.put_object(Bucket=bucket, Key=key, Body=b"x")


def test_listing_follows_every_page(s3_client, bucket: str) -> None:
    keys = [f"p/{i:04d}" for i in range(7)]
    put_all(s3_client, bucket, keys)
    s3_client.put_object(Bucket=bucket, Key="other/0", Body=b"x")
    # pages of 3 (S3 returns at most 1000 a page: the same continuation tokens, with fewer objects to make)
    assert s3_ops.list_keys(s3_client, bucket, "p/", page_size=3) == keys
    assert len(list(s3_ops.list_objects(s3_client, bucket, page_size=3))) == 8
    assert s3_ops.list_keys(s3_client, bucket) == sorted([*keys, "other/0"])
    assert s3_ops.list_keys(s3_client, bucket, "nothing-here/") == []


def test_delete_keys_deletes_more_than_one_batch(s3_client, bucket: str, monkeypatch) -> None:
    monkeypatch.setattr(s3_ops, "DELETE_BATCH", 3)  # S3's limit is 1000 keys a request
    keys = [f"d/{i:04d}" for i in range(7)]
    put_all(s3_client, bucket, keys)
    s3_client.put_object(Bucket=bucket, Key="keep", Body=b"x")

    s3_ops.delete_keys(s3_client, bucket, keys)

    assert s3_ops.list_keys(s3_client, bucket) == ["keep"]


def test_unchanged_content_is_not_uploaded_again(s3_client, bucket: str, tmp_path: Path) -> None:
    path = tmp_path / "script.py"
    path.write_text("print('v1')\n")

    first = s3_ops.put_if_changed(s3_client, bucket, "scripts/script.py", path)
    again = s3_ops.put_if_changed(s3_client, bucket, "scripts/script.py", path)

    assert first.uploaded and not again.uploaded
    assert first.sha256 == again.sha256 == s3_ops.sha256_hex(path.read_bytes())
    head = s3_client.head_object(Bucket=bucket, Key="scripts/script.py")
    assert head["Metadata"] == {"sha256": first.sha256}
    assert s3_client.get_object(Bucket=bucket, Key="scripts/script.py")["Body"].read() == b"print('v1')\n"


def test_changed_content_is_uploaded(s3_client, bucket: str) -> None:
    s3_ops.put_if_changed(s3_client, bucket, "k", b"v1")

    result = s3_ops.put_if_changed(s3_client, bucket, "k", b"v2")

    assert result.uploaded
    assert s3_client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"


def test_object_without_checksum_metadata_is_replaced(s3_client, bucket: str) -> None:
    # GIVEN the same bytes written by something else (no x-amz-meta-sha256)
    s3_client.put_object(Bucket=bucket, Key="k", Body=b"same")

    result = s3_ops.put_if_changed(s3_client, bucket, "k", b"same")

    assert result.uploaded
    assert s3_ops.head_checksum(s3_client, bucket, "k")[0] == s3_ops.sha256_hex(b"same")


def test_version_ids_on_a_versioned_bucket(s3_client, bucket: str) -> None:
    # GIVEN an object written before versioning was enabled (its version id is "null")
    s3_ops.put_if_changed(s3_client, bucket, "plugins.zip", b"zip")
    s3_client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert not s3_ops.put_if_changed(s3_client, bucket, "plugins.zip", b"zip").uploaded

    # WHEN a pinnable version is needed THEN the unchanged object is written once more, and only once
    pinned = s3_ops.put_if_changed(s3_client, bucket, "plugins.zip", b"zip", need_version=True)
    again = s3_ops.put_if_changed(s3_client, bucket, "plugins.zip", b"zip", need_version=True)

    assert pinned.uploaded and pinned.version_id not in (None, "null")
    assert not again.uploaded and again.version_id == pinned.version_id
    assert s3_client.head_object(Bucket=bucket, Key="plugins.zip")["VersionId"] == pinned.version_id

