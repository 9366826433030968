"""Everything that crosses a task, DAG or job boundary, defined once: the writer and the reader import the same
model, so a missing or mistyped field fails with the field's name instead of a `KeyError` three tasks later.

| model | written by | read by |
|---|---|---|
| `SnapshotManifest` | the Glue script (`_manifest.json`, as JSON) | `training_export.validate_snapshot` |
| `TrainingSnapshotEvent` | `validate_snapshot` (Asset event extra) | `reference_model_training` |
| `ModelManifest` | `model.publishing.publish` (`manifest.json`) | `vectordb.artifacts` |
| `ModelArtifactsEvent` | `reference_model_training` (Asset event extra) | `embeddings_load` |
| `ArtifactSet`, `ValidatedModel` | `embeddings_load` tasks (XCom) | the next `embeddings_load` tasks |

Plain Python (pydantic): no Airflow import. XCom and Asset extras carry `model_dump(mode="json")`; readers call
`Model.from_payload(...)`, never index a dict by string keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MODELS_PREFIX, FLAT_PREFIX = "models/", "embeddings/"
ITEMS_FILE, USERS_FILE, MODEL_MANIFEST_FILE = "item_embeddings.csv", "user_embeddings.csv", "manifest.json"


class HandoffError(ValueError):
    """A hand-off payload is missing a field or has one of the wrong type; the message names it."""


class Handoff(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_payload(cls, payload: Any, *, source: str = "") -> Self:
        """Validate a dict (XCom, Asset extra) or JSON text/bytes (a manifest file)."""
        where = f" in {source}" if source else ""
        try:
            if isinstance(payload, str | bytes | bytearray):
                return cls.model_validate_json(payload)
            return cls.model_validate(payload)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors())
            raise HandoffError(f"{cls.__name__}{where} is invalid: {problems}") from exc

    def payload(self) -> dict[str, Any]:
        """What goes into XCom or an Asset event extra (JSON types only)."""
        return self.model_dump(mode="json")


# --- training snapshot ----------------------------------------------------------------------------------------


class QualityRule(Handoff):
    rule: str
    passed: bool
    detail: str


class QualityResult(Handoff):
    passed: bool
    rules: list[QualityRule]

    @property
    def failed(self) -> list[QualityRule]:
        return [r for r in self.rules if not r.passed]


class SnapshotManifest(Handoff):
    """`_manifest.json` of a training snapshot, written by the Glue script (`include/glue/`, which cannot import
    the package: it writes the same fields as plain JSON, and `tests/include/glue` checks it against this)."""

    export_date: str
    row_count: int = Field(ge=0)
    schema_: list[dict[str, Any]] = Field(alias="schema")
    source_row_counts: dict[str, int]
    run_id: str
    job_name: str
    code_version: str
    spark_version: str
    quality: QualityResult
    written_at: str


class Snapshot(Handoff):
    """A validated snapshot: the `validate_snapshot` task's XCom."""

    uri: str
    export_date: str
    row_count: int
    source_row_counts: dict[str, int]
    code_version: str
    new_source_columns: dict[str, list[str]] = Field(default_factory=dict)


class TrainingSnapshotEvent(Handoff):
    """Extra of a `ratings_ml_training` Asset event."""

    uri: str
    row_count: int
    export_date: str


# --- model artifacts ------------------------------------------------------------------------------------------


class ArtifactFile(Handoff):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)
    rows: int | None = None


class ModelRows(Handoff):
    items: int = Field(ge=0)
    users: int = Field(ge=0)


class ModelManifest(Handoff):
    """`models/<version>/manifest.json`, written last: its presence means the version is complete."""

    model_config = ConfigDict(frozen=True, extra="allow")  # a data scientist's manifest may say more

    version: str
    model: str | None = None
    created_at: str | None = None
    training_snapshot: str | None = None
    dimension: int = Field(ge=1)
    rows: ModelRows
    files: dict[str, ArtifactFile]
    metrics: dict[str, Any] | None = None

    def sha256_of(self, name: str) -> str | None:
        file = self.files.get(name)
        return file.sha256 if file else None

    @classmethod
    def describe(cls, *, version: str, dimension: int, files: Mapping[str, bytes], rows: ModelRows,
                 **fields: Any) -> ModelManifest:
        """The manifest of `files` (name -> content): their sha256 and sizes, plus `fields`."""
        return cls(version=version, dimension=dimension, rows=rows, files={
            name: ArtifactFile(sha256=hashlib.sha256(content).hexdigest(), bytes=len(content),
                               rows={ITEMS_FILE: rows.items, USERS_FILE: rows.users}.get(name))
            for name, content in files.items()}, **fields)


class ModelArtifactsEvent(Handoff):
    """Extra of an `ml_model_artifacts` Asset event: which version was published."""

    version: str


class ArtifactSet(Handoff):
    """One model version's files in the ML artifacts bucket (XCom of `resolve_model_version`)."""

    version: str
    bucket: str
    prefix: str  # "models/<version>/" or "embeddings/"
    manifest: ModelManifest | None = None

    def key(self, name: str) -> str:
        return self.prefix + name

    def uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.key(name)}"

    @property
    def versioned(self) -> bool:
        return self.prefix.startswith(MODELS_PREFIX)

    @property
    def ready_key(self) -> str:
        """The object whose presence says the set is complete (the sensor waits for it)."""
        return self.key(MODEL_MANIFEST_FILE if self.versioned else USERS_FILE)


class ValidatedModel(Handoff):
    """XCom of `validate_embeddings`: what was validated, so `load_embeddings` can refuse changed files."""

    version: str
    dimension: int
    items: int
    users: int
    sha256: dict[str, str]
