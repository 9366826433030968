"""When the database is down, stopped or slow, every record is still answered (Ok from the popular-products
fallback, flagged); when the live model is swapped while batches are answered, no answer mixes two versions."""

from __future__ import annotations

import contextlib
import secrets
import select
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import boto3
import numpy as np
import psycopg
import pytest
from firehose_events import (
    COUNTRIES,
    CUSTOMERS,
    PRODUCTS,
    cold_start,
    decoded,
    event_json,
    firehose_event,
    invoke,
    item,
)
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dataplatform.serving.popular import PopularProductsCopy
from dataplatform.vectordb import store
from devstack.streaming.pipeline import function_environment

pytestmark = pytest.mark.stack
REGION = "eu-west-1"


class TcpProxy:
    """A TCP forwarder in front of PostgreSQL that a test can cut (connections reset, new ones refused) or stall
    (bytes stop flowing, as with a stopped server or a black-holed network)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.stalled = threading.Event()
        self.pipes: list[socket.socket] = []
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.pipes += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError):
            while True:
                ready, _, _ = select.select([a, b], [], [], 0.1)
                if self.stalled.is_set():
                    continue
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)

    def cut(self) -> None:
        self.up.clear()
        for sock in self.pipes:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self.pipes.clear()

    def restore(self) -> None:
        self.stalled.clear()
        self.up.set()

    def close(self) -> None:
        self.closing = True
        self.cut()
        self.listener.close()


@pytest.fixture
def proxy(vector_db) -> Iterator[TcpProxy]:
    params = conninfo_to_dict(vector_db.conninfo)
    p = TcpProxy(str(params["host"]), int(params["port"]))
    yield p
    p.close()


@pytest.fixture(scope="module")
def popular_copy(local_stack) -> Iterator[str]:
    """The popular-products copy the batch refresh publishes to S3, for a process that never reached the DB."""
    s3 = boto3.client("s3", region_name=REGION)
    bucket = f"t-{secrets.token_hex(4)}-data-lake"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    rows = [(country, code) for country in [*COUNTRIES, "*"] for code in reversed(PRODUCTS[-20:])]
    copy = PopularProductsCopy.from_ranked(rows, date(2026, 11, 29))
    s3.put_object(Bucket=bucket, Key="popular_products/popular_products.json", Body=copy.model_dump_json())
    yield f"s3://{bucket}/popular_products/popular_products.json"
    s3.delete_object(Bucket=bucket, Key="popular_products/popular_products.json")
    s3.delete_bucket(Bucket=bucket)


def batch(n: int = 40) -> dict[str, Any]:
    payloads: list[Any] = [event_json(CUSTOMERS[i], country=COUNTRIES[i % 3],
                                      history=[item(PRODUCTS[-1 - i % 3], cart=True), item(PRODUCTS[i])])
                           for i in range(n)]
    payloads[5] = b"not json"
    return firehose_event(payloads)


def assert_all_answered_from_the_fallback(answer, event: dict[str, Any], reason: str = "database_unavailable") -> None:
    records = answer.response["records"]
    assert [r["recordId"] for r in records] == [r["recordId"] for r in event["records"]]
    assert records[5]["result"] == "ProcessingFailed"
    for out in records[:5] + records[6:]:
        assert out["result"] == "Ok"
        record = decoded(out)
        assert record["fallback"] is True and record["fallback_reason"] == reason
        assert record["model_version"] is None and record["similar_items"] == []
        cart = {i["product_code"] for i in record["browse_history"] if i["in_shopping_cart"]}
        ids = [r["id"] for r in record["recommended_items"]]
        assert len(ids) == 10 and not set(ids) & cart


def test_database_down_at_cold_start_answers_every_record_from_the_s3_copy(vector_db, popular_copy) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        dead_port = closed.getsockname()[1]
    dead = make_conninfo(vector_db.conninfo, port=dead_port)
    handler = cold_start({**function_environment(dead), "DATAPLATFORM_POPULAR_COPY_URI": popular_copy})
    event = batch()
    started = time.monotonic()
    answer = invoke(handler, event)
    assert time.monotonic() - started < 3
    assert_all_answered_from_the_fallback(answer, event)
    first = decoded(answer.response["records"][0])  # the copy's ranking, its cart item (PRODUCTS[-1]) left out
    assert [r["id"] for r in first["recommended_items"]] == list(reversed(PRODUCTS[-11:-1]))


def test_database_lost_after_warm_up_answers_from_the_ranking_in_memory(vector_db, proxy: TcpProxy) -> None:
    handler = cold_start(function_environment(make_conninfo(vector_db.conninfo, host="127.0.0.1", port=proxy.port)))
    warm = invoke(handler, batch())
    assert {decoded(r)["model_version"] for r in warm.response["records"] if r["result"] == "Ok"} == {"v1"}
    proxy.cut()
    memory = invoke(handler, batch())  # the live version confirmed < live_cache_seconds ago: no database needed
    assert {decoded(r)["model_version"] for r in memory.response["records"] if r["result"] == "Ok"} == {"v1"}
    time.sleep(handler.recommender.options.live_cache_seconds)  # now the live version must be confirmed again
    event = batch()
    assert_all_answered_from_the_fallback(invoke(handler, event), event)
    proxy.restore()
    time.sleep(handler.recommender.options.retry_after_seconds + 0.1)
    again = invoke(handler, batch())
    assert {decoded(r)["model_version"] for r in again.response["records"] if r["result"] == "Ok"} == {"v1"}


def test_database_stalled_answers_within_the_batch_deadline(vector_db, proxy: TcpProxy) -> None:
    handler = cold_start(function_environment(make_conninfo(vector_db.conninfo, host="127.0.0.1", port=proxy.port)))
    invoke(handler, batch())  # warm: connected, ranking in memory
    proxy.stalled.set()  # a stopped server: the connection stays open, nothing comes back
    time.sleep(handler.recommender.options.live_cache_seconds)  # past the fast path: the live version is asked for
    event = batch()
    started = time.monotonic()
    answer = invoke(handler, event, timeout_seconds=3.0)  # the deadline follows the function's remaining time
    elapsed = time.monotonic() - started
    assert elapsed < 3.0
    assert_all_answered_from_the_fallback(answer, event)


def exact_score(vectors, customer: int, code: str) -> float:
    items, users = vectors
    return float(np.dot(users[customer], items[code]))


def test_a_swap_in_the_middle_of_batches_never_mixes_versions(vector_db, handler_module) -> None:
    vectors = {v: vector_db.vectors(v) for v in vector_db.versions}
    stop = threading.Event()
    hold: list[str | None] = [None]
    swaps = [0]

    def swapper() -> None:
        """Swaps every 50 ms; while `hold` names a version, keeps that one live (so a reader's 5-second cache of the
        live version is sure to pick it up)."""
        with psycopg.connect(vector_db.conninfo, autocommit=True) as conn:
            live = "v1"
            while not stop.is_set():
                wanted = hold[0] or ("v2" if live == "v1" else "v1")
                if wanted != live:
                    store.swap_live(conn, wanted)
                    live = wanted
                    swaps[0] += 1
                time.sleep(0.05)
            store.swap_live(conn, "v1")

    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    seen: list[str] = []
    deadline = time.monotonic() + 40
    try:
        while time.monotonic() < deadline and (len(set(seen)) < 2 or len(seen) < 8):
            if seen and len(set(seen)) == 1 and len(seen) >= 3:
                hold[0] = "v2" if seen[0] == "v1" else "v1"
            elif len(set(seen)) == 2:
                hold[0] = None
            event = firehose_event([event_json(CUSTOMERS[i % len(CUSTOMERS)],
                                               history=[item(PRODUCTS[(i * 7 + j) % len(PRODUCTS)]) for j in range(3)])
                                    for i in range(400)])
            answer = invoke(handler_module, event)
            records = [decoded(r) for r in answer.response["records"]]
            assert all(r["result"] == "Ok" for r in answer.response["records"])
            versions = {r["model_version"] for r in records}
            assert len(versions) == 1, versions  # one batch, one version
            version = versions.pop()
            seen.append(version)
            items, _ = vectors[version]
            for record in records:  # and every number comes from that version's vectors
                for rec in record["recommended_items"]:
                    assert rec["score"] == pytest.approx(exact_score(vectors[version], record["customer_number"],
                                                                     rec["id"]), abs=1e-4)
                for entry in record["similar_items"]:
                    a = items[entry["product_code"]]
                    for n in entry["similar_items"]:
                        b = items[n["id"]]
                        expected = 1 - float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
                        assert n["distance"] == pytest.approx(expected, abs=1e-4)
    finally:
        stop.set()
        thread.join()
    assert swaps[0] > 10
    assert set(seen) == {"v1", "v2"}, seen  # the swaps were seen, batch by batch
