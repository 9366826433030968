"""The vector store on the real PostgreSQL + pgvector of the local stack.

Every test gets its own schema (`test_vs_<random>`, first on the search_path, `public` after it for the
`vector` extension), dropped afterwards, so tests neither see each other nor anything else in the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from dataplatform.serving import live as serving_live
from dataplatform.serving.sql_files import sql_text
from dataplatform.vectordb import store as vs
from dataplatform.vectordb.embeddings_file import EmbeddingsTable

pytestmark = pytest.mark.stack


# --- fixtures and helpers ------------------------------------------------------------------------------------


@pytest.fixture
def conn(conninfo: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(conninfo, autocommit=True) as connection:
        vs.ensure_schema(connection)
        yield connection


def product_codes(n: int, prefix: str = "S") -> list[str]:
    return [f"{prefix}{i // 1000:02d}_{i % 1000:04d}" for i in range(n)]


def embeddings(n_items: int, n_users: int, dim: int, seed: int = 0,
               prefix: str = "S") -> tuple[EmbeddingsTable, EmbeddingsTable]:
    """Random item and user tables, as `read_embeddings` would return them."""
    rng = np.random.default_rng(seed)
    items = EmbeddingsTable(kind="item", ids=product_codes(n_items, prefix),
                            vectors=rng.standard_normal((n_items, dim)).astype(np.float32),
                            lines=np.arange(2, n_items + 2), dimension=dim, source="item_embeddings.csv")
    users = EmbeddingsTable(kind="user", ids=list(range(100, 100 + n_users)),
                            vectors=rng.standard_normal((n_users, dim)).astype(np.float32),
                            lines=np.arange(2, n_users + 2), dimension=dim, source="user_embeddings.csv")
    return items, users


def load(conn: psycopg.Connection, version: str, n_items: int = 50, n_users: int = 20, dim: int = 8,
         seed: int = 0, prefix: str = "S") -> vs.LoadResult:
    items, users = embeddings(n_items, n_users, dim, seed, prefix)
    return vs.load_version(conn, version, items, users, source_uris={"item_embeddings.csv": f"s3://b/{version}/i"},
                           metrics={"hit_rate_at_10": 0.25})


def view_counts(conn: psycopg.Connection) -> tuple[int, int]:
    row = conn.execute("SELECT (SELECT count(*) FROM item_embeddings), (SELECT count(*) FROM user_embeddings)")
    return tuple(row.fetchone())  # type: ignore[return-value]


def version_tables(conn: psycopg.Connection, version: str) -> list[str]:
    prefix = vs.slug(version)
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                        "AND tablename LIKE '%%' || %(slug)s", {"slug": prefix}).fetchall()
    return sorted(r[0] for r in rows)


def explain(conn: psycopg.Connection, sql_file: str, params: dict) -> str:
    """EXPLAIN of one of the serving package's queries on the live version's tables."""
    live = serving_live.resolve(conn)
    query = sql.SQL("EXPLAIN " + sql_text(sql_file)).format(**live.identifiers())
    return "\n".join(r[0] for r in conn.execute(query, params).fetchall())


V1, V2, V3, V4, V5 = (f"2026112{i}T140000Z-ab12c{i}" for i in range(1, 6))


# --- names ---------------------------------------------------------------------------------------------------


def test_slug_is_lowercase_bounded_and_distinct_for_distinct_versions() -> None:
    versions = ["20261123T140000Z-ab12cd", "A-1", "a_1", "x" * 200, "x" * 199 + "y", 'v"; DROP TABLE x; --', "é"]
    slugs = [vs.slug(v) for v in versions]
    assert slugs[0].startswith("20261123t140000z_ab12cd_")
    assert all(len(s) <= vs.MAX_SLUG and s.replace("_", "").isalnum() and s.isascii() and s == s.lower()
               for s in slugs)
    assert len(set(slugs)) == len(slugs)
    assert vs.slug("A-1") == vs.slug("A-1")
    with pytest.raises(ValueError, match="non-empty"):
        vs.slug(" ")


def test_hostile_version_string_is_only_ever_an_identifier(conn) -> None:
    version = 'v1"; DROP TABLE model_versions; --'
    load(conn, version)
    vs.swap_live(conn, version)
    assert vs.live_version(conn)["version"] == version
    assert view_counts(conn) == (50, 20)


# --- load and swap -------------------------------------------------------------------------------------------


def test_load_then_swap_makes_the_version_live_with_its_counts_and_dimension(conn) -> None:
    # GIVEN a loaded version
    result = load(conn, V1, n_items=50, n_users=20, dim=8)
    assert (result.item_count, result.user_count, result.dimension) == (50, 20, 8)
    assert set(result.timings) >= {"copy_items", "copy_users", "index_items_ip", "index_items_cosine", "total"}
    assert vs.live_version(conn) is None  # loading alone changes nothing readers see
    # WHEN it is swapped in
    vs.swap_live(conn, V1)
    # THEN it is live, readers see all its rows, and the vectors round-trip exactly
    live = vs.live_version(conn)
    assert live is not None
    assert (live["version"], live["item_count"], live["user_count"], live["dimension"]) == (V1, 50, 20, 8)
    assert live["source_uris"] == {"item_embeddings.csv": f"s3://b/{V1}/i"}
    assert live["metrics"] == {"hit_rate_at_10": 0.25} and live["went_live_at"] is not None
    assert view_counts(conn) == (50, 20)
    users = embeddings(50, 20, 8)[1]
    np.testing.assert_array_equal(vs.user_vector(conn, 105), users.vectors[5])
    assert vs.user_vector(conn, 99_999) is None
    assert [v["version"] for v in vs.versions(conn)] == [V1]
    assert vs.verify_live(conn, V1, items=50, users=20)["neighbours"] == 5


def test_load_stores_each_items_nearest_items_and_each_customers_best_items_exactly(conn) -> None:
    # GIVEN a version of 50 items and 20 customers, loaded
    result = load(conn, V1, n_items=50, n_users=20, dim=8)
    assert {"neighbour_lists", "copy_lists"} <= set(result.timings)
    items, users = embeddings(50, 20, 8)
    tables = vs.version_tables(vs.slug(V1))
    # THEN every item has its 32 nearest items by cosine distance (itself left out), nearest first, as a float64
    # scan ranks them
    neighbours = sql.Identifier(tables["neighbours_table"])
    rows = {code: (codes, distances, positions) for code, codes, distances, positions in conn.execute(
        sql.SQL("SELECT product_code, neighbours, distances, positions FROM {}").format(neighbours))}
    assert set(rows) == set(items.ids)
    unit = items.vectors.astype(np.float64) / np.linalg.norm(items.vectors, axis=1, keepdims=True)
    for i in (0, 17, 49):
        distances = 1 - unit @ unit[i]
        distances[i] = np.inf
        order = np.argsort(distances)[:32]
        assert rows[items.ids[i]][0] == [items.ids[j] for j in order]
        np.testing.assert_allclose(rows[items.ids[i]][1], distances[order], atol=1e-5)
        # (positions: the same items in the version's items by product_code, what the serving package reads)
        assert [sorted(items.ids)[p] for p in rows[items.ids[i]][2]] == rows[items.ids[i]][0]
    # AND every customer their 50 best items by inner product, best first, with the products as scores
    top = {c: (codes, scores) for c, codes, scores in conn.execute(
        sql.SQL("SELECT customer_number, items, scores FROM {}").format(sql.Identifier(tables["top_items_table"])))}
    assert set(top) == set(users.ids)
    for u in (0, 19):
        scores = items.vectors.astype(np.float64) @ users.vectors[u]
        order = np.argsort(-scores)[:50]
        assert top[users.ids[u]][0] == [items.ids[j] for j in order]
        np.testing.assert_allclose(top[users.ids[u]][1], scores[order], rtol=1e-4, atol=1e-5)
    # AND the post-swap check counts them, and names a version whose lists are missing
    vs.swap_live(conn, V1)
    assert vs.verify_live(conn, V1, items=50, users=20)["version"] == V1
    conn.execute(sql.SQL("UPDATE {} SET positions[1] = positions[2]").format(neighbours))
    with pytest.raises(vs.VectorStoreError, match="50 neighbour-list positions do not name the item"):
        vs.verify_live(conn, V1, items=50, users=20)
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(tables["top_items_table"])))
    with pytest.raises(vs.VectorStoreError, match="no neighbour lists"):
        vs.verify_live(conn, V1, items=50, users=20)


def test_a_kind_of_list_beyond_the_score_budget_is_left_out_and_verified_as_such(conn) -> None:
    # GIVEN a budget of 1,500 scores: 50 items x 20 customers (1,000) fit, 50 x 50 item pairs (2,500) do not
    items, users = embeddings(50, 20, 8)
    vs.load_version(conn, V1, items, users, source_uris={}, max_list_scores=1_500)
    vs.swap_live(conn, V1)
    # THEN the customers' lists are there, the items' table is empty, and the check expects exactly that
    tables = vs.version_tables(vs.slug(V1))
    counts = [conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(tables[t]))).fetchone()[0]
              for t in ("neighbours_table", "top_items_table")]
    assert counts == [0, 20] and vs.lists_expected(50, 20, 1_500) == (0, 20)
    assert vs.verify_live(conn, V1, items=50, users=20, max_list_scores=1_500)["version"] == V1
    with pytest.raises(vs.VectorStoreError, match="neighbour lists for 0 items / 20 users, expected 50 / 20"):
        vs.verify_live(conn, V1, items=50, users=20)


def test_loaded_tables_have_primary_keys_and_the_two_hnsw_indexes(conn) -> None:
    load(conn, V1)
    item_table, user_table = vs.table_names(vs.slug(V1))
    indexes = dict(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                                "AND tablename IN (%s, %s)", (item_table, user_table)).fetchall())
    assert indexes[f"{item_table}_pkey"].endswith("(product_code)")
    assert indexes[f"{user_table}_pkey"].endswith("(customer_number)")
    assert "hnsw (embedding vector_ip_ops) WITH (m='16', ef_construction='64')" in indexes[f"{item_table}_ip"]
    assert "hnsw (embedding vector_cosine_ops)" in indexes[f"{item_table}_cosine"]
    assert len(indexes) == 4  # users: primary key only
    analyzed = conn.execute("SELECT count(*) FROM pg_stat_user_tables WHERE relname IN (%s, %s) "
                            "AND last_analyze IS NOT NULL", (item_table, user_table)).fetchone()
    assert analyzed == (2,)


def test_swap_never_exposes_empty_table(conninfo, conn) -> None:
    # GIVEN a live version, and readers querying the views in a loop (count(*) and k-NN queries, prepared
    # after 5 runs as psycopg does) while versions of other sizes and dimensions are loaded and swapped in
    sizes = {V1: (300, 8), V2: (120, 12), V3: (700, 8), V4: (60, 16)}
    load(conn, V1, n_items=300, n_users=50, dim=8)
    vs.swap_live(conn, V1)
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def reader(query: Callable[[psycopg.Connection], None]) -> None:
        try:
            with psycopg.connect(conninfo, autocommit=True) as rc:
                while not stop.is_set():
                    query(rc)
        except BaseException as error:  # noqa: BLE001 - reported by the test thread
            errors.append(error)

    def count(rc: psycopg.Connection) -> None:
        n = rc.execute("SELECT count(*) FROM item_embeddings").fetchone()[0]
        seen.append(n)
        assert n in {s for s, _ in sizes.values()}, n

    def knn(rc: psycopg.Connection) -> None:
        assert len(vs.similar_items(rc, "S00_0007", 10)) == 10
        assert len(vs.recommend_for_user(rc, 110, 10, exclude=["S00_0001"])) == 10
        vector = vs.user_vector(rc, 110)
        assert vector is not None and vector.shape in {(d,) for _, d in sizes.values()}

    threads = [threading.Thread(target=reader, args=(q,)) for q in (count, count, knn, knn)]
    for thread in threads:
        thread.start()
    # WHEN versions are loaded and swapped repeatedly
    try:
        for version in [V2, V3, V4, V1, V3, V4, V1, V3, V4, V2]:
            n, dim = sizes[version]
            if version not in {v["version"] for v in vs.versions(conn)}:
                load(conn, version, n_items=n, n_users=50, dim=dim)
            vs.swap_live(conn, version)
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    # THEN no reader ever failed or saw an empty table, and they did see several versions
    assert not errors, errors
    assert seen and min(seen) > 0
    assert len(set(seen)) >= 3
    assert vs.live_version(conn)["version"] == V2


def _reader_loop(conninfo: str, autocommit: bool, stop: threading.Event, out: dict, versions: dict) -> None:
    """An online reader: profile + similar-items answers in a loop, timed; records errors, empty answers, and
    which version's vectors each profile answer matches (never a mix)."""
    try:
        with psycopg.connect(conninfo, autocommit=autocommit) as rc:
            n = 0
            while not stop.is_set():
                customer = 100 + n % 50
                started = time.perf_counter()
                recommended = vs.recommend_for_user(rc, customer, 10)
                similar = vs.similar_items(rc, f"S00_{n % 50:04d}", 10)
                out["latencies"].append((started, time.perf_counter() - started))
                assert rc.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
                if len(recommended) != 10 or len(similar) != 10:
                    out["empty"].append((customer, len(recommended), len(similar)))
                rows = [int(c[1:3]) * 1000 + int(c[4:]) for c, _ in recommended]  # product_codes() inverted
                matches = {version for version, (items, users) in versions.items()
                           if np.allclose([s for _, s in recommended], items[rows] @ users[customer - 100],
                                          rtol=1e-4, atol=1e-4)}
                if len(matches) != 1:
                    out["mixed"].append((customer, recommended))
                out["seen"].update(matches)
                n += 1
    except BaseException as error:  # noqa: BLE001 - reported by the test thread
        out["errors"].append(error)


def test_online_readers_never_wait_for_swaps_behind_a_slow_transaction(conninfo, conn) -> None:
    # GIVEN two versions of the same catalogue, V1 live; an analyst who keeps a 2-second transaction open on the
    # views and the live tables; online readers on autocommit and on non-autocommit connections
    versions = {}
    for version, seed in ((V1, 11), (V2, 12)):
        items, users = embeddings(2000, 50, 16, seed)
        vs.load_version(conn, version, items, users, source_uris={})
        versions[version] = (items.vectors, users.vectors)
    vs.swap_live(conn, V1)
    out: dict = {"latencies": [], "empty": [], "mixed": [], "errors": [], "seen": set()}
    stop, analyst_stop = threading.Event(), threading.Event()
    held: list[float] = []

    def analyst() -> None:
        with psycopg.connect(conninfo) as slow:  # not autocommit: holds its locks until commit
            while not analyst_stop.is_set():
                live = vs.table_names(vs.slug(vs.live_version(slow)["version"]))[0]
                slow.execute("SELECT count(*) FROM item_embeddings").fetchone()
                slow.execute("SELECT count(*) FROM user_embeddings").fetchone()
                slow.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(live))).fetchone()
                started = time.perf_counter()
                analyst_stop.wait(2.0)
                slow.commit()
                held.append(time.perf_counter() - started)
                time.sleep(0.05)

    threads = [threading.Thread(target=_reader_loop, args=(conninfo, autocommit, stop, out, versions))
               for autocommit in (True, True, False, False)]
    threads.append(threading.Thread(target=analyst))
    for thread in threads:
        thread.start()
    swap_waits: list[float] = []
    try:
        # WHEN the readers run 3 s without swaps, then while V2 and V1 are swapped in turn (each swap waits for
        # the analyst's transaction)
        time.sleep(3.0)
        swaps_started = time.perf_counter()
        for version in [V2, V1, V2, V1, V2, V1]:
            started = time.perf_counter()
            vs.swap_live(conn, version, lock_timeout="5s")
            swap_waits.append(time.perf_counter() - started)
            time.sleep(0.3)
        swaps_ended = time.perf_counter()
        time.sleep(serving_live.LIVE_CACHE_SECONDS)  # let readers' caches catch up with the last swap
    finally:
        stop.set()
        analyst_stop.set()
        for thread in threads:
            thread.join(timeout=30)
    # THEN the swaps really waited for the analyst, yet no reader failed, got an empty or mixed answer, or
    # waited: the slowest answer during the swaps is within a bound taken from the answers before them
    assert not out["errors"], out["errors"]
    assert max(swap_waits) > 1.0 and max(held) > 1.9, (swap_waits, held)
    assert not out["empty"] and not out["mixed"], (out["empty"][:3], out["mixed"][:3])
    assert out["seen"] == {V1, V2}
    before = np.array([d for t, d in out["latencies"] if t + d < swaps_started])
    during = np.array([d for t, d in out["latencies"] if swaps_started <= t <= swaps_ended])
    assert len(before) > 50 and len(during) > 200
    bound = 4 * np.quantile(before, 0.99) + before.max()
    print(f"answers before swaps: {len(before)}, p99 {np.quantile(before, 0.99) * 1e3:.1f} ms, max "
          f"{before.max() * 1e3:.1f} ms; during {len(during)}, p99 {np.quantile(during, 0.99) * 1e3:.1f} ms, max "
          f"{during.max() * 1e3:.1f} ms (bound {bound * 1e3:.1f} ms); swaps waited up to {max(swap_waits):.2f} s")
    assert during.max() < bound
    assert np.quantile(during, 0.99) <= 2 * np.quantile(before, 0.99)


def test_query_helpers_leave_a_non_autocommit_connection_idle(conninfo, conn) -> None:
    load(conn, V1)
    vs.swap_live(conn, V1)
    with psycopg.connect(conninfo) as hook_like:  # an Airflow hook's default connection: not autocommit
        assert len(vs.similar_items(hook_like, "S00_0001", 5)) == 5
        assert len(vs.recommend_for_user(hook_like, 101, 5, exclude=["S00_0002"])) == 5
        assert vs.user_vector(hook_like, 101) is not None
        assert hook_like.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert hook_like.execute("SHOW hnsw.ef_search").fetchone() == ("40",)  # session settings untouched
        hook_like.rollback()
        # inside a transaction the caller opened, they run in a savepoint and leave it open for the caller
        hook_like.execute("SELECT 1")
        assert len(vs.similar_items(hook_like, "S00_0001", 5)) == 5
        assert hook_like.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS


def test_cached_version_dropped_by_hand_is_resolved_again(conninfo, conn) -> None:
    load(conn, V1)
    vs.swap_live(conn, V1)
    load(conn, V2, n_items=60)
    with psycopg.connect(conninfo, autocommit=True) as reader:
        assert len(vs.similar_items(reader, "S00_0001", 5)) == 5  # V1 cached
        vs.swap_live(conn, V2)
        vs.prune(conn, keep=0, retired_grace=0)  # an operator ignoring the grace period
        assert vs.versions(conn)[1]["pruned_at"] is not None
        assert len(vs.similar_items(reader, "S00_0055", 5)) == 5  # V1's tables are gone: V2 resolved and used
        assert serving_live.cached(reader).version == V2


def test_ensure_schema_adds_retired_at_to_an_old_catalogue_and_then_takes_no_exclusive_lock(conninfo, conn) -> None:
    conn.execute("ALTER TABLE model_versions DROP COLUMN retired_at")  # as created before retired_at existed
    vs.ensure_schema(conn)
    assert "retired_at" in _columns(conn)
    # an analyst reading model_versions in a long transaction does not make ensure_schema wait
    options = conninfo_to_dict(conninfo)["options"]
    with psycopg.connect(conninfo) as analyst, psycopg.connect(
            make_conninfo(conninfo, options=f"{options} -c lock_timeout=200ms"), autocommit=True) as loader:
        analyst.execute("SELECT count(*) FROM model_versions").fetchone()
        vs.ensure_schema(loader)


def _columns(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = 'model_versions'::regclass "
                        "AND attnum > 0 AND NOT attisdropped").fetchall()
    return {r[0] for r in rows}


def test_version_with_another_dimension_swaps_in_and_prepared_readers_follow(conninfo, conn) -> None:
    load(conn, V1, dim=8)
    vs.swap_live(conn, V1)
    with psycopg.connect(conninfo, autocommit=True) as reader:
        for _ in range(6):  # prepared server-side by now
            assert vs.user_vector(reader, 100).shape == (8,)
            assert len(vs.similar_items(reader, "S00_0003", 5)) == 5
        load(conn, V2, dim=32, seed=1)
        vs.swap_live(conn, V2)
        assert vs.user_vector(reader, 100).shape == (8,)  # the reader's cached version, whole, for a few seconds
        serving_live.forget(reader)  # as when the cache expires
        assert vs.user_vector(reader, 100).shape == (32,)
        assert len(vs.similar_items(reader, "S00_0003", 5)) == 5
        assert len(vs.recommend_for_vector(reader, np.ones(32, dtype=np.float32), 5)) == 5
    assert vs.live_version(conn)["dimension"] == 32


def test_swap_of_an_unknown_version_raises_and_changes_nothing(conn) -> None:
    load(conn, V1)
    vs.swap_live(conn, V1)
    before = vs.versions(conn)
    with pytest.raises(vs.UnknownVersionError, match="unknown model version 'nope'"):
        vs.swap_live(conn, "nope")
    assert vs.versions(conn) == before
    assert view_counts(conn) == (50, 20)


def test_rollback_returns_to_the_previous_version_and_to_an_explicit_one(conn) -> None:
    for i, version in enumerate([V1, V2, V3]):
        load(conn, version, n_items=40 + i)
        vs.swap_live(conn, version)
    assert vs.rollback(conn) == V2
    assert vs.live_version(conn)["version"] == V2 and view_counts(conn)[0] == 41
    assert vs.rollback(conn, V1) == V1
    assert view_counts(conn)[0] == 40
    assert vs.rollback(conn) == V2  # the one live before the current: rolling back twice goes back and forth
    assert [v["version"] for v in vs.versions(conn) if v["is_live"]] == [V2]


def test_rollback_without_an_earlier_live_version_raises(conn) -> None:
    load(conn, V1)
    vs.swap_live(conn, V1)
    load(conn, V2)  # loaded, never live: not a rollback target
    with pytest.raises(vs.UnknownVersionError, match="no earlier live version"):
        vs.rollback(conn)
    assert vs.live_version(conn)["version"] == V1


# --- failures ------------------------------------------------------------------------------------------------


def broken(kind: str) -> tuple[EmbeddingsTable, EmbeddingsTable]:
    """A version that passes the loader's shape checks but fails inside the database, bypassing the file
    validation: a NaN in the last item row (rejected by pgvector mid-COPY) or a duplicate item id (rejected when
    the primary key is built after the COPY)."""
    items, users = embeddings(500, 20, 8, seed=3)
    vectors, ids = items.vectors.copy(), list(items.ids)
    if kind == "nan":
        vectors[-1, 4] = np.nan
    else:
        ids[-1] = ids[0]
    return EmbeddingsTable("item", ids, vectors, items.lines, 8, "item_embeddings.csv"), users


@pytest.mark.parametrize("kind", ["nan", "duplicate_id"])
def test_failed_load_leaves_the_live_version_untouched_and_nothing_behind(conn, kind) -> None:
    # GIVEN a live version
    load(conn, V1)
    vs.swap_live(conn, V1)
    before = vs.versions(conn)
    items, users = broken(kind)
    # WHEN loading another version fails inside PostgreSQL
    with pytest.raises(psycopg.Error, match=r"NaN not allowed|could not create unique index"):
        vs.load_version(conn, V2, items, users, source_uris={})
    # THEN the live version and its rows are untouched, and the failed version left no table and no row
    assert vs.versions(conn) == before
    assert view_counts(conn) == (50, 20)
    assert version_tables(conn, V2) == []
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_load_refuses_mismatched_shapes_before_touching_the_database(conn) -> None:
    items, users = embeddings(10, 5, 8)
    _, users16 = embeddings(10, 5, 16)
    with pytest.raises(ValueError, match="dimensions differ: 8 for items, 16 for users"):
        vs.load_version(conn, V1, items, users16, source_uris={})
    wrong = EmbeddingsTable("item", items.ids[:-1], items.vectors, items.lines, 8, "item_embeddings.csv")
    with pytest.raises(ValueError, match=r"shape \(10, 8\) do not match 9 ids"):
        vs.load_version(conn, V1, wrong, users, source_uris={})
    assert vs.versions(conn) == []


def test_reload_replaces_a_non_live_version_and_refuses_the_live_one(conn) -> None:
    load(conn, V1)
    vs.swap_live(conn, V1)
    load(conn, V2, n_items=30)
    assert load(conn, V2, n_items=35).item_count == 35  # a rerun of the same version replaces its tables
    vs.swap_live(conn, V2)
    assert view_counts(conn) == (35, 20)
    with pytest.raises(vs.VersionIsLiveError, match="is live"):
        load(conn, V2, n_items=99)
    assert view_counts(conn) == (35, 20)


def test_swap_waits_at_most_lock_timeout_for_a_stuck_reader(conninfo, conn) -> None:
    load(conn, V1)
    vs.swap_live(conn, V1)
    load(conn, V2)
    with psycopg.connect(conninfo) as stuck:  # a reader in an open transaction holds the view's lock
        stuck.execute("SELECT count(*) FROM item_embeddings").fetchone()
        with pytest.raises(psycopg.errors.LockNotAvailable):
            vs.swap_live(conn, V2, lock_timeout="200ms")
    assert vs.live_version(conn)["version"] == V1
    vs.swap_live(conn, V2)
    assert vs.live_version(conn)["version"] == V2


# --- queries -------------------------------------------------------------------------------------------------


@pytest.fixture
def big(conn) -> tuple[EmbeddingsTable, EmbeddingsTable]:
    """2,000 random items: enough rows for the planner to choose the HNSW index on its own."""
    items, users = embeddings(2000, 100, 16, seed=7)
    vs.load_version(conn, V1, items, users, source_uris={})
    vs.swap_live(conn, V1)
    return items, users


def test_knn_queries_use_the_hnsw_indexes(conn, big) -> None:
    item_table = vs.table_names(vs.slug(V1))[0]
    vs._register(conn)
    similar = explain(conn, "select_similar_items.sql", {"codes": ["S00_0001", "S00_0002"], "limit": 11})
    profiles = explain(conn, "select_items_for_profiles.sql", {
        "customers": [100, 99_999], "vectors": [None, big[1].vectors[0]], "limits": [10, 12]})
    assert f"Index Scan using {item_table}_cosine" in similar
    assert f"Index Scan using {item_table}_ip" in profiles
    assert "Seq Scan on item" not in similar + profiles


def test_query_helpers_agree_with_numpy(conn, big) -> None:
    items, users = big
    codes = np.array(items.ids)
    unit = items.vectors / np.linalg.norm(items.vectors, axis=1, keepdims=True)
    # similar items: cosine distance, itself excluded, nearest first
    got = vs.similar_items(conn, "S00_0042", 10)
    exact = 1 - unit @ unit[42]
    exact[42] = np.inf
    assert [c for c, _ in got] != [] and "S00_0042" not in [c for c, _ in got]
    assert len({c for c, _ in got} & set(codes[np.argsort(exact)[:10]])) >= 9
    np.testing.assert_allclose([d for _, d in got], exact[[items.ids.index(c) for c, _ in got]], atol=1e-5)
    assert [d for _, d in got] == sorted(d for _, d in got)
    # profile: inner product, best first, exclusions honoured, same answer from the vector or the stored user
    exclude = list(codes[np.argsort(-(items.vectors @ users.vectors[3]))[:5]])
    by_user = vs.recommend_for_user(conn, 103, 10, exclude=exclude)
    by_vector = vs.recommend_for_vector(conn, users.vectors[3], 10, exclude=exclude)
    assert by_user == by_vector and len(by_user) == 10 and not set(exclude) & {c for c, _ in by_user}
    np.testing.assert_allclose([s for _, s in by_user],
                               items.vectors[[items.ids.index(c) for c, _ in by_user]] @ users.vectors[3], rtol=1e-5)
    assert [s for _, s in by_user] == sorted((s for _, s in by_user), reverse=True)
    assert vs.recommend_for_user(conn, 99_999, 10) == [] and vs.similar_items(conn, "nope", 10) == []


def test_k_beyond_ef_search_still_returns_k_rows(conn, big) -> None:
    exclude = big[0].ids[:30]
    assert len(vs.recommend_for_user(conn, 100, 50, exclude=exclude)) == 50
    assert len(vs.similar_items(conn, "S00_0001", 60)) == 60
    assert conn.execute("SHOW hnsw.ef_search").fetchone() == ("40",)  # raised for those queries only


# --- prune ---------------------------------------------------------------------------------------------------


def test_prune_keeps_the_live_version_the_newest_n_and_the_rollback_target(conn) -> None:
    # GIVEN V1 then V2 went live, V3..V5 loaded after
    for version in [V1, V2]:
        load(conn, version)
        vs.swap_live(conn, version)
    for version in [V3, V4, V5]:
        load(conn, version)
    # WHEN pruning to the newest 2 not-live versions
    pruned = vs.prune(conn, keep=2)
    # THEN V3 goes; V5, V4 (newest), V2 (live) and V1 (where rollback() goes) stay
    assert pruned == [V3]
    assert version_tables(conn, V3) == []
    assert len(version_tables(conn, V1)) == 4
    rows = {v["version"]: v for v in vs.versions(conn)}
    assert rows[V3]["pruned_at"] is not None and rows[V2]["is_live"]
    with pytest.raises(vs.UnknownVersionError, match="was pruned"):
        vs.swap_live(conn, V3)
    assert vs.prune(conn, keep=2) == []  # idempotent
    assert vs.rollback(conn) == V1
    # keep=0 prunes every not-live version; the live one always stays; V2 just stopped being live: kept for now
    assert sorted(vs.prune(conn, keep=0)) == sorted([V4, V5])
    assert sorted(vs.prune(conn, keep=0, retired_grace=0)) == [V2]
    assert vs.live_version(conn)["version"] == V1 and view_counts(conn) == (50, 20)
    load(conn, V3)  # a pruned version can be loaded again
    vs.swap_live(conn, V3)
    assert vs.live_version(conn)["version"] == V3


def test_version_retired_moments_ago_is_pruned_only_after_the_grace_period(conn) -> None:
    # GIVEN V1 was live and V2 just replaced it
    for version in [V1, V2]:
        load(conn, version)
        vs.swap_live(conn, version)
    load(conn, V3)
    # WHEN pruning everything not live, with a 1-second grace period
    # THEN the never-live V3 goes at once, V1 (readers may still have it cached) only once the grace has passed
    assert vs.prune(conn, keep=0, retired_grace=1.0) == [V3]
    assert len(version_tables(conn, V1)) == 4
    retired = {v["version"]: v["retired_at"] for v in vs.versions(conn)}
    assert retired[V1] is not None and retired[V2] is None
    time.sleep(1.1)
    assert vs.prune(conn, keep=0, retired_grace=1.0) == [V1]
    assert version_tables(conn, V1) == []
