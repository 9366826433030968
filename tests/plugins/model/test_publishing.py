"""Publishing the reference model: files, manifest and versions (`dataplatform.model.publishing`)."""

from __future__ import annotations

import io
from hashlib import sha256

import numpy as np
import pyarrow as pa
import pytest

from dataplatform.handoffs import ModelManifest
from dataplatform.model.cold_start import UserFeatureModel
from dataplatform.model.publishing import MANIFEST, publish
from dataplatform.model.training import TrainedModel
from dataplatform.vectordb.embeddings_file import check_pair, read_embeddings


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
