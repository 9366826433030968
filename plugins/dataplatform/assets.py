"""The data the pipelines produce and consume, declared once (Airflow extension module)."""

from __future__ import annotations

from airflow.sdk import Asset

from dataplatform.config import settings

TRAINING_SNAPSHOT = Asset(
    name="ratings_ml_training",
    uri=f"s3://{settings().data_lake_bucket}/ratings_ml_training/",
    group="training",
)

ML_MODEL_ARTIFACTS = Asset(
    name="ml_model_artifacts",
    uri=f"s3://{settings().ml_artifacts_bucket}/models/",
    group="ml",
)
