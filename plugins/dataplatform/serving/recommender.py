"""The recommender: user-activity events in, recommendation records out, for a whole batch at once.

**Per batch** (`recommend_batch`): one `LiveModel` answers every event (never two versions in one answer). For
each event, "based on your profile" is the customer's stored vector, else the live version's user-feature model
applied to the event's city / country / credit limit (`user_features`), against the items by inner product, cart
items left out; "similar to what you browsed" is, for each of the first `max_similar_sources` browsed products
(cart first, then most recent), its nearest items by cosine distance, merged and de-duplicated across the entries
and never a browsed product itself.

**Where the vectors come from.** The live version's neighbour lists (each item's nearest items, each stored
customer's best items, computed exactly by the loader) and its item and customer vectors are held in process
(`version_matrix`: lookups where a list holds the answer, exact scans for the rest; both faster than HNSW at
10k-100k items, `bench/results/serving_recall.md`, `bench/results/serving.md`), loaded at init and in the
background after a swap. A request then needs the database only to confirm the live version,
once every `live_cache_seconds` (5 s), and to refresh the fallback ranking every `popular_refresh_seconds`; in
between it is answered on the caller's thread without touching the database or the worker (`_from_memory`).
Until a new version's vectors are loaded, or for a catalogue above `in_process_items`, the same answers come from
pgvector's HNSW indexes in one pipelined round trip per batch (`queries.read_batch`); customers beyond
`in_process_users` are looked up in one round trip per batch. Without lists, similar-items answers are cached
per (version, product): a version's items never change.

**Fallback.** When the database does not answer within the deadline (down, stopped, slow, overloaded), the batch
is answered from the popular-products ranking in memory (`popular`: per country, topped up from the overall
ranking, cart items left out) with `fallback=True`, `fallback_reason="database_unavailable"`, no similar items and
no `model_version`; for `retry_after_seconds` after such a failure the database is not tried at all (so a dead
database costs nothing per request). Requests that need no database (a confirmation younger than
`live_cache_seconds`, vectors in memory) are answered from the live version as usual. The ranking in memory comes
from the database, refreshed while it answers; a process that never reached it reads the JSON copy the batch
refresh publishes to S3 (`popular_copy`), in `warm()` (the Lambda's init) or, failing that, within the request's
budget. A customer with neither a stored vector nor a user-feature model gets the popular ranking too
(`no_user_vector`), with the version's similar items; before any version is live, every answer is the fallback
(`no_live_model`).

**Deadlines.** Every database call runs on a worker thread that owns the connection (`deadline.Worker`); the caller
waits at most `deadline_seconds` (online: 0.2 s, so an answer leaves within `budget_seconds` = 0.3 s even when
it falls back), then answers from the fallback. Statements also carry a server-side `statement_timeout` and a
50 ms `lock_timeout` (`queries.ReadLimits`), and new connections a 2-second `connect_timeout` (libpq's minimum)
and TCP keepalives, so abandoned calls end on their own.

A `Recommender` owns its connection (made from a DSN, or by the factory given), serves one call at a time
(calls from several threads queue), and is meant to live as long as the process (a Lambda container).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg

from dataplatform.serving import deadline, popular, queries
from dataplatform.serving.live import (
    LIVE_CACHE_SECONDS,
    STALE_VERSION_ERRORS,
    LiveModel,
    forget,
    live_model,
    resolved_at,
)
from dataplatform.serving.models import FallbackReason, Recommendation, UserActivityEvent
from dataplatform.serving.user_features import UserFeatureModels
from dataplatform.serving.version_matrix import VersionMatrix

log = logging.getLogger(__name__)

SIMILAR_CACHE_SIZE = 20_000
"""Similar-items answers kept per process ((version, product) -> neighbours)."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def from_uri(cls, uri: str) -> S3Location:
        """`s3://bucket/key` -> S3Location."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not uri.startswith("s3://") or not bucket or not key:
            raise ValueError(f"expected s3://bucket/key, got {uri!r}")
        return cls(bucket, key)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class ServingOptions:
    k: int = 10
    """recommended_items per record."""
    similar_k: int = 5
    """similar items per browsed product."""
    max_similar_sources: int = 10
    """Browsed products (cart first, then most recent) that get similar items."""
    deadline_seconds: float = 0.2
    """How long one call waits for the database before answering from the fallback."""
    budget_seconds: float = 0.3
    """The whole call, fallback included (reading the S3 copy on a cold start uses what is left)."""
    retry_after_seconds: float = 1.0
    """After the database failed to answer, how long calls go straight to the fallback."""
    warm_seconds: float = 8.0
    """`warm()`'s budget (the Lambda's init phase has 10 s): at most 2.5 s for the database, then the S3 copy of
    the ranking if the database did not answer, then waiting for the live version's vectors to load."""
    popular_refresh_seconds: float = 300.0
    live_cache_seconds: float = LIVE_CACHE_SECONDS
    in_process_items: int = 200_000
    """Versions with at most this many items are answered from their matrix in process (`version_matrix`:
    exact, faster); larger ones, and a version whose matrix is still loading, by the HNSW reads. 0: never."""
    in_process_users: int = 500_000
    """...and their customers' vectors are held too when there are at most this many (else looked up per batch)."""
    in_process_similar_items: int = 25_000
    """Without neighbour lists, similar items are computed in process up to this many items; above, by pgvector's
    HNSW cosine index (recall 1.0 there, and a scan of 100k unit vectors per browsed product costs more than the
    index: `bench/results/serving.md`)."""
    neighbour_lists: bool = True
    """Answer stored customers and known products from the version's neighbour lists (`version_matrix`), held in
    process with its vectors; False: by the scans and HNSW reads alone (to compare them)."""
    limits: queries.ReadLimits = field(default_factory=queries.ReadLimits)

    def __post_init__(self) -> None:
        if not (1 <= self.k <= 100 and 1 <= self.similar_k <= 50 and 0 <= self.max_similar_sources <= 50):
            raise ValueError("k must be 1..100, similar_k 1..50, max_similar_sources 0..50")
        if not 0 < self.deadline_seconds <= self.budget_seconds:
            raise ValueError("0 < deadline_seconds <= budget_seconds")


@dataclass(frozen=True)
class _DatabaseAnswer:
    live: LiveModel | None
    profiles: list[queries.ProfileAnswer]
    similar: dict[str, list[tuple[str, float]]]


def _default_s3() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2}))


class Recommender:
    """Answers user-activity events from the live model version (see the module docstring)."""

    def __init__(
        self,
        connect: str | Callable[[], psycopg.Connection],
        *,
        popular_copy: S3Location | None = None,
        s3: Any | None = None,
        options: ServingOptions | None = None,
    ) -> None:
        """`connect`: a libpq connection string / URI, or a function returning a new psycopg connection.
        `popular_copy`: where the batch refresh publishes the fallback ranking's JSON copy. `s3`: a boto3 S3
        client (for that copy and the user-feature models); one with short timeouts is made when needed."""
        self._connect = connect
        self._popular_copy = popular_copy
        self._s3_client = s3
        self.options = options or ServingOptions()
        self._features = UserFeatureModels(self._s3)
        self._popular = popular.PopularRanking((), {}, source="")
        self._popular_refreshed = float("-inf")
        self._similar_cache: OrderedDict[tuple[str, str], list[tuple[str, float]]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._worker: deadline.Worker | None = None
        self._matrix: VersionMatrix | None = None
        self._matrix_loading_since = float("-inf")
        self._matrix_thread: threading.Thread | None = None
        self._confirmed: tuple[LiveModel, float] | None = None
        """The live version and when the database last confirmed it (monotonic clock)."""
        self._closed_until = 0.0
        self._lock = threading.Lock()
        self.last_error: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, *, s3: Any | None = None,
                 options: ServingOptions | None = None) -> Recommender:
        """From the Lambda's environment: `DATAPLATFORM_VECTOR_DSN` (libpq string or URI) or
        `DATAPLATFORM_VECTOR_SECRET_ARN` (a Secrets Manager secret in the RDS format: host, port, username,
        password, dbname); optional `DATAPLATFORM_POPULAR_COPY_URI` (s3://bucket/key) and
        `DATAPLATFORM_SERVING_DEADLINE_MS`. The AWS SDK reads its usual variables (region, `AWS_ENDPOINT_URL`)."""
        dsn = environ.get("DATAPLATFORM_VECTOR_DSN", "").strip()
        secret = environ.get("DATAPLATFORM_VECTOR_SECRET_ARN", "").strip()
        if not dsn and not secret:
            raise ValueError("set DATAPLATFORM_VECTOR_DSN (a libpq connection string) or "
                             "DATAPLATFORM_VECTOR_SECRET_ARN (a Secrets Manager secret with host, port, username, "
                             "password, dbname)")
        if not dsn:
            dsn = _dsn_from_secret(secret)
        copy = environ.get("DATAPLATFORM_POPULAR_COPY_URI", "").strip()
        base = options or ServingOptions()
        deadline_ms = environ.get("DATAPLATFORM_SERVING_DEADLINE_MS", "").strip()
        if deadline_ms:
            seconds = int(deadline_ms) / 1000
            base = ServingOptions(**{**base.__dict__, "deadline_seconds": seconds,
                                     "budget_seconds": max(base.budget_seconds, seconds + 0.1)})
        return cls(dsn, popular_copy=S3Location.from_uri(copy) if copy else None, s3=s3, options=base)

    # --- public ---------------------------------------------------------------------------------------------

    def warm(self) -> None:
        """Connect, resolve the live model and load the fallback ranking now (the Lambda's init), never raising:
        afterwards a request only pays for its own queries, and a database that is down at start still leaves
        the S3 copy of the ranking in memory.

        Last, `gc.collect()` then `gc.freeze()`: what init allocated (the modules, the version's vectors and lists)
        lives as long as the container, and a batch allocates tens of thousands of short-lived objects; unfrozen,
        every full collection walks all of init's objects again (a 500-record batch: 155 ms, frozen 73 ms,
        `bench/results/serving.md`). Frozen objects are never collected, so garbage is collected first."""
        started = time.monotonic()
        budget = self.options.warm_seconds
        live: LiveModel | None = None
        with self._lock:
            try:
                live = self._on_worker(self._warm_database, min(2.5, budget))
            except Exception as error:  # noqa: BLE001 - warm-up is best effort
                self._note_failure(error)
            if not self._popular:
                self._load_popular_copy(budget - (time.monotonic() - started))
        if live is not None and self._matrix_for(live) is None and self._matrix_thread is not None:
            self._matrix_thread.join(max(0.0, budget - (time.monotonic() - started)))
        gc.collect()
        gc.freeze()

    def recommend(self, event: UserActivityEvent) -> Recommendation:
        """One event's recommendation (see `recommend_batch`)."""
        return self.recommend_batch([event])[0]

    def recommend_batch(
        self, events: Sequence[UserActivityEvent], *, deadline_seconds: float | None = None
    ) -> list[Recommendation]:
        """One recommendation per event, in order, computed for the whole batch at once. `deadline_seconds`
        overrides the database deadline (a 500-record Firehose batch may take longer than one online request)."""
        if not events:
            return []
        started = time.monotonic()
        wait = self.options.deadline_seconds if deadline_seconds is None else deadline_seconds
        budget = self.options.budget_seconds - self.options.deadline_seconds + wait
        with self._lock:
            answer = self._from_memory(events)
            if answer is None and time.monotonic() >= self._closed_until:
                limits = self.options.limits.with_statement_timeout(wait)
                try:
                    answer = self._on_worker(lambda state: self._query(state, events, limits), wait)
                except Exception as error:  # noqa: BLE001 - any failure: answer from the fallback
                    self._note_failure(error)
            if answer is None and not self._popular:
                self._load_popular_copy(budget - (time.monotonic() - started) - 0.01)
            return [self._assemble(event, answer, i) for i, event in enumerate(events)]

    def status(self) -> dict[str, Any]:
        """What the recommender runs on now (for logs)."""
        matrix = self._matrix
        in_memory = None
        if matrix is not None:
            users = "customers in the database" if matrix.users is None else f"{len(matrix.users)} customers"
            lists = [name for name, held in (("item neighbours", matrix.neighbours), ("customers' top items",
                                                                                        matrix.top_items)) if held]
            in_memory = f"{matrix.version}: {len(matrix)} items, {users}, lists: {', '.join(lists) or 'none'}"
        return {"in_process": in_memory,
                "popular_source": self._popular.source or None, "popular_products": len(self._popular.overall),
                "database_retry_in": max(0.0, round(self._closed_until - time.monotonic(), 3)),
                "last_error": self.last_error, "user_feature_model_error": self._features.last_error,
                "stuck_calls": deadline.Worker.stuck()}

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.retire()
                self._worker = None

    # --- database side (runs on the worker thread) -----------------------------------------------------------

    def _open_connection(self) -> psycopg.Connection:
        if callable(self._connect):
            conn = self._connect()
        else:
            conn = psycopg.connect(self._connect, autocommit=True, connect_timeout=2, keepalives=1,
                                   keepalives_idle=5, keepalives_interval=2, keepalives_count=2,
                                   application_name="dataplatform-serving")
        queries.register_vector_types(conn)
        return conn

    def _connection(self, state: dict[str, Any]) -> psycopg.Connection:
        conn = state.get("conn")
        if conn is None or conn.closed:
            conn = state["conn"] = self._open_connection()
        return conn

    def _warm_database(self, state: dict[str, Any]) -> LiveModel | None:
        conn = self._connection(state)
        self._refresh_popular(conn, force=True)
        live = live_model(conn, max_age=0)
        resolved = resolved_at(conn)
        if live is not None and resolved is not None:
            self._confirmed = (live, resolved)
            self._features.for_version(live)
        return live

    def _fits_in_process(self, live: LiveModel) -> bool:
        return 0 < live.item_count <= self.options.in_process_items

    def _matrix_for(self, live: LiveModel) -> VersionMatrix | None:
        """The version's item matrix if loaded; otherwise starts loading it in the background (its own
        connection) and returns None: until then the version is answered by the HNSW reads."""
        matrix = self._matrix
        if matrix is not None and matrix.version == live.version:
            return matrix
        if self._fits_in_process(live) and time.monotonic() - self._matrix_loading_since > 30.0:
            self._matrix_loading_since = time.monotonic()
            self._matrix_thread = threading.Thread(target=self._load_matrix, args=(live,), name="serving-matrix",
                                                   daemon=True)
            self._matrix_thread.start()
        return None

    def _load_matrix(self, live: LiveModel) -> None:
        try:
            with self._open_connection() as conn:
                matrix = VersionMatrix.load(conn, live, max_users=self.options.in_process_users,
                                            lists=self.options.neighbour_lists)
        except Exception as error:  # noqa: BLE001 - the HNSW reads keep answering; retried after 30 s
            log.warning("item matrix of %s not loaded: %s: %s", live.version, type(error).__name__, error)
            return
        self._matrix = matrix
        self._matrix_loading_since = float("-inf")

    def _refresh_popular(self, conn: psycopg.Connection, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._popular_refreshed < self.options.popular_refresh_seconds:
            return
        self._popular_refreshed = time.monotonic()
        try:
            rows = queries.popular_ranking(conn, popular.PER_COUNTRY, self.options.limits)
        except psycopg.errors.UndefinedTable:
            return  # not published yet: keep what we have (the S3 copy, if any)
        ranking = popular.PopularRanking.from_rows(rows, source="database")
        if ranking:
            self._popular = ranking

    def _query(self, state: dict[str, Any], events: Sequence[UserActivityEvent],
               limits: queries.ReadLimits) -> _DatabaseAnswer:
        conn = self._connection(state)
        try:
            self._refresh_popular(conn)
            for attempt in range(2):
                live = live_model(conn, max_age=self.options.live_cache_seconds if attempt == 0 else 0)
                resolved = resolved_at(conn)
                self._confirmed = (live, resolved) if live is not None and resolved is not None else None
                if live is None:
                    return _DatabaseAnswer(None, [], {})
                try:
                    answer = self._read(conn, live, events, limits)
                    assert answer is not None  # with a connection, _read always answers
                    return answer
                except STALE_VERSION_ERRORS:
                    forget(conn)  # the cached version's tables are gone: resolve again, once
                    if attempt:
                        raise
            raise AssertionError("unreachable")
        except psycopg.OperationalError:
            if conn.broken or conn.closed:  # a timeout or lock wait leaves the connection usable
                state.pop("conn", None)
                conn.close()
            raise

    def _read(self, conn: psycopg.Connection | None, live: LiveModel, events: Sequence[UserActivityEvent],
              limits: queries.ReadLimits) -> _DatabaseAnswer | None:
        """The batch's answers on `live`. Without a connection (`conn` None: the fast path, on the caller's thread)
        only from memory, or None when that needs the database or S3."""
        options = self.options
        if conn is None:
            known, features = self._features.peek(live)
            if not known:
                return None
        else:
            features = self._features.for_version(live)
        vectors: list[np.ndarray | None] = [None] * len(events)
        if features is not None:
            predicted = features.predict_many([e.city for e in events], [e.country for e in events],
                                              [e.credit_limit for e in events])
            vectors = list(predicted)
        profiles = [queries.ProfileQuery(e.customer_number, v, options.k + len(e.cart))
                    for e, v in zip(events, vectors, strict=True)]
        sources = {code for e in events for code in e.browsed[: options.max_similar_sources]}
        per_source = options.similar_k + options.max_similar_sources
        matrix = self._matrix_for(live)
        if matrix is not None and matrix.has_neighbours(per_source):  # lookups in the version's lists
            answers = self._profiles_in_process(conn, live, matrix, profiles, limits)
            return None if answers is None else _DatabaseAnswer(live, answers,
                                                                matrix.nearest_by_cosine(sources, per_source))
        with self._cache_lock:
            cached = {code: hit for code in sources
                      if (hit := self._similar_cache.get((live.version, code))) is not None}
        missing = sorted(sources - cached.keys())
        similar_in_process = matrix is not None and len(matrix) <= options.in_process_similar_items
        if conn is None and (matrix is None or (missing and not similar_in_process)):
            return None
        if matrix is None:  # HNSW in PostgreSQL: profiles and similar items in one round trip
            assert conn is not None
            pending = queries.read_batch(conn, live, profiles=profiles, similar_codes=missing,
                                         similar_limit=per_source, limits=limits)
            answers, similar = pending.profile_answers(), pending.similar_answers()
        else:  # profiles in process (exact); similar items too for a small catalogue, else by HNSW (exact there)
            in_process = self._profiles_in_process(conn, live, matrix, profiles, limits)
            if in_process is None:
                return None
            answers = in_process
            if similar_in_process:
                similar = matrix.nearest_by_cosine(missing, per_source)
            elif missing:
                assert conn is not None
                similar = queries.read_batch(conn, live, similar_codes=missing, similar_limit=per_source,
                                             limits=limits).similar_answers()
            else:
                similar = {}
        with self._cache_lock:
            for code in missing:
                self._similar_cache[(live.version, code)] = similar.setdefault(code, [])
            while len(self._similar_cache) > SIMILAR_CACHE_SIZE:
                self._similar_cache.popitem(last=False)
        similar.update(cached)
        return _DatabaseAnswer(live, answers, similar)

    @staticmethod
    def _profiles_in_process(conn: psycopg.Connection | None, live: LiveModel, matrix: VersionMatrix,
                             profiles: Sequence[queries.ProfileQuery],
                             limits: queries.ReadLimits) -> list[queries.ProfileAnswer] | None:
        """Stored customers from the version's lists where they hold enough items, the others (a long cart, the
        user-feature model's vectors) by the exact scan; None when that needs the database and `conn` is None."""
        customers = sorted({q.customer_number for q in profiles if q.customer_number is not None})
        if matrix.users is not None:
            stored = {c: v for c in customers if (v := matrix.users.get(c)) is not None}
        elif conn is None:
            return None
        else:
            stored = queries.read_batch(conn, live, user_vectors=customers, limits=limits).user_vector_answers()
        answers = [queries.ProfileAnswer(False, []) for _ in profiles]
        wanted = [(i, q) for i, q in enumerate(profiles) if q.customer_number in stored]
        listed = matrix.stored_best([(q.customer_number, q.limit) for _, q in wanted])  # type: ignore[misc]
        for j, items in listed.items():
            answers[wanted[j][0]] = queries.ProfileAnswer(True, items)
        listed_rows = {wanted[j][0] for j in listed}
        scan = [i for i, q in enumerate(profiles)
                if i not in listed_rows and (q.customer_number in stored or q.vector is not None)]
        if scan:
            vectors = [stored.get(profiles[i].customer_number, profiles[i].vector) for i in scan]  # type: ignore[arg-type]
            best = matrix.best_by_inner_product(np.stack(vectors).astype(np.float32),
                                                [profiles[i].limit for i in scan])
            for i, items in zip(scan, best, strict=True):
                answers[i] = queries.ProfileAnswer(profiles[i].customer_number in stored, items)
        return answers

    def _from_memory(self, events: Sequence[UserActivityEvent]) -> _DatabaseAnswer | None:
        """The fast path: the live version was confirmed less than `live_cache_seconds` ago, its vectors are in
        memory and the fallback ranking is fresh: answer on the caller's thread, no database, no worker."""
        confirmed = self._confirmed
        if confirmed is None or time.monotonic() - confirmed[1] >= self.options.live_cache_seconds:
            return None
        if time.monotonic() - self._popular_refreshed >= self.options.popular_refresh_seconds:
            return None
        return self._read(None, confirmed[0], events, self.options.limits)

    def _on_worker(self, fn: Callable[[dict[str, Any]], Any], timeout: float) -> Any:
        deadline.check_capacity()
        if self._worker is None or not self._worker.alive:
            self._worker = deadline.Worker("serving-db", on_retire=_close_connection)
        worker = self._worker
        try:
            return worker.call(fn, timeout)
        except deadline.DeadlineExceeded:
            self._worker = None  # abandoned: the next call gets a new worker and connection
            raise

    def _note_failure(self, error: BaseException) -> None:
        self._closed_until = time.monotonic() + self.options.retry_after_seconds
        self.last_error = f"{type(error).__name__}: {error}".strip()[:500]
        log.warning("vector DB unavailable, answering from the popular-products fallback: %s", self.last_error)

    # --- fallback ----------------------------------------------------------------------------------------------

    def _s3(self) -> Any:
        if self._s3_client is None:
            self._s3_client = _default_s3()
        return self._s3_client

    def _load_popular_copy(self, timeout: float) -> None:
        if self._popular_copy is None or timeout <= 0:
            return
        location = self._popular_copy
        try:
            ranking = deadline.call_with_deadline(
                lambda: popular.load_copy(self._s3(), location.bucket, location.key), timeout, "serving-s3")
        except Exception as error:  # noqa: BLE001 - no copy: answers without recommended items
            self.last_error = f"popular-products copy {location.uri} not read: {type(error).__name__}: {error}"[:500]
            log.warning("%s", self.last_error)
            return
        if not self._popular:
            self._popular = ranking

    # --- assembling ------------------------------------------------------------------------------------------

    def _popular_items(self, event: UserActivityEvent) -> list[dict[str, Any]]:
        codes = self._popular.top(event.country, self.options.k, exclude=event.cart)
        return [{"id": code, "score": round(1.0 / rank, 6)} for rank, code in enumerate(codes, start=1)]

    def _assemble(self, event: UserActivityEvent, answer: _DatabaseAnswer | None, i: int) -> Recommendation:
        """The record, built as plain data and validated once by pydantic-core (nested models built one by one in
        Python cost more than the inference itself for a 500-record batch)."""
        record: dict[str, Any] = {name: getattr(event, name) for name in UserActivityEvent.model_fields}
        if answer is None or answer.live is None:
            reason = FallbackReason.DATABASE_UNAVAILABLE if answer is None else FallbackReason.NO_LIVE_MODEL
            record.update(recommended_items=self._popular_items(event), similar_items=[], model_version=None,
                          fallback=True, fallback_reason=reason.value)
            return Recommendation.model_validate(record)
        cart = set(event.cart)
        profile = answer.profiles[i]
        recommended: list[dict[str, Any]] = [{"id": code, "score": score} for code, score in profile.items
                                             if code not in cart][: self.options.k]
        reason = None
        if not profile.items:
            recommended, reason = self._popular_items(event), FallbackReason.NO_USER_VECTOR.value
        browsed = event.browsed
        seen = set(browsed)
        similar: list[dict[str, Any]] = []
        for source in browsed[: self.options.max_similar_sources]:
            picked = []
            for code, distance in answer.similar.get(source, []):
                if code not in seen:
                    seen.add(code)
                    picked.append({"id": code, "distance": distance})
                    if len(picked) == self.options.similar_k:
                        break
            similar.append({"product_code": source, "similar_items": picked})
        record.update(recommended_items=recommended, similar_items=similar, model_version=answer.live.version,
                      fallback=reason is not None, fallback_reason=reason)
        return Recommendation.model_validate(record)


def _close_connection(state: dict[str, Any]) -> None:
    conn = state.pop("conn", None)
    if conn is not None:
        conn.close()


def _dsn_from_secret(secret_id: str) -> str:
    """A libpq connection string from a Secrets Manager secret in the RDS format."""
    import json

    import boto3
    from psycopg.conninfo import make_conninfo

    value = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
    return make_conninfo(host=value["host"], port=value.get("port", 5432), user=value["username"],
                         password=value["password"], dbname=value.get("dbname", "postgres"))
