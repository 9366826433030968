"""Publishing the reference model: files, manifest and versions (`dataplatform.model.publishing`)."""

from __future__ import annotations

import io
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataplatform.batch import training_export
from dataplatform.handoffs import ModelManifest, SnapshotManifest, TrainingSnapshotEvent
from dataplatform.model.cold_start import UserFeatureModel
from dataplatform.model.publishing import (
    MANIFEST,
    NoSnapshotError,
    Publication,
    VersionConflictError,
    model_version,
    publish,
    publish_snapshot,
    snapshot_to_train,
)
from dataplatform.model.training import TrainedModel, TrainingParams, train
from dataplatform.vectordb.embeddings_file import check_pair, read_embeddings

CREATED_AT = datetime(2026, 1, 5, 3, 4, 5, tzinfo=UTC)


def test_publish_writes_manifest_last_and_files_parse_back(snapshot: pa.Table, model: TrainedModel) -> None:
    written: dict[str, bytes] = {}

    manifest = publish(
        model,
        written.__setitem__,
        "2026-01-05T00-00-00",
        training_snapshot="s3://reco-dev-data-lake/training/snapshot_date=2026-01-05/",
    )

    assert list(written) == [
        "item_embeddings.csv",
        "user_embeddings.csv",
        "user_feature_model.json",
        "user_feature_model.npz",
        MANIFEST,
    ]
    assert ModelManifest.from_payload(written[MANIFEST]) == manifest
    items = read_embeddings(io.StringIO(written["item_embeddings.csv"].decode(), newline=""), kind="item")
    users = read_embeddings(io.StringIO(written["user_embeddings.csv"].decode(), newline=""), kind="user")
    check_pair(
        items,
        users,
        known_products=set(snapshot.column("productCode").to_pylist()),
        known_customers=set(snapshot.column("customerNumber").to_pylist()),
        min_product_coverage=1.0,
    )
    np.testing.assert_array_equal(items.vectors, model.item_vectors)
    assert manifest.dimension == items.dimension == users.dimension == 32
    assert manifest.rows.model_dump() == {"items": len(items), "users": len(users)}
    for name, entry in manifest.files.items():
        assert entry.sha256 == sha256(written[name]).hexdigest()
    assert manifest.metrics is not None and manifest.metrics["beats_baselines"] is True
    assert manifest.training_snapshot is not None and manifest.training_snapshot.startswith("s3://")
    loaded = UserFeatureModel.from_files(
        written["user_feature_model.json"], written["user_feature_model.npz"]
    )
    assert loaded.dimension == 32


def test_publish_rejects_a_version_unfit_for_a_path(model: TrainedModel) -> None:
    with pytest.raises(ValueError, match="version"):
        publish(model, lambda name, content: None, "../latest", training_snapshot="s3://x/")


def test_training_twice_publishes_byte_identical_files(snapshot: pa.Table, model: TrainedModel) -> None:
    # GIVEN the same snapshot and seed, trained a second time from scratch
    again = train(snapshot, dimension=32, seed=0)
    first: dict[str, bytes] = {}
    second: dict[str, bytes] = {}

    # WHEN both are published under the same version and time
    for trained, written in ((model, first), (again, second)):
        publish(trained, written.__setitem__, "ref-2026-01-05-0123456789", training_snapshot="s3://lake/snap/",
                created_at=CREATED_AT)

    # THEN every file, the manifest included, is the same to the byte
    assert list(first) == list(second)
    assert {name: sha256(b).hexdigest() for name, b in first.items()} == {
        name: sha256(b).hexdigest() for name, b in second.items()
    }


def test_manifest_round_trips_with_its_extra_fields(model: TrainedModel) -> None:
    written: dict[str, bytes] = {}

    manifest = publish(model, written.__setitem__, "v1", training_snapshot="s3://x/", created_at=CREATED_AT)
    loaded = ModelManifest.from_payload(written[MANIFEST])

    assert loaded.created_at == "2026-01-05T03:04:05+00:00"
    assert loaded.model_extra is not None and loaded.model_extra["params"]["seed"] == 0
    assert loaded.model_extra["similarity"]["user_to_item"].startswith("inner product")
    assert loaded.files["item_embeddings.csv"].rows == len(model.item_ids)
    assert loaded.files["user_feature_model.npz"].rows is None
    assert loaded.payload() == manifest.payload()


# ------------------------------------------------------------------------------------------------ versions


def snapshot_manifest(**changes: Any) -> SnapshotManifest:
    fields: dict[str, Any] = {
        "export_date": "2026-03-02",
        "row_count": 2_500,
        "schema": [{"name": "productRating", "type": "int"}],
        "source_row_counts": {"ratings": 2_500, "joined": 2_500},
        "run_id": "manual__2026-03-02T03:00:00+00:00",
        "job_name": "reco-local-training-data-export",
        "code_version": "0123456789ab",
        "spark_version": "3.5.4",
        "quality": {"passed": True, "rules": [{"rule": "RowCount = joined", "passed": True, "detail": "2500"}]},
        "written_at": "2026-03-02T03:04:05.123456+00:00",
    }
    return SnapshotManifest.from_payload(fields | changes)


def test_version_is_the_export_date_and_a_hash_of_snapshot_and_params() -> None:
    version = model_version(snapshot_manifest(), TrainingParams())

    assert re.fullmatch(r"ref-2026-03-02-[0-9a-f]{10}", version)
    assert model_version(snapshot_manifest(), TrainingParams()) == version


@pytest.mark.parametrize("change", [
    {"written_at": "2026-03-09T03:04:05+00:00"},
    {"code_version": "ba9876543210"},
    {"row_count": 2_499},
    {"run_id": "scheduled__2026-03-02T03:00:00+00:00"},
], ids=lambda change: next(iter(change)))
def test_another_snapshot_of_the_same_date_is_another_version(change: dict[str, Any]) -> None:
    assert model_version(snapshot_manifest(**change), TrainingParams()) != model_version(
        snapshot_manifest(), TrainingParams())


def test_other_training_params_are_another_version() -> None:
    assert model_version(snapshot_manifest(), TrainingParams(dimension=16)) != model_version(
        snapshot_manifest(), TrainingParams())


def test_version_ignores_what_does_not_identify_the_snapshot() -> None:
    assert model_version(snapshot_manifest(spark_version="3.5.5"), TrainingParams()) == model_version(
        snapshot_manifest(), TrainingParams())


def event(export_date: str) -> TrainingSnapshotEvent:
    return TrainingSnapshotEvent(uri=f"s3://lake/ratings_ml_training/export_date={export_date}/", row_count=1,
                                 export_date=export_date)


def test_requested_export_date_wins_over_the_triggering_events() -> None:
    assert snapshot_to_train("2026-01-05", [event("2026-03-02")]) == "2026-01-05"


def test_without_a_requested_date_the_newest_event_is_trained_on() -> None:
    assert snapshot_to_train(None, [event("2026-02-23"), event("2026-03-02")]) == "2026-03-02"


def test_no_date_and_no_event_is_an_error() -> None:
    with pytest.raises(NoSnapshotError, match="export_date"):
        snapshot_to_train(None, [])


# ---------------------------------------------------------------------------- publishing a snapshot from S3

EXPORT_DATE = "2026-03-02"
FAST = {"dimension": 8, "iterations": 3, "refit_iterations": 1}


@pytest.fixture
def bucket(local_stack) -> Iterator[tuple[Any, str]]:
    """One bucket standing in for the data lake and the ML artifacts bucket; removed afterwards."""
    s3 = boto3.client("s3")
    name = f"model-publishing-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield s3, name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for o in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=o["Key"])
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def exported(bucket, snapshot: pa.Table) -> tuple[Any, str]:
    """The synthetic snapshot laid out as the export writes it: Parquet, `_manifest.json`, `_SUCCESS`."""
    s3, name = bucket
    prefix = training_export.snapshot_key(EXPORT_DATE)
    parquet = io.BytesIO()
    pq.write_table(snapshot, parquet)
    s3.put_object(Bucket=name, Key=f"{prefix}/part-00000.snappy.parquet", Body=parquet.getvalue())
    manifest = snapshot_manifest(export_date=EXPORT_DATE, row_count=snapshot.num_rows)
    s3.put_object(Bucket=name, Key=f"{prefix}/{training_export.MANIFEST}",
                  Body=manifest.model_dump_json(by_alias=True).encode())
    s3.put_object(Bucket=name, Key=f"{prefix}/{training_export.MARKER}", Body=b"")
    return s3, name


def publish_exported(s3: Any, name: str) -> Publication:
    return publish_snapshot(s3, data_lake_bucket=name, ml_artifacts_bucket=name, export_date=EXPORT_DATE, **FAST)


def objects(s3: Any, bucket: str, prefix: str) -> dict[str, tuple[str, Any]]:
    page = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return {o["Key"].removeprefix(prefix): (o["ETag"], o["LastModified"]) for o in page.get("Contents", [])}


@pytest.mark.stack
def test_snapshot_is_published_as_a_complete_version(exported, snapshot: pa.Table) -> None:
    s3, name = exported

    publication = publish_exported(s3, name)

    prefix = f"models/{publication.version}/"
    assert publication.written and publication.uri == f"s3://{name}/{prefix}"
    assert publication.version.startswith(f"ref-{EXPORT_DATE}-")
    assert set(objects(s3, name, prefix)) == {
        "item_embeddings.csv", "user_embeddings.csv", "user_feature_model.json", "user_feature_model.npz", MANIFEST}
    manifest = ModelManifest.from_payload(s3.get_object(Bucket=name, Key=prefix + MANIFEST)["Body"].read())
    assert manifest == publication.manifest
    assert manifest.version == publication.version and manifest.dimension == FAST["dimension"]
    assert manifest.created_at == "2026-03-02T03:04:05.123456+00:00"  # the snapshot's, not the clock's
    assert manifest.training_snapshot == f"s3://{name}/ratings_ml_training/export_date={EXPORT_DATE}/"
    assert manifest.rows.users == len(set(snapshot.column("customerNumber").to_pylist()))
    for file_name, entry in manifest.files.items():
        assert entry.sha256 == sha256(s3.get_object(Bucket=name, Key=prefix + file_name)["Body"].read()).hexdigest()


@pytest.mark.stack
def test_rerun_publishes_the_same_version_and_leaves_it_untouched(exported) -> None:
    s3, name = exported
    first = publish_exported(s3, name)
    before = objects(s3, name, "models/")
    time.sleep(1.1)  # a rewrite would show in LastModified (S3 keeps whole seconds)

    again = publish_exported(s3, name)

    assert again.version == first.version and not again.written
    assert again.manifest == first.manifest
    assert objects(s3, name, "models/") == before


@pytest.mark.stack
def test_rerun_after_a_try_died_before_the_manifest_writes_the_same_bytes(exported) -> None:
    # GIVEN a version whose files were written but whose manifest was not (the try died in between)
    s3, name = exported
    first = publish_exported(s3, name)
    prefix = f"models/{first.version}/"
    manifest_bytes = s3.get_object(Bucket=name, Key=prefix + MANIFEST)["Body"].read()
    s3.delete_object(Bucket=name, Key=prefix + MANIFEST)
    files = objects(s3, name, prefix)
    time.sleep(1.1)

    # WHEN the task runs again
    again = publish_exported(s3, name)

    # THEN it trains the same bytes (the files already there are not uploaded again) and completes the version
    # with the same manifest
    assert again.written and again.version == first.version
    assert {key: o for key, o in objects(s3, name, prefix).items() if key != MANIFEST} == files
    assert s3.get_object(Bucket=name, Key=prefix + MANIFEST)["Body"].read() == manifest_bytes


@pytest.mark.stack
def test_a_published_version_with_other_files_is_never_overwritten(exported) -> None:
    s3, name = exported
    first = publish_exported(s3, name)
    prefix = f"models/{first.version}/"
    files = dict(first.manifest.files)
    files["user_embeddings.csv"] = files["user_embeddings.csv"].model_copy(update={"sha256": "0" * 64})
    tampered = first.manifest.model_copy(update={"files": files})
    s3.put_object(Bucket=name, Key=prefix + MANIFEST, Body=tampered.model_dump_json().encode())
    before = objects(s3, name, prefix)

    with pytest.raises(VersionConflictError, match=r"other user_embeddings\.csv:"):
        publish_exported(s3, name)

    assert objects(s3, name, prefix) == before


@pytest.mark.stack
def test_a_snapshot_without_success_marker_is_not_trained_on(exported) -> None:
    s3, name = exported
    s3.delete_object(Bucket=name, Key=f"{training_export.snapshot_key(EXPORT_DATE)}/{training_export.MARKER}")

    with pytest.raises(training_export.DataQualityError, match="_SUCCESS"):
        publish_exported(s3, name)

    assert objects(s3, name, "models/") == {}
