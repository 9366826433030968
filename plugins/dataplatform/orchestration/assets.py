"""The data the pipelines produce and consume, declared once (Airflow extension module).

Assets are identified by name; the URI says where the data lives in this environment (a placeholder bucket when
a DAG file is parsed without configuration: its tasks then fail at start anyway)."""

from __future__ import annotations

from airflow.sdk import Asset

from dataplatform.config import parse_time

TRAINING_SNAPSHOT = Asset(
    name="ratings_ml_training",
    uri=f"s3://{parse_time().data_lake_bucket}/ratings_ml_training/",
    group="training",
)

ML_MODEL_ARTIFACTS = Asset(
    name="ml_model_artifacts",
    uri=f"s3://{parse_time().ml_artifacts_bucket}/models/",
    group="ml",
)
