"""
# reference_model_training

Trains the **reference recommender** (the stand-in for the data scientist's model: matrix factorisation
with a product-line prior, plus a user-feature model for unseen customers; numpy only) on a validated
training snapshot and publishes it to the ML artifacts bucket in the versioned layout:
`s3://<prefix>-ml-artifacts/models/<version>/` with `item_embeddings.csv`, `user_embeddings.csv`,
`user_feature_model.json|.npz` and `manifest.json` (written last; it carries the metrics against the
global-mean and most-popular baselines). Publishing updates the `ml_model_artifacts` Asset, which starts
`embeddings_load`.

**Inputs:** the `ratings_ml_training` Asset event of `training_data_export` (Asset schedule), or the
`export_date` param when triggered by hand. **Outputs:** `models/<version>/`, and the Asset event naming the
version. The version is `ref-<export_date>-<hash of the snapshot and the training parameters>`: training is
seeded, so a retry or a re-run for the same snapshot publishes the same version with the same bytes, and a
version already complete is left untouched.

The data scientist's own models skip this DAG: they upload to the same layout and trigger `embeddings_load`.

**Owner:** data-platform. **Runbook:** a failure names the snapshot. No snapshot, a snapshot that failed its
quality gate, or a version already published with other files fail at once (no retries): re-trigger with the
right `export_date`, or re-run `training_data_export` for it first.

**SLA:** a run not finished **1 h** after it was queued (`DATAPLATFORM_REFERENCE_MODEL_TRAINING_DEADLINE_SECONDS`,
default 3600) sends an SLA-miss alert to the SNS alerts topic naming the DAG, the run, the deadline and the run's
state: the week's model, and so the recommendations, stay on last week's data until it publishes.
"""

from __future__ import annotations

from datetime import datetime

import airflow.providers.amazon.aws.assets.s3  # noqa: F401 - s3:// Asset URIs; the DAG processor pre-imports it once
from airflow.sdk import Param, dag, task

from dataplatform.batch.training_export import DataQualityError
from dataplatform.handoffs import HandoffError, ModelArtifactsEvent, TrainingSnapshotEvent
from dataplatform.orchestration.assets import ML_MODEL_ARTIFACTS, TRAINING_SNAPSHOT
from dataplatform.orchestration.connections import aws_client
from dataplatform.orchestration.dag_defaults import MACROS, configured, default_args, no_retry_on
from dataplatform.orchestration.deadlines import sla_miss_alert


@dag(
    schedule=[TRAINING_SNAPSHOT],
    start_date=datetime(2026, 1, 5),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    user_defined_macros=MACROS,
    params={"export_date": Param(None, type=["null", "string"], format="date",
                                 description="Snapshot to train on; empty = the one that triggered the run")},
    deadline=sla_miss_alert("reference_model_training"),
    tags=["ml", "reference-model"],
    doc_md=__doc__,
)
def reference_model_training():

    @task(outlets=[ML_MODEL_ARTIFACTS])
    def train_reference_model(params=None, triggering_asset_events=None, outlet_events=None) -> dict:
        from dataplatform.model import publishing  # numpy + pyarrow: paid when training, not at parse

        s = configured()
        with no_retry_on(HandoffError, publishing.NoSnapshotError, DataQualityError,
                         publishing.VersionConflictError):
            events = [TrainingSnapshotEvent.from_payload(event.extra, source=f"{TRAINING_SNAPSHOT.name} event")
                      for event in (triggering_asset_events or {}).get(TRAINING_SNAPSHOT, [])]
            publication = publishing.publish_snapshot(
                aws_client("s3"),
                data_lake_bucket=s.data_lake_bucket,
                ml_artifacts_bucket=s.ml_artifacts_bucket,
                export_date=publishing.snapshot_to_train(params["export_date"], events),
            )
        outlet_events[ML_MODEL_ARTIFACTS].extra = ModelArtifactsEvent(version=publication.version).payload()
        return publication.payload()

    train_reference_model()


reference_model_training()
