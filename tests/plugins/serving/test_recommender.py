"""The recommender on the real PostgreSQL + pgvector and moto of the local stack."""

from __future__ import annotations

import threading
import time

import numpy as np
import psycopg
import pytest

from dataplatform.serving.models import FallbackReason, UserActivityEvent
from dataplatform.serving.recommender import Recommender, ServingOptions
from dataplatform.vectordb import store
from tests.plugins.serving.conftest import event, load_model, publish_popular

pytestmark = pytest.mark.stack


def parse(payload: dict) -> UserActivityEvent:
    return UserActivityEvent.model_validate(payload)


def ids(items) -> list[str]:
    return [i.id for i in items]


@pytest.fixture(params=["lists", "in_process", "in_process_profiles", "hnsw"])
def options(request) -> ServingOptions:
    """The ways of answering k-NN: from the live version's neighbour lists in process (the default); without them,
    everything by scans of its vectors in process; profiles in process and similar items by HNSW (a large
    catalogue); everything by HNSW in PostgreSQL (while the vectors load)."""
    return ServingOptions(deadline_seconds=5.0, budget_seconds=5.0,  # correctness here, not timing
                          in_process_items=0 if request.param == "hnsw" else 200_000,
                          in_process_similar_items=0 if request.param == "in_process_profiles" else 25_000,
                          neighbour_lists=request.param == "lists")


def make(connect, options: ServingOptions, **kwargs) -> Recommender:
    """A recommender warmed like a Lambda container (its item matrix loaded, if in process)."""
    recommender = Recommender(connect, options=options, **kwargs)
    recommender.warm()
    return recommender


def test_known_customer_gets_the_best_items_by_inner_product_without_cart_items(conninfo, loader, options) -> None:
    # GIVEN a live version, and a customer with a stored vector whose two best items are in the cart
    model = load_model(loader, "v1")
    best = model.exact_top(model.vector_of(101), 2)
    recommender = make(conninfo, options)
    # WHEN the customer's event is answered
    record = recommender.recommend(parse(event(101, [(best[0], True), (best[1], True)])))
    # THEN the items are the best by inner product except the cart, best first, with their scores
    expected = model.exact_top(model.vector_of(101), 10, exclude=set(best))
    assert len(set(ids(record.recommended_items)) & set(expected)) >= 9
    assert not set(best) & set(ids(record.recommended_items))
    scores = [i.score for i in record.recommended_items]
    assert scores == sorted(scores, reverse=True)
    got = {i.id: i.score for i in record.recommended_items}
    np.testing.assert_allclose(list(got.values()),
                               [float(model.items.vectors[model.items.ids.index(c)] @ model.vector_of(101))
                                for c in got], rtol=1e-4)
    assert (record.model_version, record.fallback, record.fallback_reason) == ("v1", False, None)


def test_a_cart_longer_than_the_neighbour_list_is_still_answered_exactly(conninfo, loader, options) -> None:
    # GIVEN a customer whose 45 best items are all in the cart: the 50-item list of their best items cannot leave
    # 10 (with lists, this one is answered by the exact scan)
    model = load_model(loader, "v1")
    cart = model.exact_top(model.vector_of(101), 45)
    recommender = make(conninfo, options)
    # WHEN the customer's event is answered
    record = recommender.recommend(parse(event(101, [(code, True) for code in cart])))
    # THEN the 10 items are the best after the cart (exactly, in process; HNSW may miss one)
    expected = model.exact_top(model.vector_of(101), 10, exclude=set(cart))
    if options.in_process_items:
        assert ids(record.recommended_items) == expected
    else:
        assert len(set(ids(record.recommended_items)) & set(expected)) >= 9
    assert not record.fallback


def test_unknown_customer_gets_the_user_feature_models_vector(conninfo, loader, s3, bucket, options) -> None:
    # GIVEN a version published with its user-feature model
    model = load_model(loader, "v1", s3=s3, bucket=bucket)
    recommender = make(conninfo, options, s3=s3)
    # WHEN a customer without a stored vector (999) browses
    record = recommender.recommend(parse(event(999, city="Paris", country="France", credit_limit=20_000)))
    # THEN the items are those of the vector the feature model predicts from city, country and credit limit
    vector = model.features.predict("Paris", "France", 20_000)
    assert len(set(ids(record.recommended_items)) & set(model.exact_top(vector, 10))) >= 9
    assert not record.fallback and record.model_version == "v1"
    # and a known customer still gets their own vector, not the feature model's
    known = recommender.recommend(parse(event(101, city="Paris", country="France", credit_limit=20_000)))
    assert len(set(ids(known.recommended_items)) & set(model.exact_top(model.vector_of(101), 10))) >= 9


def test_unknown_customer_without_a_feature_model_gets_popular_products_and_similar_items(
        conninfo, loader, options) -> None:
    model = load_model(loader, "v1")  # flat layout: no user-feature model
    publish_popular(loader, {"Spain": ["S10_0005", "S10_0006"], "*": ["S10_0001", "S10_0002", "S10_0003"]})
    recommender = make(conninfo, options)
    record = recommender.recommend(parse(event(999, [("S10_0002", True), ("S10_0100", False)])))
    assert ids(record.recommended_items) == ["S10_0005", "S10_0006", "S10_0001", "S10_0003"]  # cart item left out
    assert record.fallback and record.fallback_reason == FallbackReason.NO_USER_VECTOR == "no_user_vector"
    assert record.model_version == "v1"
    assert [s.product_code for s in record.similar_items] == ["S10_0002", "S10_0100"]
    assert ids(record.similar_items[0].similar_items)[:3] == model.exact_similar(
        "S10_0002", 3, exclude={"S10_0100"})


def test_similar_items_are_cart_first_merged_deduplicated_and_never_a_browsed_item(conninfo, loader, options) -> None:
    # GIVEN two nearly identical browsed products (their neighbours coincide), one of them in the cart
    model = load_model(loader, "v1", n_items=400)
    near = model.exact_similar("S10_0010", 1)[0]
    history = [("S10_0010", False), ("S10_0200", False), (near, True), ("S10_0010", False)]
    record = make(conninfo, options).recommend(parse(event(101, history)))
    # THEN one entry per distinct browsed product, the cart's first, then the most recent; no item twice, none
    # of the browsed products, each list nearest first
    assert [s.product_code for s in record.similar_items] == [near, "S10_0010", "S10_0200"]
    suggested = [i for s in record.similar_items for i in ids(s.similar_items)]
    assert len(suggested) == len(set(suggested))
    assert not set(suggested) & {"S10_0010", "S10_0200", near}
    assert all(len(s.similar_items) == 5 for s in record.similar_items)
    for entry in record.similar_items:
        distances = [i.distance for i in entry.similar_items]
        assert distances == sorted(distances)
    assert ids(record.similar_items[0].similar_items)[0] == model.exact_similar(
        near, 1, exclude={"S10_0010", "S10_0200"})[0]


def test_empty_history_and_cart_only_and_unknown_products(conninfo, loader, options) -> None:
    load_model(loader, "v1")
    recommender = make(conninfo, options)
    empty = recommender.recommend(parse(event(101, [])))
    assert empty.similar_items == [] and len(empty.recommended_items) == 10 and not empty.fallback
    cart_only = recommender.recommend(parse(event(101, [("S10_0001", True), ("S10_0002", True)])))
    assert [s.product_code for s in cart_only.similar_items] == ["S10_0001", "S10_0002"]
    assert not {"S10_0001", "S10_0002"} & set(ids(cart_only.recommended_items))
    unknown = recommender.recommend(parse(event(101, [("ZZ_9999", False)])))
    assert [(s.product_code, s.similar_items) for s in unknown.similar_items] == [("ZZ_9999", [])]


def test_history_of_500_items_is_capped_and_answered(conninfo, loader, options) -> None:
    load_model(loader, "v1")
    history = [(f"S10_{i % 400:04d}", i % 97 == 0) for i in range(500)]
    record = make(conninfo, options).recommend(parse(event(101, history)))
    assert len(record.browse_history) == 50 and record.history_dropped == 450
    assert len(record.similar_items) == options.max_similar_sources
    assert not set(record.cart) & set(ids(record.recommended_items)) and len(record.recommended_items) == 10


def test_hostile_city_is_only_ever_data(conninfo, loader, s3, bucket, options) -> None:
    load_model(loader, "v1", s3=s3, bucket=bucket)
    hostile = "x'); DROP TABLE model_versions; --"
    record = make(conninfo, options, s3=s3).recommend(parse(event(999, city=hostile)))
    assert record.city == hostile and len(record.recommended_items) == 10 and not record.fallback
    assert store.live_version(loader)["version"] == "v1"


def test_before_any_version_is_live_every_answer_is_the_popular_fallback(conninfo, loader, options) -> None:
    publish_popular(loader, {"*": ["S10_0001", "S10_0002"]})
    record = make(conninfo, options).recommend(parse(event(101, [("S10_0001", True)])))
    assert ids(record.recommended_items) == ["S10_0002"] and record.similar_items == []
    assert record.fallback and record.fallback_reason == "no_live_model" and record.model_version is None


class CountingCursor(psycopg.Cursor):
    statements: list[str] = []

    def execute(self, query, params=None, **kwargs):  # type: ignore[override]
        CountingCursor.statements.append(str(query)[:60])
        return super().execute(query, params, **kwargs)


def test_a_batch_is_answered_in_a_few_statements_not_one_per_record(conninfo, loader, options) -> None:
    # GIVEN a recommender whose connection counts the statements it runs (after a first answer: live version
    # resolved, popular products loaded)
    load_model(loader, "v1")

    def connect() -> psycopg.Connection:
        conn = psycopg.connect(conninfo, autocommit=True)
        conn.cursor_factory = CountingCursor
        return conn

    recommender = make(connect, options)
    recommender.recommend(parse(event(101, [("S10_0001", False)])))
    assert (recommender.status()["in_process"] is not None) == (options.in_process_items > 0)
    CountingCursor.statements.clear()
    # WHEN a batch of 300 events (known and unknown customers, carts, histories) is answered
    events = [parse(event(100 + i % 90, [(f"S10_{(7 * i + j) % 400:04d}", j == 0) for j in range(i % 6)],
                          session=f"s-{i}")) for i in range(300)]
    records = recommender.recommend_batch(events)
    # THEN in order, one per event, with one round trip at most (no live-version lookup within its cache time):
    # none with the version in memory, 2 statements (read limits, similar items) with similar items by HNSW,
    # 3 (read limits, profiles, similar items) with everything by HNSW
    assert [r.session_id for r in records] == [e.session_id for e in events]
    expected = 3 if options.in_process_items == 0 else 2 if options.in_process_similar_items == 0 else 0
    assert len(CountingCursor.statements) == expected, CountingCursor.statements
    # and each record is what a single answer gives
    single = make(conninfo, options)
    for i in (0, 5, 97, 299):
        alone = single.recommend(events[i])
        assert ids(alone.recommended_items) == ids(records[i].recommended_items)
        np.testing.assert_allclose([x.score for x in alone.recommended_items],
                                   [x.score for x in records[i].recommended_items], rtol=1e-5)  # BLAS gemm vs gemv
        assert [(s.product_code, ids(s.similar_items)) for s in alone.similar_items] == [
            (s.product_code, ids(s.similar_items)) for s in records[i].similar_items]


def test_a_swap_in_the_middle_of_batches_never_mixes_versions_in_one_answer(conninfo, loader, options) -> None:
    # GIVEN two versions of the same catalogue with different vectors, and a recommender that re-resolves the
    # live version on every batch
    models = {v: load_model(loader, v, seed=s, live=False) for v, s in (("v1", 1), ("v2", 2))}
    store.swap_live(loader, "v1")
    recommender = make(conninfo, ServingOptions(deadline_seconds=5.0, budget_seconds=5.0, live_cache_seconds=0.0,
                                                in_process_items=options.in_process_items,
                                                in_process_similar_items=options.in_process_similar_items,
                                                neighbour_lists=options.neighbour_lists))
    events = [parse(event(100 + i, [(f"S10_{i:04d}", False)], session=f"s-{i}")) for i in range(40)]
    stop = threading.Event()

    def swapper() -> None:
        while not stop.is_set():
            for version in ("v2", "v1"):
                store.swap_live(loader, version)
                time.sleep(0.01)

    thread = threading.Thread(target=swapper)
    thread.start()
    seen = set()
    try:
        # WHEN batches are answered while the versions are swapped back and forth
        for _ in range(25):
            records = recommender.recommend_batch(events)
            # THEN every record of a batch names the same version, and its items and similar items are that
            # version's
            versions = {r.model_version for r in records}
            assert len(versions) == 1, versions
            model = models[versions.pop()]
            seen.add(model.version)
            for e, r in zip(events, records, strict=True):
                scores = [i.score for i in r.recommended_items]
                expected = [float(model.items.vectors[model.items.ids.index(i.id)] @ model.vector_of(
                    e.customer_number)) for i in r.recommended_items]
                np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)
                first = r.similar_items[0].similar_items[0]
                source = model.items.vectors[model.items.ids.index(r.similar_items[0].product_code)]
                vector = model.items.vectors[model.items.ids.index(first.id)]
                cosine = 1 - source @ vector / np.linalg.norm(source) / np.linalg.norm(vector)
                assert abs(cosine - first.distance) < 1e-4
    finally:
        stop.set()
        thread.join()
    assert seen == {"v1", "v2"}


def test_from_env_reads_the_dsn_or_a_secrets_manager_secret(conninfo, loader) -> None:
    import json
    import secrets as tokens

    import boto3
    from psycopg.conninfo import conninfo_to_dict

    load_model(loader, "v1")
    from_dsn = Recommender.from_env({"DATAPLATFORM_VECTOR_DSN": conninfo, "DATAPLATFORM_SERVING_DEADLINE_MS": "150"})
    assert from_dsn.options.deadline_seconds == 0.15
    from_dsn.warm()  # as the Lambda does at init: the first request then needs no database
    assert from_dsn.recommend(parse(event(101))).model_version == "v1"
    # a secret in the RDS format (no search_path in it: the answer comes from the database's default schema, so
    # only the connection is checked here)
    params = conninfo_to_dict(conninfo)
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name=f"test-serving-{tokens.token_hex(4)}", SecretString=json.dumps({
        "engine": "postgres", "host": params["host"], "port": int(params["port"]), "username": params["user"],
        "password": params["password"], "dbname": params["dbname"]}))["ARN"]
    try:
        from_secret = Recommender.from_env({"DATAPLATFORM_VECTOR_SECRET_ARN": arn})
        from_secret.warm()
        error = from_secret.status()["last_error"] or ""
        assert "connection" not in error and "authentication" not in error, error
    finally:
        client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ValueError, match="DATAPLATFORM_VECTOR_DSN"):
        Recommender.from_env({})


def test_a_cached_version_dropped_by_hand_is_resolved_again(conninfo, loader) -> None:
    # GIVEN a recommender on the HNSW reads that resolved v1 and trusts that for a minute
    load_model(loader, "v1")
    load_model(loader, "v2", seed=5, live=False)
    recommender = make(conninfo, ServingOptions(deadline_seconds=5.0, budget_seconds=5.0, in_process_items=0,
                                                live_cache_seconds=60.0))
    assert recommender.recommend(parse(event(101))).model_version == "v1"
    # WHEN v2 goes live and an operator drops v1's tables at once, ignoring the grace period
    store.swap_live(loader, "v2")
    assert store.prune(loader, keep=0, retired_grace=0) == ["v1"]
    # THEN the next answer comes from v2, not from an error or the fallback
    record = recommender.recommend(parse(event(101, [("S10_0001", False)])))
    assert (record.model_version, record.fallback) == ("v2", False)
