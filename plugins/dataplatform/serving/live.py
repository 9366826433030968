"""Which model version a reader queries, found without taking any lock a swap could make it wait on.

The loader (`dataplatform.vectordb.store`) keeps each model version in its own tables, `item_embeddings__<slug>`
and `user_embeddings__<slug>` (the vectors) with `item_neighbours__<slug>` and `user_top_items__<slug>` (each
item's nearest items and each stored customer's best items, computed exactly at load time), never modified after
the load, and marks the live one in
`model_versions`. A reader resolves the live version from `model_versions` (a plain MVCC read: swaps, rollbacks
and prunes lock that table in SHARE ROW EXCLUSIVE mode and update rows, neither of which blocks a SELECT) and
queries that version's tables directly by name (`psycopg.sql.Identifier`). The views `item_embeddings` /
`user_embeddings` stay for people and dashboards; readers here never touch them, so a swap that waits for a slow
analyst's lock on a view (up to its `lock_timeout`) delays nobody else.

**Cache.** The resolution is cached per connection for `LIVE_CACHE_SECONDS`: after a swap a reader keeps
answering from the version it resolved for at most that long. One answer always uses one `LiveModel`, so it never
mixes two versions, even across statements: a version's tables do not change.

**Pruning rule** (enforced by the loader's `prune`): a version's tables are dropped only once it has not been live
for `RETIRED_GRACE_SECONDS`, longer than the cache plus the longest serving statement, so no reader still uses
them. Should a cached version vanish anyway (pruned by hand), the read fails with `UndefinedTable` (or, while its
tables are being dropped, with `LockNotAvailable` after the reader's 50 ms `lock_timeout`), and the caller forgets
the cache and resolves again, once (`on_live`, and the recommender likewise).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from dataplatform.serving.sql_files import sql_text

ITEM_PREFIX, USER_PREFIX = "item_embeddings__", "user_embeddings__"
NEIGHBOURS_PREFIX, TOP_ITEMS_PREFIX = "item_neighbours__", "user_top_items__"
LIVE_CACHE_SECONDS = 5.0
"""How long a connection trusts its resolution of the live version."""
T = TypeVar("T")
RETIRED_GRACE_SECONDS = 60.0
"""A version that stopped being live less than this long ago is never pruned: more than `LIVE_CACHE_SECONDS`
plus the longest statement a reader runs (serving statements time out well under a second)."""


STALE_VERSION_ERRORS = (psycopg.errors.UndefinedTable, psycopg.errors.LockNotAvailable)
"""What reading a cached version whose tables are gone, or being dropped, raises."""


def table_names(version_slug: str) -> tuple[str, str]:
    """(item table, user table) of a version's slug."""
    return ITEM_PREFIX + version_slug, USER_PREFIX + version_slug


def version_tables(version_slug: str) -> dict[str, str]:
    """Every table of a version by its `{placeholder}` in the SQL files: `item_table`, `user_table`,
    `neighbours_table`, `top_items_table`."""
    items, users = table_names(version_slug)
    return {"item_table": items, "user_table": users, "neighbours_table": NEIGHBOURS_PREFIX + version_slug,
            "top_items_table": TOP_ITEMS_PREFIX + version_slug}


def version_identifiers(version_slug: str) -> dict[str, sql.Identifier]:
    """`version_tables` as identifiers, for `psycopg.sql` composition of the SQL files' `{placeholders}`."""
    return {key: sql.Identifier(name) for key, name in version_tables(version_slug).items()}


@dataclass(frozen=True)
class LiveModel:
    """The model version a reader answers from."""

    version: str
    slug: str
    dimension: int
    source_uris: Mapping[str, str] = field(default_factory=dict)
    item_count: int = 0
    user_count: int = 0

    @property
    def item_table(self) -> str:
        return table_names(self.slug)[0]

    @property
    def user_table(self) -> str:
        return table_names(self.slug)[1]

    def identifiers(self) -> dict[str, sql.Identifier]:
        """The version's tables (`version_tables`) for `psycopg.sql` composition."""
        return version_identifiers(self.slug)

    @property
    def artifacts_uri(self) -> str | None:
        """`s3://bucket/prefix/` of the files the version was loaded from (its user-feature model sits there)."""
        items = self.source_uris.get("item_embeddings.csv")
        return items.rsplit("/", 1)[0] + "/" if items and items.startswith("s3://") and "/" in items[5:] else None


_cache: WeakKeyDictionary[psycopg.Connection, tuple[float, LiveModel | None]] = WeakKeyDictionary()
_cache_lock = threading.Lock()


def resolve(conn: psycopg.Connection) -> LiveModel | None:
    """Read the live version now (one statement, never waits), leaving the connection's transaction state as it
    was (autocommit: no transaction; otherwise in `conn.transaction()`, committed or a savepoint)."""
    if conn.autocommit:
        row = conn.cursor(row_factory=tuple_row).execute(sql_text("select_live_model.sql")).fetchone()
    else:
        with conn.transaction():
            row = conn.cursor(row_factory=tuple_row).execute(sql_text("select_live_model.sql")).fetchone()
    if row is None:
        return None
    version, version_slug, dimension, source_uris, item_count, user_count = row
    return LiveModel(str(version), str(version_slug), int(dimension), dict(source_uris or {}), int(item_count),
                     int(user_count))


def live_model(conn: psycopg.Connection, *, max_age: float = LIVE_CACHE_SECONDS) -> LiveModel | None:
    """The live version for this connection: cached for `max_age` seconds (0 = always read it)."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(conn)
    if hit is not None and now - hit[0] < max_age:
        return hit[1]
    model = resolve(conn)
    with _cache_lock:
        _cache[conn] = (now, model)
    return model


def resolved_at(conn: psycopg.Connection) -> float | None:
    """When (`time.monotonic()`) the connection's cached resolution was read from the database, if any."""
    with _cache_lock:
        hit = _cache.get(conn)
    return hit[0] if hit else None


def forget(conn: psycopg.Connection) -> None:
    """Drop the connection's cached resolution (after its tables vanished, or to see a swap at once)."""
    with _cache_lock:
        _cache.pop(conn, None)


def cached(conn: Any) -> LiveModel | None:
    """The cached resolution, if any, without reading the database (for logs and tests)."""
    with _cache_lock:
        hit = _cache.get(conn)
    return hit[1] if hit else None


def on_live(conn: psycopg.Connection, read: Callable[[LiveModel], T], *,
               max_age: float = LIVE_CACHE_SECONDS) -> T | None:
    """`read(live)` on the connection's live version, or None when no version is live. If the cached version's
    tables are gone or being dropped (`STALE_VERSION_ERRORS`: pruned by hand, a reload, a restored database),
    resolve again and retry once."""
    for attempt in range(2):
        live = live_model(conn, max_age=max_age if attempt == 0 else 0)
        if live is None:
            return None
        try:
            return read(live)
        except STALE_VERSION_ERRORS:
            forget(conn)
            if attempt:
                raise
    raise AssertionError("unreachable")
