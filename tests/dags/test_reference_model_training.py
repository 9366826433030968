"""reference_model_training as DAG runs on the test stack, on a snapshot `training_data_export` wrote to moto."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dataplatform import s3 as s3_ops
from dataplatform.config import settings
from dataplatform.handoffs import ModelArtifactsEvent, ModelManifest, Snapshot
from dataplatform.model.publishing import MANIFEST, Publication

pytestmark = [pytest.mark.stack, pytest.mark.spark]
DAG = "reference_model_training"
FILES = {"item_embeddings.csv", "user_embeddings.csv", "user_feature_model.json", "user_feature_model.npz", MANIFEST}


@pytest.fixture
def published(s3) -> Iterator[list[str]]:
    """The versions a test published (append them); removed afterwards, so no test sees another's."""
    versions: list[str] = []
    yield versions
    bucket = settings().ml_artifacts_bucket
    for version in versions:
        s3_ops.delete_keys(s3, bucket, s3_ops.list_keys(s3, bucket, f"models/{version}/"))


def train(run_dag, conf: dict[str, Any]) -> Publication:
    state, tasks, results = run_dag(DAG, conf)
    assert state == "success", tasks
    return Publication.from_payload(results["train_reference_model"])


def objects(s3, version: str) -> dict[str, tuple[str, Any, str]]:
    """{file name: (ETag, LastModified, sha256 of the content)} of a published version."""
    bucket, prefix = settings().ml_artifacts_bucket, f"models/{version}/"
    return {
        o["Key"].removeprefix(prefix): (
            o["ETag"], o["LastModified"],
            hashlib.sha256(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()).hexdigest())
        for o in s3_ops.list_objects(s3, bucket, prefix)
    }


def model_artifacts_events() -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return [e.extra for e in session.query(AssetEvent).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                .filter(AssetModel.name == "ml_model_artifacts")]


def test_trains_on_the_snapshot_and_publishes_a_complete_version(
        run_dag, exported_snapshot: Snapshot, s3, published: list[str]) -> None:
    # WHEN the DAG runs for the exported snapshot
    publication = train(run_dag, {"export_date": exported_snapshot.export_date})
    published.append(publication.version)

    # THEN models/<version>/ holds the four files and the manifest that describes them
    assert publication.version.startswith(f"ref-{exported_snapshot.export_date}-") and publication.written
    stored = objects(s3, publication.version)
    assert set(stored) == FILES
    manifest = ModelManifest.from_payload(s3.get_object(
        Bucket=settings().ml_artifacts_bucket, Key=f"models/{publication.version}/{MANIFEST}")["Body"].read())
    assert manifest == publication.manifest and manifest.version == publication.version
    assert manifest.training_snapshot == exported_snapshot.uri
    assert manifest.model_extra is not None
    assert manifest.model_extra["snapshot"]["row_count"] == exported_snapshot.row_count
    assert {name: entry.sha256 for name, entry in manifest.files.items()} == {
        name: sha for name, (_, _, sha) in stored.items() if name != MANIFEST}
    assert manifest.metrics is not None and manifest.metrics["holdout_ratings"] > 0
    # AND the Asset event names the version for embeddings_load
    assert ModelArtifactsEvent(version=publication.version).payload() in model_artifacts_events()


def test_rerun_for_the_same_snapshot_publishes_the_same_version_untouched(
        run_dag, exported_snapshot: Snapshot, s3, published: list[str]) -> None:
    first = train(run_dag, {"export_date": exported_snapshot.export_date})
    published.append(first.version)
    before = objects(s3, first.version)
    time.sleep(1.1)  # a rewrite would show in LastModified

    again = train(run_dag, {"export_date": exported_snapshot.export_date})

    assert again.version == first.version and not again.written
    assert objects(s3, again.version) == before


def test_retraining_the_same_snapshot_writes_byte_identical_files(
        run_dag, exported_snapshot: Snapshot, s3, published: list[str]) -> None:
    # GIVEN a published version, then removed as if it had never been written
    first = train(run_dag, {"export_date": exported_snapshot.export_date})
    published.append(first.version)
    before = objects(s3, first.version)
    bucket = settings().ml_artifacts_bucket
    s3_ops.delete_keys(s3, bucket, s3_ops.list_keys(s3, bucket, f"models/{first.version}/"))

    # WHEN the DAG trains on the same snapshot again
    again = train(run_dag, {"export_date": exported_snapshot.export_date})

    # THEN it writes the same version with the same bytes (ETag and sha256), the manifest included
    assert again.version == first.version and again.written
    assert {name: (etag, sha) for name, (etag, _, sha) in objects(s3, again.version).items()} == {
        name: (etag, sha) for name, (etag, _, sha) in before.items()}


def test_run_without_export_date_or_snapshot_event_fails_once(run_dag, task_tries, alerts, s3) -> None:
    before = set(s3_ops.list_keys(s3, settings().ml_artifacts_bucket, "models/"))

    state, tasks, _ = run_dag(DAG, {})

    assert state == "failed" and tasks["train_reference_model"] == "failed"
    assert task_tries(DAG)["train_reference_model"] == 1
    assert set(s3_ops.list_keys(s3, settings().ml_artifacts_bucket, "models/")) == before
    assert any("train_reference_model" in m and "no export_date given" in m for m in alerts())
