"""
# reference_model_training

Trains the **reference recommender** (the stand-in for the data scientist's model: matrix factorisation
with a product-line prior, plus a user-feature model for unseen customers; numpy only) on the newest
validated training snapshot and publishes it to the ML artifacts bucket in the versioned layout:
`s3://<prefix>-ml-artifacts/models/<version>/` with `item_embeddings.csv`, `user_embeddings.csv`,
`user_feature_model.json|.npz` and `manifest.json` (written last; it carries the metrics against the
global-mean and most-popular baselines). Publishing updates the `ml_model_artifacts` Asset, which starts
`embeddings_load`.

Runs when `training_data_export` publishes a snapshot (Asset schedule), or by hand with `export_date`.
The data scientist's own models skip this DAG: they upload to the same layout and trigger `embeddings_load`.

**Owner:** data-platform. **Runbook:** a failure names the snapshot; re-trigger with its `export_date`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import airflow.providers.amazon.aws.assets.s3  # noqa: F401 - s3:// Asset URIs; the DAG processor pre-imports it once
from airflow.sdk import Param, dag, task

from dataplatform.batch import training_export
from dataplatform.config import settings
from dataplatform.orchestration.assets import ML_MODEL_ARTIFACTS, TRAINING_SNAPSHOT
from dataplatform.orchestration.connections import aws_client
from dataplatform.orchestration.dag_defaults import default_args


@dag(
    schedule=[TRAINING_SNAPSHOT],
    start_date=datetime(2026, 1, 5),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    params={"export_date": Param(None, type=["null", "string"], format="date",
                                 description="Snapshot to train on; empty = the one that triggered the run")},
    tags=["ml", "reference-model"],
    doc_md=__doc__,
)
def reference_model_training():
    s = settings()

    @task(outlets=[ML_MODEL_ARTIFACTS])
    def train_reference_model(params=None, triggering_asset_events=None, outlet_events=None) -> dict:
        from dataplatform.model import publishing, training  # numpy + pyarrow: imported when training, not at parse

        events = (triggering_asset_events or {}).get(TRAINING_SNAPSHOT, [])
        export_date = params["export_date"] or (events[-1].extra["export_date"] if events else None)
        if not export_date:
            raise ValueError("no export_date given and no training snapshot event triggered this run")
        s3 = aws_client("s3")
        model = training.train(training_export.read_snapshot_table(s3, s.data_lake_bucket, export_date))
        version = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-ref-{export_date}"
        manifest = publishing.publish(
            model,
            lambda name, body: s3.put_object(Bucket=s.ml_artifacts_bucket, Key=f"models/{version}/{name}", Body=body),
            version,
            training_snapshot=f"s3://{s.data_lake_bucket}/{training_export.snapshot_key(export_date)}/",
        )
        outlet_events[ML_MODEL_ARTIFACTS].extra = {"version": version}
        return {"version": version, "dimension": manifest.dimension, "rows": manifest.rows.payload(),
                "metrics": manifest.metrics}

    train_reference_model()


reference_model_training()
