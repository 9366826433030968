"""The S3 operations the platform repeats: paginated listing, batched deletes, upload only when the content changed.

Plain boto3, the client is passed in (a provider hook's `get_conn()`, or `boto3.client("s3")`). No Airflow import.

Checksum convention: an object written by `put_if_changed` carries the SHA-256 of its bytes in the user metadata
`x-amz-meta-sha256`; an object whose metadata matches the local bytes is not uploaded again (an ETag is an MD5
only for single-part uploads without SSE-KMS, so it cannot serve as the checksum).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHECKSUM_METADATA = "sha256"
"""User-metadata key of the content checksum (`x-amz-meta-sha256`)."""
DELETE_BATCH = 1000
"""DeleteObjects takes at most 1000 keys per call."""
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True)
class PutResult:
    """What `put_if_changed` did: the object now current at `key`, and whether this call wrote it."""

    key: str
    sha256: str
    uploaded: bool
    version_id: str | None
    """The current object's version id: None on an unversioned bucket, "null" for an object written before
    versioning was enabled."""


def list_objects(s3: Any, bucket: str, prefix: str = "", *, page_size: int = 1000) -> Iterator[dict[str, Any]]:
    """Every object under `prefix` (ListObjectsV2 entries: Key, LastModified, ETag, Size), all pages of at most
    `page_size` (S3's maximum: 1000).

    Lazy, page by page: list before deleting what was listed (`list_keys`), not while iterating."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix,
                                                         PaginationConfig={"PageSize": page_size})
    for page in pages:
        yield from page.get("Contents", [])


def list_keys(s3: Any, bucket: str, prefix: str = "", *, page_size: int = 1000) -> list[str]:
    """The keys under `prefix`, all pages, in S3's (UTF-8 binary) order."""
    return [obj["Key"] for obj in list_objects(s3, bucket, prefix, page_size=page_size)]


def delete_keys(s3: Any, bucket: str, keys: Iterable[str]) -> list[str]:
    """Delete `keys` in batches of 1000, in the given order; raise if S3 reports a key it could not delete."""
    keys = list(keys)
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start:start + DELETE_BATCH]
        response = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        if response.get("Errors"):
            failed = ", ".join(f"{e['Key']} ({e['Code']})" for e in response["Errors"])
            raise RuntimeError(f"could not delete from s3://{bucket}: {failed}")
    return keys


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def head_checksum(s3: Any, bucket: str, key: str) -> tuple[str | None, str | None]:
    """(`x-amz-meta-sha256`, version id) of the current object at `key`; (None, None) when there is none."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in _MISSING:
            return None, None
        raise
    return head.get("Metadata", {}).get(CHECKSUM_METADATA), head.get("VersionId")


def put_if_changed(s3: Any, bucket: str, key: str, content: bytes | Path, *,
                   need_version: bool = False) -> PutResult:
    """Upload `content` (bytes or a file) to `s3://bucket/key` unless the object there has the same SHA-256.

    With `need_version` (MWAA pins objects by version), an unchanged object without a real version id (written
    before versioning was enabled: id "null") is uploaded again, so the caller gets a version it can pin.
    """
    body = content.read_bytes() if isinstance(content, Path) else content
    digest = sha256_hex(body)
    current, version = head_checksum(s3, bucket, key)
    if current == digest and not (need_version and version in (None, "null")):
        return PutResult(key=key, sha256=digest, uploaded=False, version_id=version)
    response = s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={CHECKSUM_METADATA: digest})
    return PutResult(key=key, sha256=digest, uploaded=True, version_id=response.get("VersionId"))
