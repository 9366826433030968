"""embeddings_load end to end: moto artifacts bucket, MariaDB source, real pgvector, through dag.test()."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from dataplatform.config import settings
from dataplatform.handoffs import ModelManifest, ModelRows
from dataplatform.vectordb import store as vector_store
from dataplatform.vectordb.embeddings_file import embeddings_csv_bytes

pytestmark = pytest.mark.stack
DAG = "embeddings_load"


@pytest.fixture(scope="module")
def catalogue(seeded_source, source_db_admin) -> tuple[list[str], list[int]]:
    import MySQLdb

    conn = MySQLdb.connect(**source_db_admin, database="classicmodels")
    cur = conn.cursor()
    cur.execute("SELECT productCode FROM products ORDER BY 1")
    products = [r[0] for r in cur.fetchall()]
    cur.execute("SELECT customerNumber FROM customers ORDER BY 1")
    customers = [r[0] for r in cur.fetchall()]
    conn.close()
    return products, customers


def files(catalogue, dim: int = 8, seed: int = 0) -> dict[str, bytes]:
    products, customers = catalogue
    rng = np.random.default_rng(seed)
    return {
        "item_embeddings.csv": embeddings_csv_bytes(products, rng.normal(size=(len(products), dim)).astype("f4")),
        "user_embeddings.csv": embeddings_csv_bytes(customers, rng.normal(size=(len(customers), dim)).astype("f4")),
    }


def publish(s3, content: dict[str, bytes], version: str | None = None, dimension: int = 8) -> str:
    """Upload the files, then their manifest (last), as a publisher does."""
    version = version or f"v{uuid.uuid4().hex[:10]}"
    for name, body in content.items():
        s3.put_object(Bucket=settings().ml_artifacts_bucket, Key=f"models/{version}/{name}", Body=body)
    manifest = ModelManifest.describe(version=version, dimension=dimension, files=content, model="test",
                                      rows=ModelRows(items=max(0, content["item_embeddings.csv"].count(b"\n") - 1),
                                                     users=max(0, content["user_embeddings.csv"].count(b"\n") - 1)))
    s3.put_object(Bucket=settings().ml_artifacts_bucket, Key=f"models/{version}/manifest.json",
                  Body=manifest.model_dump_json().encode())
    return version


def live(pg_conn) -> dict | None:
    return vector_store.live_version(pg_conn)


def test_published_version_is_validated_loaded_and_made_live(run_dag, catalogue, s3, pg_conn) -> None:
    version = publish(s3, files(catalogue, dim=8))
    state, tasks, results = run_dag(DAG, {"version": version})
    assert state == "success", tasks
    assert tasks["rollback_live_model"] == "skipped"
    now = live(pg_conn)
    assert now["version"] == version and now["dimension"] == 8
    assert results["verify_live_model"]["version"] == version
    n_items = pg_conn.execute("SELECT count(*) FROM item_embeddings").fetchone()[0]
    assert n_items == len(catalogue[0])
    # WHEN the same version is triggered again THEN nothing changes: no new tables, no new model_versions row
    before = catalogue_state(pg_conn)
    state, tasks, _ = run_dag(DAG, {"version": version})
    assert state == "success" and tasks["load_embeddings"] == "skipped"
    assert catalogue_state(pg_conn) == before


def catalogue_state(pg_conn) -> tuple[list, list]:
    """The vector store's tables and model_versions rows, to compare before and after a run."""
    tables = pg_conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                             "ORDER BY 1").fetchall()
    rows = pg_conn.execute("SELECT * FROM model_versions ORDER BY version").fetchall()
    pg_conn.commit()
    return tables, rows


def _mutate(content: bytes, how: str) -> bytes:
    lines = content.decode().splitlines(keepends=True)
    if how == "other_dimension":
        ident = lines[3].split(",", 1)[0]
        lines[3] = f'{ident},"[1,2,3]"\n'
    elif how == "nan":
        ident = lines[2].split(",", 1)[0]
        lines[2] = f'{ident},"[{",".join(["NaN"] * 8)}]"\n'
    elif how == "duplicate_id":
        lines[5] = lines[4]
    elif how == "unknown_product":
        lines[2] = "S99_9999," + lines[2].split(",", 1)[1]
    elif how == "empty":
        lines = []
    elif how == "missing_header":
        lines = lines[1:]
    elif how == "truncated_last_line":
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
    return "".join(lines).encode()


@pytest.mark.parametrize(("how", "expected"), [
    ("other_dimension", r"line 4"),
    ("nan", r"line 3"),
    ("duplicate_id", r"line 6"),
    ("unknown_product", r"S99_9999"),
    ("empty", r"empty"),
    ("missing_header", r"header"),
    ("truncated_last_line", r"line"),
])
def test_bad_item_file_fails_validation_and_keeps_the_live_version(
        run_dag, task_tries, catalogue, s3, pg_conn, alerts, how, expected) -> None:
    if live(pg_conn) is None:
        assert run_dag(DAG, {"version": publish(s3, files(catalogue, dim=8))})[0] == "success"
    good = live(pg_conn)["version"]
    content = files(catalogue, dim=8, seed=1)
    content["item_embeddings.csv"] = _mutate(content["item_embeddings.csv"], how)
    bad = publish(s3, content)
    state, tasks, _ = run_dag(DAG, {"version": bad})
    assert state == "failed"
    assert tasks["validate_embeddings"] == "failed" and tasks["load_embeddings"] == "upstream_failed"
    assert task_tries(DAG)["validate_embeddings"] == 1  # a bad file is not retried
    assert live(pg_conn)["version"] == good
    messages = [m for m in alerts() if "validate_embeddings" in m]
    assert messages and "item_embeddings.csv" in messages[0], messages
    import re

    assert re.search(expected, messages[0], re.IGNORECASE), messages[0]


def test_dimension_can_change_between_versions_and_rollback_restores(run_dag, catalogue, s3, pg_conn) -> None:
    v1 = publish(s3, files(catalogue, dim=8))
    v2 = publish(s3, files(catalogue, dim=16, seed=2), dimension=16)
    assert run_dag(DAG, {"version": v1})[0] == "success"
    assert run_dag(DAG, {"version": v2})[0] == "success"
    assert live(pg_conn)["dimension"] == 16
    state, tasks, results = run_dag(DAG, {"rollback": True})
    assert state == "success" and tasks["resolve_model_version"] == "skipped"
    assert results["rollback_live_model"]["live"] == v1 == live(pg_conn)["version"]
    assert run_dag(DAG, {"rollback": True, "rollback_to": v2})[0] == "success"
    assert live(pg_conn)["version"] == v2


def test_flat_layout_loads_once(run_dag, catalogue, s3, pg_conn) -> None:
    for name, body in files(catalogue, dim=8, seed=3).items():
        s3.put_object(Bucket=settings().ml_artifacts_bucket, Key=f"embeddings/{name}", Body=body)
    state, tasks, _ = run_dag(DAG)
    assert state == "success", tasks
    assert live(pg_conn)["version"].startswith("flat-")
