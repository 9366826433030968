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

**SLA:** a run not finished **1 h** after it was queued (`DATAPLATFORM_EMBEDDINGS_LOAD_DEADLINE_SECONDS`, default
3600) sends an SLA-miss alert to the SNS alerts topic naming the DAG, the run, the deadline and the run's state:
the site keeps recommending from the previous model (or a rollback has not happened). A run triggered by hand
before the files are uploaded waits in `wait_for_artifacts` and alerts at the deadline too.
"""

from __future__ import annotations

from datetime import datetime

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import Param, chain, dag, task

from dataplatform.config import templated
from dataplatform.handoffs import ArtifactSet, ValidatedModel
from dataplatform.orchestration.assets import ML_MODEL_ARTIFACTS
from dataplatform.orchestration.connections import aws_client, source_hook, vector_hook
from dataplatform.orchestration.dag_defaults import MACROS, configured, default_args, no_retry_on
from dataplatform.orchestration.deadlines import sla_miss_alert


@dag(
    schedule=[ML_MODEL_ARTIFACTS],
    start_date=datetime(2026, 1, 5),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    user_defined_macros=MACROS,
    params={
        "version": Param(None, type=["null", "string"], description="Model version to load; empty = newest"),
        "min_product_coverage": Param(0.9, type="number", minimum=0, maximum=1,
                                      description="Share of catalogue products that must have an embedding"),
        "rollback": Param(False, type="boolean", description="Roll back instead of loading"),
        "rollback_to": Param(None, type=["null", "string"], description="Version to roll back to; "
                             "empty = the one live before the current"),
    },
    deadline=sla_miss_alert("embeddings_load"),
    tags=["ml", "vector-db", "pgvector"],
    doc_md=__doc__,
)
def embeddings_load():
    """Task bodies import `vectordb` (numpy, psycopg) themselves: not paid at parse."""

    @task.branch
    def choose_action(params=None) -> str:
        return "rollback_live_model" if params["rollback"] else "resolve_model_version"

    @task.short_circuit
    def resolve_model_version(params=None, triggering_asset_events=None, ti=None) -> bool:
        from dataplatform.vectordb import loading

        events = [e.extra for e in (triggering_asset_events or {}).get(ML_MODEL_ARTIFACTS, [])]
        with no_retry_on(*loading.DETERMINISTIC_ERRORS), vector_hook().get_conn() as pg:
            artifacts, live = loading.resolve(aws_client("s3"), pg, configured().ml_artifacts_bucket,
                                              loading.requested_version(params["version"], events))
        ti.xcom_push(key="artifacts", value=artifacts.payload())
        ti.xcom_push(key="ready_key", value=artifacts.ready_key)
        if live:
            print(f"{artifacts.version} is already live: nothing to do")
        return not live

    wait_for_artifacts = S3KeySensor(
        task_id="wait_for_artifacts",
        bucket_name=templated().ml_artifacts_bucket,
        bucket_key="{{ ti.xcom_pull(task_ids='resolve_model_version', key='ready_key') }}",
        aws_conn_id=templated().aws_conn_id,
        deferrable=True,
        poke_interval=60,
        timeout=6 * 3600,
    )

    def _validated(ti, min_coverage: float):
        from dataplatform.vectordb import loading

        artifacts = ArtifactSet.from_payload(ti.xcom_pull(task_ids="resolve_model_version", key="artifacts"))
        with no_retry_on(*loading.DETERMINISTIC_ERRORS), source_hook().get_conn() as source:
            return loading.validate(aws_client("s3"), source, artifacts, min_coverage)

    @task
    def validate_embeddings(params=None, ti=None) -> dict:
        from dataplatform.vectordb import loading

        return loading.summary(*_validated(ti, params["min_product_coverage"])).payload()

    @task
    def load_embeddings(validated: dict, params=None, ti=None) -> dict:
        from dataplatform.vectordb import loading

        artifacts, embeddings = _validated(ti, params["min_product_coverage"])
        with no_retry_on(loading.ArtifactsChangedError), vector_hook().get_conn() as pg:
            return loading.load(pg, artifacts, embeddings, ValidatedModel.from_payload(validated)).__dict__

    @task
    def swap_live_embeddings(validated: dict) -> str:
        from dataplatform.vectordb import loading

        version = ValidatedModel.from_payload(validated).version
        with vector_hook().get_conn() as pg:
            loading.go_live(pg, version)
        return version

    @task
    def verify_live_model(version: str, validated: dict) -> dict:
        from dataplatform.vectordb import store

        model = ValidatedModel.from_payload(validated)
        with vector_hook().get_conn() as pg:
            return store.verify_live(pg, version, items=model.items, users=model.users)

    @task
    def rollback_live_model(params=None) -> dict:
        from dataplatform.vectordb import store

        with vector_hook().get_conn() as pg:
            return {"live": store.rollback(pg, params["rollback_to"])}

    resolved = resolve_model_version()
    validated = validate_embeddings()
    live = swap_live_embeddings(validated)
    choose_action() >> [resolved, rollback_live_model()]
    chain(resolved, wait_for_artifacts, validated, load_embeddings(validated), live, verify_live_model(live, validated))


embeddings_load()
