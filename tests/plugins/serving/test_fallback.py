"""The fallback when the database is down, stopped or slow: every request answered within 300 ms.

These tests run their own throwaway PostgreSQL (the stack's `start_postgres` on another port and state folder),
so stopping it (pg_ctl stop, SIGSTOP) freezes nobody else; "slow" is a TCP proxy in front of it that delays the
server's replies. The popular-products copy lives on the stack's moto S3.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from dataplatform.batch import popular_products
from dataplatform.serving.live import LIVE_CACHE_SECONDS
from dataplatform.serving.models import UserActivityEvent
from dataplatform.serving.recommender import Recommender, S3Location, ServingOptions
from dataplatform.vectordb import store
from devstack import stack
from devstack.connections import StackConnections
from tests.plugins.serving.conftest import event, load_model, publish_popular

pytestmark = pytest.mark.stack
BUDGET = 0.3
POPULAR = {"Spain": ["S10_0005", "S10_0006"], "*": ["S10_0001", "S10_0002", "S10_0003", "S10_0004"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((stack.HOST, 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    """A PostgreSQL + pgvector only these tests use: stop it, freeze it, slow it down."""

    def __init__(self, state_dir: Path) -> None:
        self.cfg = dataclasses.replace(stack.StackConfig.from_env(), state_dir=state_dir, pg_port=free_port())
        self.secrets = stack.load_secrets(self.cfg)
        self.data = state_dir / "postgres" / "data"

    @property
    def conninfo(self) -> str:
        return StackConnections(self.cfg, self.secrets).vector_conninfo()

    def start(self) -> None:
        stack.start_postgres(self.cfg, self.secrets)

    def stop(self) -> None:
        subprocess.run(stack._as_pg_user([stack.pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
                       capture_output=True, check=True)

    def pids(self) -> list[int]:
        """The postmaster (from its pid file) and its children: only this cluster's processes."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def signal(self, sig: signal.Signals) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


class DelayProxy:
    """A TCP proxy to the database that holds every reply `delay` seconds (a slow or overloaded server)."""

    def __init__(self, target_port: int) -> None:
        self.delay = 0.0
        self.target = (stack.HOST, target_port)
        self.server = socket.create_server((stack.HOST, 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, upstream, 0.0), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, None), daemon=True).start()

    def _pipe(self, source: socket.socket, dest: socket.socket, delay: float | None) -> None:
        try:
            while data := source.recv(65536):
                if delay is None and self.delay:
                    time.sleep(self.delay)
                dest.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, dest):
                s.close()

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="module")
def pg(local_stack) -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres(local_stack.state_dir / f"throwaway-pg-{os.getpid()}")
    try:
        server.start()
        with psycopg.connect(server.conninfo, autocommit=True) as conn:
            store.ensure_schema(conn)
            load_model(conn, "v1")
            publish_popular(conn, POPULAR)
        yield server
    finally:  # also when the setup failed: never leave the throwaway server running
        with contextlib.suppress(OSError, subprocess.CalledProcessError, ValueError):
            server.signal(signal.SIGCONT)
            server.stop()
        shutil.rmtree(server.cfg.state_dir, ignore_errors=True)


@pytest.fixture
def running(pg: ThrowawayPostgres) -> Iterator[ThrowawayPostgres]:
    """The throwaway database, up and unfrozen before and after the test."""
    pg.start()
    yield pg
    pg.signal(signal.SIGCONT)
    pg.start()


def request(i: int = 0) -> UserActivityEvent:
    return UserActivityEvent.model_validate(event(101 + i % 5, [("S10_0002", True), ("S10_0100", False)],
                                                  session=f"s-{i}"))


def answered_quickly_from_the_fallback(recommender: Recommender, n: int, popular: list[str]) -> list[float]:
    """`n` requests, paced like a user's clicks; each within the budget, from the fallback. Returns the times."""
    times = []
    for i in range(n):
        started = time.perf_counter()
        record = recommender.recommend(request(i))
        times.append(time.perf_counter() - started)
        assert record.fallback and record.fallback_reason == "database_unavailable", record
        assert [r.id for r in record.recommended_items] == popular
        assert record.similar_items == [] and record.model_version is None
        time.sleep(0.05)
    assert max(times) < BUDGET, times
    return times


def recovers(recommender: Recommender, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = recommender.recommend(request())
        if not record.fallback:
            assert record.model_version == "v1" and len(record.recommended_items) == recommender.options.k
            return
        time.sleep(0.2)
    raise AssertionError(f"still falling back after {timeout} s: {recommender.status()}")


SPAIN_WITHOUT_CART = ["S10_0005", "S10_0006", "S10_0001", "S10_0003", "S10_0004"]


CONFIRM_EVERY_REQUEST = ServingOptions(k=5, live_cache_seconds=0.0)
"""Every request confirms the live version with the database, so every request meets its failure. (By default a
confirmation holds `LIVE_CACHE_SECONDS`, and requests in between need no database at all when the version's
vectors are in memory: `test_with_the_default_cache_answers_come_from_memory_then_from_the_fallback`.)"""


def warmed(conninfo: str, options: ServingOptions = CONFIRM_EVERY_REQUEST, **kwargs) -> Recommender:
    recommender = Recommender(conninfo, options=options, **kwargs)
    recommender.warm()
    assert not recommender.recommend(request()).fallback  # the database answered: popular ranking in memory
    return recommender


def test_database_down_every_request_is_answered_within_300ms_from_the_fallback(running) -> None:
    recommender = warmed(running.conninfo)
    running.stop()
    times = answered_quickly_from_the_fallback(recommender, 30, SPAIN_WITHOUT_CART)
    print(f"database down: slowest answer {max(times) * 1e3:.0f} ms")
    running.start()
    recovers(recommender)


def test_with_the_default_cache_answers_come_from_memory_then_from_the_fallback(running) -> None:
    # GIVEN a warm recommender with the default cache of the live version (its vectors in memory)
    recommender = warmed(running.conninfo, ServingOptions(k=5))
    assert "customers, lists: item neighbours" in recommender.status()["in_process"]
    # WHEN the database stops
    running.signal(signal.SIGSTOP)
    answers, times = [], []
    deadline = time.monotonic() + LIVE_CACHE_SECONDS + 2
    while time.monotonic() < deadline:
        started = time.perf_counter()
        answers.append(recommender.recommend(request(len(answers))))
        times.append(time.perf_counter() - started)
        time.sleep(0.1)
    running.signal(signal.SIGCONT)
    # THEN every answer is in time: first the live version's, from memory, until the cache needs the database
    # again, then the fallback
    assert max(times) < BUDGET, times
    kinds = [("fallback" if a.fallback else a.model_version) for a in answers]
    first_fallback = kinds.index("fallback")
    assert first_fallback > 0 and set(kinds[:first_fallback]) == {"v1"} and set(kinds[first_fallback:]) == {"fallback"}
    recovers(recommender)


def test_database_stopped_every_request_is_answered_within_300ms_from_the_fallback(running) -> None:
    recommender = warmed(running.conninfo)
    running.signal(signal.SIGSTOP)  # established connections and new ones hang: no error, no answer
    times = answered_quickly_from_the_fallback(recommender, 40, SPAIN_WITHOUT_CART)
    print(f"database stopped: slowest answer {max(times) * 1e3:.0f} ms, {recommender.status()}")
    running.signal(signal.SIGCONT)
    recovers(recommender)


def test_database_slow_every_request_is_answered_within_300ms_from_the_fallback(running) -> None:
    proxy = DelayProxy(running.cfg.pg_port)
    try:
        recommender = warmed(running.conninfo.replace(f"port={running.cfg.pg_port}", f"port={proxy.port}"))
        proxy.delay = 1.0
        times = answered_quickly_from_the_fallback(recommender, 30, SPAIN_WITHOUT_CART)
        print(f"database slow: slowest answer {max(times) * 1e3:.0f} ms")
        proxy.delay = 0.0
        recovers(recommender)
    finally:
        proxy.close()


@pytest.fixture
def copy_location(s3, bucket) -> S3Location:
    """The ranking's JSON copy, published by the batch code to the test bucket (different from the table's
    ranking, to tell them apart)."""
    rows = [popular_products.Popularity(c, code, 10 - i, 10 - i, 10 - i)
            for c, codes in {"Spain": ["S10_0009"], "*": ["S10_0007", "S10_0008", "S10_0002"]}.items()
            for i, code in enumerate(codes)]
    uri = popular_products.publish_copy(s3, bucket, popular_products.COPY_KEY, rows, date(2026, 11, 23))
    return S3Location.from_uri(uri)


FROM_COPY = ["S10_0009", "S10_0007", "S10_0008"]


@pytest.mark.parametrize("warm", [True, False], ids=["warmed", "first-request"])
def test_cold_start_with_the_database_down_reads_the_ranking_copy_from_s3(s3, copy_location, warm) -> None:
    unreachable = f"host={stack.HOST} port={free_port()} user=x password=x dbname=x"
    recommender = Recommender(unreachable, popular_copy=copy_location, s3=s3, options=CONFIRM_EVERY_REQUEST)
    if warm:
        recommender.warm()
    times = answered_quickly_from_the_fallback(recommender, 10, FROM_COPY)
    assert recommender.status()["popular_source"] == copy_location.uri
    print(f"cold start, database down ({'warmed' if warm else 'first request'}): slowest {max(times) * 1e3:.0f} ms")


def test_cold_start_with_the_database_stopped_answers_the_first_request_from_the_copy(running, s3,
                                                                                        copy_location) -> None:
    running.signal(signal.SIGSTOP)
    recommender = Recommender(running.conninfo, popular_copy=copy_location, s3=s3, options=CONFIRM_EVERY_REQUEST)
    times = answered_quickly_from_the_fallback(recommender, 10, FROM_COPY)
    print(f"cold start, database stopped: slowest {max(times) * 1e3:.0f} ms")
    running.signal(signal.SIGCONT)
    recovers(recommender)
