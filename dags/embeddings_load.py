"""
# embeddings_load

Loads a published model version's embeddings into PostgreSQL + pgvector and makes it live atomically.

1. `choose_action`: load (default) or roll back (`rollback: true`, optional `rollback_to`).
2. `resolve_model_version`: the `version` param, else the one the `ml_model_artifacts` Asset event names,
   else the newest complete version in `s3://<prefix>-ml-artifacts/` (`models/<version>/` or the flat
   `embeddings/` layout). Already live: the run stops here (reruns are no-ops).
3. `wait_for_artifacts`: deferrable S3 sensor on the version's `manifest.json` (written last).
4. `validate_embeddings`: header, id types, one dimension across both files (read from the data), finite
   numbers, unique ids, items that exist in `products`, users in `customers`, product coverage >=
   `min_product_coverage`, manifest checksums. The error names file, line and problem. Nothing changed yet.
5. `load_embeddings`: binary COPY into the version's own tables, HNSW indexes, ANALYZE (live untouched).
6. `swap_live_embeddings`: one transaction repoints the `item_embeddings` / `user_embeddings` views and
   `model_versions.is_live`: readers see the old version or the new one, never an empty or partial table.
7. `verify_live_model`: the live version, its counts and a nearest-neighbour query answer as expected.

**Owner:** data-platform (the data scientist publishes). **Runbook:** a bad file fails step 4 with the
lines to fix; re-publish and re-trigger. Roll back: trigger with `{"rollback": true}`.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import Param, chain, dag, task

from dataplatform.config import settings
from dataplatform.orchestration.assets import ML_MODEL_ARTIFACTS
from dataplatform.orchestration.connections import aws_client, source_hook, vector_hook
from dataplatform.orchestration.dag_defaults import default_args, no_retry_on


@dag(
    schedule=[ML_MODEL_ARTIFACTS],
    start_date=datetime(2026, 1, 5),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    params={
        "version": Param(None, type=["null", "string"], description="Model version to load; empty = newest"),
        "min_product_coverage": Param(0.9, type="number", minimum=0, maximum=1,
                                      description="Share of catalogue products that must have an embedding"),
        "rollback": Param(False, type="boolean", description="Roll back instead of loading"),
        "rollback_to": Param(None, type=["null", "string"], description="Version to roll back to; "
                             "empty = the one live before the current"),
    },
    tags=["ml", "vector-db", "pgvector"],
    doc_md=__doc__,
)
def embeddings_load():
    """Task bodies import `model_artifacts` and `vector_store` (numpy, psycopg) themselves: not paid at parse."""
    s = settings()

    @task.branch
    def choose_action(params=None) -> str:
        return "rollback_live_model" if params["rollback"] else "resolve_model_version"

    @task.short_circuit
    def resolve_model_version(params=None, triggering_asset_events=None, ti=None) -> bool:
        from dataplatform.vectordb import artifacts as model_artifacts
        from dataplatform.vectordb import store as vector_store

        events = (triggering_asset_events or {}).get(ML_MODEL_ARTIFACTS, [])
        requested = params["version"] or (events[-1].extra.get("version") if events else None)
        artifacts = model_artifacts.resolve(aws_client("s3"), s.ml_artifacts_bucket, requested)
        ti.xcom_push(key="artifacts", value=artifacts.__dict__)
        with vector_hook().get_conn() as pg:
            vector_store.ensure_schema(pg)
            live = vector_store.live_version(pg)
        if live and live["version"] == artifacts.version:
            print(f"{artifacts.version} is already live: nothing to do")
            return False
        return True

    wait_for_artifacts = S3KeySensor(
        task_id="wait_for_artifacts",
        bucket_name=s.ml_artifacts_bucket,
        bucket_key="{{ ti.xcom_pull(task_ids='resolve_model_version', key='artifacts')['prefix'] }}"
                   "{{ 'manifest.json' if ti.xcom_pull(task_ids='resolve_model_version', key='artifacts')"
                   "['prefix'].startswith('models/') else 'user_embeddings.csv' }}",
        aws_conn_id=s.aws_conn_id,
        deferrable=True,
        poke_interval=60,
        timeout=6 * 3600,
    )

    def _validated(ti, min_coverage: float):
        from dataplatform.vectordb import artifacts as model_artifacts
        from dataplatform.vectordb.embeddings_file import EmbeddingsFileError

        s3 = aws_client("s3")
        artifacts = model_artifacts.with_manifest(
            s3, model_artifacts.ArtifactSet(**ti.xcom_pull(task_ids="resolve_model_version", key="artifacts")))
        with source_hook().get_conn() as source:
            products, customers = model_artifacts.known_ids(source)
        with no_retry_on(EmbeddingsFileError, ValueError):
            return artifacts, model_artifacts.read_validated(
                s3, artifacts, known_products=products, known_customers=customers, min_product_coverage=min_coverage)

    @task
    def validate_embeddings(params=None, ti=None) -> dict:
        artifacts, emb = _validated(ti, params["min_product_coverage"])
        return {"version": artifacts.version, "dimension": emb.items.dimension, "items": len(emb.items),
                "users": len(emb.users), "sha256": emb.sha256}

    @task
    def load_embeddings(validated: dict, params=None, ti=None) -> dict:
        from dataplatform.vectordb import artifacts as model_artifacts
        from dataplatform.vectordb import store as vector_store

        artifacts, emb = _validated(ti, params["min_product_coverage"])
        if emb.sha256 != validated["sha256"]:
            raise ValueError(f"{artifacts.version}: files changed since validation; re-run to validate them")
        with vector_hook().get_conn() as pg:
            result = vector_store.load_version(
                pg, artifacts.version, emb.items, emb.users,
                source_uris={n: artifacts.uri(n) for n in (model_artifacts.ITEMS, model_artifacts.USERS)},
                metrics=(artifacts.manifest or {}).get("metrics"))
        return result.__dict__

    @task
    def swap_live_embeddings(validated: dict) -> str:
        from dataplatform.vectordb import store as vector_store

        with vector_hook().get_conn() as pg:
            vector_store.swap_live(pg, validated["version"])
            vector_store.prune(pg)
        return validated["version"]

    @task
    def verify_live_model(version: str, validated: dict) -> dict:
        from dataplatform.vectordb import store as vector_store

        with vector_hook().get_conn() as pg:
            return vector_store.verify_live(pg, version, items=validated["items"], users=validated["users"])

    @task
    def rollback_live_model(params=None) -> dict:
        from dataplatform.vectordb import store as vector_store

        with vector_hook().get_conn() as pg:
            return {"live": vector_store.rollback(pg, params["rollback_to"])}

    resolved = resolve_model_version()
    validated = validate_embeddings()
    live = swap_live_embeddings(validated)
    choose_action() >> [resolved, rollback_live_model()]
    chain(resolved, wait_for_artifacts, validated, load_embeddings(validated), live, verify_live_model(live, validated))


embeddings_load()
