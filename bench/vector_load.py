"""Vector load: binary COPY against an executemany INSERT baseline, and HNSW build times, at 100k and 1M vectors.

    eval "$(.venv/bin/python -m devstack env)"    # the demo stack (PostgreSQL + pgvector on 5433)
    .venv/bin/python bench/vector_load.py [--sizes 100000,1000000] [--output bench/results/vector_load.md]

Method, per size n (32-dim float32 vectors, clustered: see `clustered_vectors`):

- **COPY**: `vector_store.load_version` itself, with n items (and 1,000 users), so the numbers are those of the
  production path: binary COPY (FREEZE) into the version's new table, primary keys, the two HNSW indexes
  (`vector_ip_ops`, `vector_cosine_ops`, m = 16, ef_construction = 64), ANALYZE, one transaction. The rate is
  items / `copy_items` seconds, client-side (includes psycopg building the binary rows).
- **executemany**: the baseline a first version would write, `cursor.executemany("INSERT ... VALUES
  (%(id)s, %(embedding)s)")` with pgvector's binary dumper; psycopg 3 already pipelines it (no round trip per
  row), in one transaction, into the same table shape without indexes. When running all n rows would take
  longer than `--executemany-budget` seconds (projected from the first 100k), only those 100k are run and the
  n-row time is extrapolated linearly (per-row cost does not depend on table size without indexes); the
  result says so.
- HNSW build times come from the same `load_version` run (`index_items_ip`, `index_items_cosine`), built with
  `maintenance_work_mem` = `--maintenance-work-mem` (default 1GB: the 1M graph must fit in memory, otherwise
  pgvector falls back to a much slower on-disk build and says so in a NOTICE, which is reported).

Everything happens in a schema `bench` (dropped at the end) of the local stack's vector DB.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

from host import host_facts  # noqa: E402

from dataplatform.vectordb import store as vs  # noqa: E402
from dataplatform.vectordb.embeddings_file import EmbeddingsTable  # noqa: E402
from devstack.connections import StackConnections  # noqa: E402

SCHEMA = os.environ.get("BENCH_SCHEMA", "bench")
"""The benches' schema (dropped at the end); override only to run two benches at once."""
DIMENSION = 32
DEFAULT_OUTPUT = REPO / "bench" / "results" / "vector_load.md"


def clustered_vectors(n: int, dim: int = DIMENSION, *, clusters: int = 1000, spread: float = 0.5,
                      seed: int = 0, centre_seed: int = 0) -> np.ndarray:
    """n float32 vectors around `clusters` random centres (N(0, 1) per coordinate), N(0, spread^2) noise.

    Closer to learnt embeddings (products of a kind sit together) than uniform noise, whose 32 independent
    dimensions are the worst case for any ANN index. The centres depend on `centre_seed` only, so another
    `seed` draws fresh points (queries) from the same distribution. Generated in chunks to bound memory.
    """
    centres = np.random.default_rng(centre_seed).standard_normal((clusters, dim)).astype(np.float32)
    rng = np.random.default_rng(seed + 1_000_003)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 200_000):
        stop = min(n, start + 200_000)
        out[start:stop] = centres[rng.integers(0, clusters, stop - start)]
        out[start:stop] += spread * rng.standard_normal((stop - start, dim)).astype(np.float32)
    return out


def product_codes(n: int) -> list[str]:
    return [f"P{i:07d}" for i in range(n)]


def conninfo() -> str:
    """The local stack's vector DB as the pipelines' role (`devstack.connections`; ports from LOCAL_PG_PORT),
    working in the `bench` schema (`public` after it for pgvector)."""
    return StackConnections.from_env().vector_conninfo(options=f"-c search_path={SCHEMA},public")


def reset_schema(conn: psycopg.Connection, create: bool) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
    if create:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))


def machine(conn: psycopg.Connection) -> dict[str, str]:
    """Where the numbers come from: hardware, load, software versions and the server settings that matter."""
    from importlib.metadata import version

    def setting(name: str) -> str:
        return str(conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0])

    server = conn.execute("SELECT current_setting('server_version'), "
                          "(SELECT extversion FROM pg_extension WHERE extname = 'vector')").fetchone()
    return {
        **host_facts(),
        "load average (1, 5, 15 min) at the start": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "Python": platform.python_version(),
        "psycopg / pgvector-python / numpy": f"{version('psycopg')} / {version('pgvector')} / {np.__version__}",
        "PostgreSQL / pgvector": f"{server[0]} / {server[1]} (the `pgserver` wheel, same host, TCP 127.0.0.1)",
        "server settings": ", ".join(f"{s} = {setting(s)}" for s in (
            "shared_buffers", "max_parallel_maintenance_workers", "max_parallel_workers_per_gather", "wal_level")),
    }


def executemany_insert(conn: psycopg.Connection, ids: list[str], vectors: np.ndarray) -> float:
    """Seconds to INSERT the rows with executemany (pipelined by psycopg 3) into a fresh unindexed table."""
    conn.execute("DROP TABLE IF EXISTS executemany_items")
    conn.execute(sql.SQL("CREATE TABLE executemany_items (product_code text NOT NULL, embedding vector({}) "
                         "NOT NULL)").format(sql.Literal(vectors.shape[1])))
    rows = ({"id": i, "embedding": v} for i, v in zip(ids, vectors, strict=True))
    start = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany("INSERT INTO executemany_items (product_code, embedding) VALUES (%(id)s, %(embedding)s)",
                        rows)
    seconds = time.perf_counter() - start
    count = conn.execute("SELECT count(*) FROM executemany_items").fetchone()[0]
    assert count == len(ids), (count, len(ids))
    conn.execute("DROP TABLE executemany_items")
    return seconds


def run_size(conn: psycopg.Connection, n: int, *, budget: float, maintenance_work_mem: str) -> dict:
    print(f"--- {n:,} vectors", flush=True)
    vectors = clustered_vectors(n)
    ids = product_codes(n)
    users = clustered_vectors(1000, seed=1)
    items_table = EmbeddingsTable("item", ids, vectors, np.arange(n), DIMENSION, f"bench items ({n})")
    users_table = EmbeddingsTable("user", list(range(1, 1001)), users, np.arange(1000), DIMENSION, "bench users")
    notices: list[str] = []
    handler = lambda d: notices.append(str(d.message_primary))  # noqa: E731
    conn.add_notice_handler(handler)
    try:
        loaded = vs.load_version(conn, f"bench-{n}", items_table, users_table, source_uris={},
                                 maintenance_work_mem=maintenance_work_mem)
    finally:
        conn.remove_notice_handler(handler)
    print(f"load_version: {loaded.timings}", flush=True)
    sizes = conn.execute(
        "SELECT pg_relation_size(%(t)s::regclass), pg_relation_size((%(t)s || '_ip')::regclass), "
        "pg_relation_size((%(t)s || '_cosine')::regclass)", {"t": vs.table_names(loaded.slug)[0]}).fetchone()

    sample = min(n, 100_000)
    sample_seconds = executemany_insert(conn, ids[:sample], vectors[:sample])
    projected = sample_seconds * n / sample
    if sample < n and projected <= budget:
        print(f"executemany: {sample:,} rows in {sample_seconds:.1f} s; running all {n:,}", flush=True)
        many_seconds, extrapolated = executemany_insert(conn, ids, vectors), False
    else:
        many_seconds, extrapolated = projected, sample < n
    print(f"executemany: {n:,} rows {'~' if extrapolated else ''}{many_seconds:.1f} s", flush=True)
    vs.prune(conn, keep=0)  # drop this size's tables before the next one
    return {"n": n, "timings": loaded.timings, "executemany_seconds": many_seconds, "extrapolated": extrapolated,
            "sample": sample, "sample_seconds": sample_seconds, "table_bytes": sizes[0], "ip_bytes": sizes[1],
            "cosine_bytes": sizes[2], "notices": [m for m in notices if "hnsw" in m.lower()]}


def report(results: list[dict], env: dict[str, str], env_end: str, args: argparse.Namespace,
           wall: float) -> str:
    lines = [
        "# Vector load: binary COPY vs executemany, HNSW build times",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `bench/vector_load.py --sizes "
        f"{args.sizes} --maintenance-work-mem {args.maintenance_work_mem}` (method in its docstring), "
        f"{wall / 60:.1f} min in all. {DIMENSION}-dim float32 vectors, clustered (1,000 centres). COPY and index "
        "times are `vector_store.load_version`'s own step timings (one transaction per size).",
        "",
        "## Machine",
        "",
        *[f"- {k}: `{v}`" for k, v in env.items()],
        f"- load average at the end: `{env_end}`",
        "",
        "The machine was shared with other jobs (see the load averages: 2 logical CPUs), so absolute times are "
        "pessimistic and noisy; the ratios measured in the same run are the robust part.",
        "",
        "## Bulk load",
        "",
        "| vectors | binary COPY (s) | COPY vectors/s | executemany (s) | executemany vectors/s | COPY speed-up |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        copy_s = r["timings"]["copy_items"]
        many = r["executemany_seconds"]
        mark = "~" if r["extrapolated"] else ""
        lines.append(f"| {r['n']:,} | {copy_s:.2f} | {r['n'] / copy_s:,.0f} | {mark}{many:.1f} | "
                     f"{mark}{r['n'] / many:,.0f} | {mark}{many / copy_s:.1f}x |")
    for r in results:
        if r["extrapolated"]:
            lines.append(f"\n~ extrapolated: executemany ran on a {r['sample']:,}-row sample "
                         f"({r['sample_seconds']:.1f} s) for the {r['n']:,} row, scaled linearly (running all rows "
                         f"was projected over the {args.executemany_budget:.0f} s budget).")
    lines += [
        "",
        "## Index builds (HNSW, m = 16, ef_construction = 64)",
        "",
        "| vectors | `vector_ip_ops` (s) | `vector_cosine_ops` (s) | primary keys (s) | ANALYZE (s) | "
        "whole load_version (s) | table / ip index / cosine index (MB) | build / COPY |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        t = r["timings"]
        mb = "/".join(f"{r[k] / 2**20:.0f}" for k in ("table_bytes", "ip_bytes", "cosine_bytes"))
        ratio = (t["index_items_ip"] + t["index_items_cosine"]) / t["copy_items"]
        lines.append(f"| {r['n']:,} | {t['index_items_ip']:.1f} | {t['index_items_cosine']:.1f} | "
                     f"{t['primary_keys']:.2f} | {t['analyze']:.2f} | {t['total']:.1f} | {mb} | {ratio:.0f}x |")
    notes = sorted({m for r in results for m in r["notices"]})
    lines += ["", "pgvector notices during the builds: " + ("; ".join(f"`{m}`" for m in notes) if notes else
                                                           "none (every graph fit in maintenance_work_mem).")]
    if len(results) > 1:
        a, b = results[0], results[-1]
        scale = b["n"] / a["n"]
        ip = b["timings"]["index_items_ip"] / a["timings"]["index_items_ip"]
        cos = b["timings"]["index_items_cosine"] / a["timings"]["index_items_cosine"]
        cp = b["timings"]["copy_items"] / a["timings"]["copy_items"]
        lines += ["", f"From {a['n']:,} to {b['n']:,} vectors ({scale:.0f}x): COPY time x{cp:.1f}, "
                      f"ip index build x{ip:.1f}, cosine index build x{cos:.1f}."]
    lines += [
        "",
        "## Reading",
        "",
        "- Binary COPY is the loader's path; the index builds, not the load, dominate a version's load time, "
        "and they run before the swap, so readers never wait for them.",
        "- The build happens inside the load's transaction on the version's own table: the live version keeps "
        "serving meanwhile.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--executemany-budget", type=float, default=240.0,
                        help="seconds; above this projected time, executemany runs on a 100k sample")
    parser.add_argument("--maintenance-work-mem", default="1GB")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        reset_schema(conn, create=True)
        try:
            vs.ensure_schema(conn)
            env = machine(conn)
            results = [run_size(conn, n, budget=args.executemany_budget,
                                maintenance_work_mem=args.maintenance_work_mem) for n in sizes]
        finally:
            reset_schema(conn, create=False)
    env_end = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    text = report(results, env, env_end, args, time.perf_counter() - started)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
