"""The steps of the `embeddings_load` DAG, each a function of clients and connections (plain Python).

resolve (which version, and is it live already) -> validate (files against the source) -> load (its own tables)
-> swap -> verify. What one step hands the next crosses XCom as `handoffs.ArtifactSet` / `handoffs.ValidatedModel`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dataplatform.handoffs import ArtifactSet, ModelArtifactsEvent, ValidatedModel
from dataplatform.vectordb import artifacts as model_artifacts
from dataplatform.vectordb import store
from dataplatform.vectordb.artifacts import ValidatedEmbeddings

DETERMINISTIC_ERRORS: tuple[type[Exception], ...] = (ValueError,)
"""A bad file (EmbeddingsFileError), a malformed manifest (HandoffError), a checksum mismatch: all ValueErrors,
all fixed only by publishing again, so the task fails at once instead of retrying."""


class ArtifactsChangedError(ValueError):
    """The files changed between validation and loading."""


def requested_version(param: str | None, event_extras: Sequence[Mapping[str, Any]]) -> str | None:
    """The `version` param, else the version the newest triggering `ml_model_artifacts` event names."""
    if param:
        return param
    return ModelArtifactsEvent.from_payload(event_extras[-1], source="the ml_model_artifacts event").version \
        if event_extras else None


def resolve(s3: Any, pg: Any, bucket: str, requested: str | None) -> tuple[ArtifactSet, bool]:
    """The artifact set to load and whether it is live already (then there is nothing to do)."""
    artifacts = model_artifacts.resolve(s3, bucket, requested)
    store.ensure_schema(pg)
    live = store.live_version(pg)
    return artifacts, bool(live and live["version"] == artifacts.version)


def validate(s3: Any, source: Any, artifacts: ArtifactSet, min_product_coverage: float
             ) -> tuple[ArtifactSet, ValidatedEmbeddings]:
    """Read the manifest and both files and check them against the source's products and customers."""
    artifacts = model_artifacts.with_manifest(s3, artifacts)
    products, customers = model_artifacts.known_ids(source)
    return artifacts, model_artifacts.read_validated(
        s3, artifacts, known_products=products, known_customers=customers, min_product_coverage=min_product_coverage)


def summary(artifacts: ArtifactSet, embeddings: ValidatedEmbeddings) -> ValidatedModel:
    return ValidatedModel(version=artifacts.version, dimension=embeddings.items.dimension,
                          items=len(embeddings.items), users=len(embeddings.users), sha256=embeddings.sha256)


def load(pg: Any, artifacts: ArtifactSet, embeddings: ValidatedEmbeddings, validated: ValidatedModel
         ) -> store.LoadResult:
    """Load exactly what was validated into the version's own tables (the live version is untouched)."""
    if embeddings.sha256 != validated.sha256:
        raise ArtifactsChangedError(f"{artifacts.version}: files changed since validation; re-run to validate them")
    return store.load_version(
        pg, artifacts.version, embeddings.items, embeddings.users,
        source_uris={name: artifacts.uri(name) for name in (model_artifacts.ITEMS, model_artifacts.USERS)},
        metrics=artifacts.manifest.metrics if artifacts.manifest else None)


def go_live(pg: Any, version: str) -> list[str]:
    """Swap the version live, then prune old versions; returns the pruned ones."""
    store.swap_live(pg, version)
    return store.prune(pg)
