"""Publishing a trained model: its files, `manifest.json` and the version they live under.

    models/<version>/item_embeddings.csv        item_i = [q_i, c_i]
    models/<version>/user_embeddings.csv        user_u = [p_u, 1]
    models/<version>/user_feature_model.json    the cold-start model (`cold_start.UserFeatureModel`)
    models/<version>/user_feature_model.npz
    models/<version>/manifest.json              a `handoffs.ModelManifest`, written last: its presence
                                                means the version is complete

**A version is a function of its inputs.** `model_version` derives it from the snapshot (its export date and a
short hash of the snapshot manifest's identity: Glue run, code version, row count, write time) and the training
parameters, never from the clock; training is seeded and `created_at` is the snapshot's write time, so a retry or
a re-run for the same snapshot produces the same version with byte-identical files. `publish_snapshot` leaves a
complete version with the same checksums as it is (nothing is rewritten, not even its LastModified), re-uploads
only what a try that died before the manifest left missing or different (`s3.put_if_changed`), and refuses to
change a complete version whose files differ: a published version never changes under its readers.

Plain Python: the S3 client is passed in.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from dataplatform import s3 as s3_ops
from dataplatform.batch import training_export
from dataplatform.handoffs import (
    ITEMS_FILE,
    MODEL_MANIFEST_FILE,
    MODELS_PREFIX,
    USERS_FILE,
    Handoff,
    ModelManifest,
    ModelRows,
    SnapshotManifest,
    TrainingSnapshotEvent,
)
from dataplatform.model.training import TrainedModel, TrainingParams, train
from dataplatform.vectordb.embeddings_file import embeddings_csv_bytes

ITEM_EMBEDDINGS = ITEMS_FILE
USER_EMBEDDINGS = USERS_FILE
USER_FEATURE_MODEL_JSON = "user_feature_model.json"
USER_FEATURE_MODEL_NPZ = "user_feature_model.npz"
MANIFEST = MODEL_MANIFEST_FILE
"""Written last: its presence means the other four files of the version are complete."""

MODEL_NAME = "reference-als"
SIMILARITY = {
    "user_to_item": "inner product (pgvector <#>): user=[p_u, 1], item=[q_i, c_i], higher is better",
    "item_to_item": "cosine (pgvector <=>)",
}
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class NoSnapshotError(ValueError):
    """A run was given no snapshot to train on."""


class VersionConflictError(RuntimeError):
    """The version is already published with other files; a published version never changes."""


@dataclass(frozen=True, eq=False)
class ModelArtifacts:
    """A model version's files and its manifest, ready to write."""

    files: dict[str, bytes]
    manifest: ModelManifest

    @property
    def manifest_bytes(self) -> bytes:
        return self.manifest.model_dump_json(indent=2, exclude_none=True).encode("utf-8")

    def write(self, writer: Callable[[str, bytes], None]) -> None:
        """Every file through `writer(relative_name, content)`, `manifest.json` last."""
        for name, content in self.files.items():
            writer(name, content)
        writer(MANIFEST, self.manifest_bytes)


def package(
    model: TrainedModel,
    version: str,
    *,
    training_snapshot: str,
    created_at: datetime | None = None,
    snapshot: dict[str, Any] | None = None,
) -> ModelArtifacts:
    """The files of `model` and the manifest describing them (`snapshot`: the snapshot's identity, if known)."""
    if not _VERSION.fullmatch(version):
        raise ValueError(f"version {version!r} must match {_VERSION.pattern}")
    model_json, model_npz = model.user_features.to_files()
    files = {
        ITEM_EMBEDDINGS: embeddings_csv_bytes(model.item_ids, model.item_vectors),
        USER_EMBEDDINGS: embeddings_csv_bytes(model.user_ids, model.user_vectors),
        USER_FEATURE_MODEL_JSON: model_json,
        USER_FEATURE_MODEL_NPZ: model_npz,
    }
    extra: dict[str, Any] = {"snapshot": snapshot} if snapshot is not None else {}
    manifest = ModelManifest.describe(
        version=version,
        dimension=model.dimension,
        files=files,
        rows=ModelRows(items=len(model.item_ids), users=len(model.user_ids)),
        model=MODEL_NAME,
        created_at=(created_at or datetime.now(UTC)).isoformat(),
        training_snapshot=training_snapshot,
        metrics=model.report.as_dict() if model.report else None,
        similarity=SIMILARITY,
        global_mean_rating=model.global_mean,
        params=asdict(model.params),
        **extra,
    )
    return ModelArtifacts(files=files, manifest=manifest)


def publish(
    model: TrainedModel,
    writer: Callable[[str, bytes], None],
    version: str,
    *,
    training_snapshot: str,
    created_at: datetime | None = None,
) -> ModelManifest:
    """Write the artifact files through `writer(relative_name, content)`, `manifest.json` last.

    The caller maps names to storage (e.g. `models/<version>/<name>` in the ML artifacts bucket).
    `training_snapshot` says which snapshot trained the model (e.g. its S3 URI). Returns the manifest.
    """
    artifacts = package(model, version, training_snapshot=training_snapshot, created_at=created_at)
    artifacts.write(writer)
    return artifacts.manifest


# ------------------------------------------------------------------------------- versions from snapshots


def snapshot_identity(snapshot: SnapshotManifest) -> dict[str, Any]:
    """What tells one snapshot from another: a re-export of the same date is a new run written at a new time."""
    return {
        "export_date": snapshot.export_date,
        "run_id": snapshot.run_id,
        "code_version": snapshot.code_version,
        "row_count": snapshot.row_count,
        "written_at": snapshot.written_at,
    }


def model_version(snapshot: SnapshotManifest, params: TrainingParams) -> str:
    """`ref-<export_date>-<hash>`: the same snapshot and parameters always give the same version."""
    identity = {"model": MODEL_NAME, "snapshot": snapshot_identity(snapshot), "params": asdict(params)}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()[:10]
    return f"ref-{snapshot.export_date}-{digest}"


def snapshot_to_train(export_date: str | None, events: Sequence[TrainingSnapshotEvent]) -> str:
    """The requested export date, else the newest snapshot event's."""
    if export_date:
        return export_date
    if events:
        return events[-1].export_date
    raise NoSnapshotError('no export_date given and no training snapshot event triggered this run: '
                          'trigger with {"export_date": "YYYY-MM-DD"}')


class Publication(Handoff):
    """What `publish_snapshot` did (the training task's XCom). `written` is False when the version was already
    complete with the same files and was left as it was."""

    version: str
    uri: str
    written: bool
    training_seconds: float
    manifest: ModelManifest


def read_snapshot_manifest(s3: Any, bucket: str, export_date: str) -> SnapshotManifest:
    key = f"{training_export.snapshot_key(export_date)}/{training_export.MANIFEST}"
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return SnapshotManifest.from_payload(body, source=f"s3://{bucket}/{key}")


def _published_manifest(s3: Any, bucket: str, key: str) -> ModelManifest | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return ModelManifest.from_payload(body, source=f"s3://{bucket}/{key}")


def publish_snapshot(
    s3: Any, *, data_lake_bucket: str, ml_artifacts_bucket: str, export_date: str, **params: Any
) -> Publication:
    """Train on the validated snapshot of `export_date` and publish `models/<version>/` in the ML artifacts bucket.

    `params` override `TrainingParams` fields. Raises `training_export.DataQualityError` for a snapshot that did
    not pass its gate and `VersionConflictError` when the version exists with other files.
    """
    table = training_export.read_snapshot_table(s3, data_lake_bucket, export_date)  # checks the gate
    snapshot = read_snapshot_manifest(s3, data_lake_bucket, export_date)
    settings = TrainingParams(**params)
    version = model_version(snapshot, settings)
    model = train(table, **asdict(settings))
    artifacts = package(
        model,
        version,
        training_snapshot=f"s3://{data_lake_bucket}/{training_export.snapshot_key(export_date)}/",
        created_at=datetime.fromisoformat(snapshot.written_at),
        snapshot=snapshot_identity(snapshot),
    )
    prefix = f"{MODELS_PREFIX}{version}/"
    uri = f"s3://{ml_artifacts_bucket}/{prefix}"
    published = _published_manifest(s3, ml_artifacts_bucket, prefix + MANIFEST)
    if published is not None:
        if published.files != artifacts.manifest.files:
            differing = sorted(n for n in published.files.keys() | artifacts.manifest.files.keys()
                               if published.files.get(n) != artifacts.manifest.files.get(n))
            raise VersionConflictError(
                f"{uri} is already published with other {', '.join(differing)}: a published version never "
                "changes. The same snapshot and parameters trained different bytes (changed model code, or another "
                "numpy/BLAS build?); delete the version to publish it again, or train with other parameters")
        return Publication(version=version, uri=uri, written=False, training_seconds=model.training_seconds,
                           manifest=published)
    artifacts.write(lambda name, body: s3_ops.put_if_changed(s3, ml_artifacts_bucket, prefix + name, body))
    return Publication(version=version, uri=uri, written=True, training_seconds=model.training_seconds,
                       manifest=artifacts.manifest)
