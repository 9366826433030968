"""Vector search: k-NN latency and recall@10, HNSW vs exact scan in PostgreSQL vs NumPy, at 10k, 100k, 1M items.

    eval "$(.venv/bin/python -m devstack env)"    # the demo stack (PostgreSQL + pgvector on 5433)
    .venv/bin/python bench/vector_search.py [--sizes 10000,100000,1000000] [--queries 200]
                                            [--output bench/results/vector_search.md]

Method, per size n (32-dim float32 item vectors, clustered around 1,000 centres: `vector_load.clustered_vectors`):

- The items are loaded like a model version (binary COPY into a new table, primary key, ANALYZE) and get the
  HNSW `vector_cosine_ops` index the loader builds (m = 16, ef_construction = 64): the "similar to what you
  browsed" search, cosine distance `<=>`. Its build time is reported.
- `--queries` query vectors are fresh points from the same distribution (not in the table). Each method
  answers `ORDER BY embedding <=> q LIMIT 10` for every query, in one session, after 20 warm-up queries:
  * **HNSW ef_search = 40** (pgvector's default) and **HNSW ef_search = 100**: the index scan;
  * **exact, PostgreSQL**: the same statement with `SET enable_indexscan = off` in that session, so the
    planner scans every row (parallel sequential scan + top-10 sort): the database's brute force;
  * **exact, NumPy**: in-process brute force on the client's copy (normalised matrix . query, argpartition),
    the "just keep the vectors in the Lambda" alternative. No network, no SQL. Single-threaded BLAS
    (`OPENBLAS_NUM_THREADS=1`, set before NumPy is imported), like one PostgreSQL backend or a 1-vCPU Lambda:
    with 2 BLAS threads on this shared 2-CPU machine the threads spin against the other processes and a 100k
    search took 16 ms instead of 1.7 ms.
  The plan of each PostgreSQL method is checked (index scan or not) and shown. Each method has its own
  statement text, so no method runs a plan prepared and cached under another method's settings.
- Latency is the client's wall time per query (execute + fetch over TCP on 127.0.0.1, prepared statement),
  so it includes one local round trip; p50 and p99 over the queries. Recall@10 is the share of the true 10
  nearest (computed in float64 with NumPy) a method returns, averaged over the queries.
- A method whose queries would run past `--method-budget` seconds stops early; the table says how many
  queries it ran.

Everything happens in a schema `bench` (dropped at the end) of the local stack's vector DB.
Do not run it at the same time as `vector_load.py`: both use that schema.
"""

from __future__ import annotations

import os

for _blas in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_blas, "1")  # before NumPy is imported: see the docstring

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from vector_load import DIMENSION, REPO, clustered_vectors, conninfo, machine, product_codes, reset_schema  # noqa: E402

from dataplatform.vectordb import store as vs  # noqa: E402

K = 10
WARMUP = 20
DEFAULT_OUTPUT = REPO / "bench" / "results" / "vector_search.md"


@dataclass
class Method:
    name: str
    latencies: list[float]
    recall: float
    plan: str


def load_table(conn: psycopg.Connection, n: int, vectors: np.ndarray, maintenance_work_mem: str) -> dict:
    """The items as the loader would store them; returns the table name, build time and sizes."""
    table = f"items_{n}"
    ident = sql.Identifier(table)
    vs._register(conn)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE TABLE {} (product_code text NOT NULL, embedding vector({}) NOT NULL)")
                    .format(ident, sql.Literal(DIMENSION)))
        vs.copy_rows(cur, vs._composed("copy_item_embeddings.sql", item_table=ident), ["text", "vector"],
                     product_codes(n), vectors)
        cur.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (product_code)").format(ident))
    notices: list[str] = []
    handler = lambda d: notices.append(str(d.message_primary))  # noqa: E731
    conn.add_notice_handler(handler)
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT set_config('maintenance_work_mem', %(m)s, true)", {"m": maintenance_work_mem})
            start = time.perf_counter()
            index = vs.create_hnsw_index(cur, table, "vector_cosine_ops")
            build = time.perf_counter() - start
    finally:
        conn.remove_notice_handler(handler)
    conn.execute(sql.SQL("ANALYZE {}").format(ident))
    sizes = conn.execute("SELECT pg_relation_size(%(t)s::regclass), pg_relation_size(%(i)s::regclass)",
                         {"t": table, "i": index}).fetchone()
    return {"table": table, "index": index, "build": build, "table_bytes": sizes[0], "index_bytes": sizes[1],
            "notices": [m for m in notices if "hnsw" in m.lower()]}


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The true K nearest by cosine distance, in float64, in chunks of queries to bound memory."""
    unit = vectors.astype(np.float64)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    q = queries.astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    out = np.empty((len(queries), K), dtype=np.int64)
    for start in range(0, len(q), 16):
        similarity = q[start:start + 16] @ unit.T
        top = np.argpartition(-similarity, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(similarity, top, axis=1), axis=1)
        out[start:start + 16] = np.take_along_axis(top, order, axis=1)
    return out


def timed(queries: np.ndarray, answer: Callable[[np.ndarray], list[int]], budget: float
          ) -> tuple[list[float], list[list[int]]]:
    """Warm up on the first `WARMUP` queries, then time each of the others."""
    for q in queries[:WARMUP]:
        answer(q)
    latencies, results = [], []
    deadline = time.perf_counter() + budget
    for q in queries[WARMUP:]:
        start = time.perf_counter()
        results.append(answer(q))
        latencies.append(time.perf_counter() - start)
        if time.perf_counter() > deadline:
            break
    return latencies, results


def recall(results: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(r) & set(t.tolist())) / K for r, t in zip(results, truth, strict=False)]))


def postgres_method(conn: psycopg.Connection, name: str, table: str, settings: dict[str, str],
                    queries: np.ndarray, truth: np.ndarray, budget: float) -> Method:
    for setting, value in settings.items():
        conn.execute("SELECT set_config(%(s)s, %(v)s, false)", {"s": setting, "v": value})
    # One statement text per method: psycopg prepares a statement after 5 runs and PostgreSQL may then keep a
    # generic plan, planned under the settings of that time. Reusing the HNSW methods' statement would run the
    # "exact" method through the index plan cached before `enable_indexscan = off` (this happened).
    tag = "".join(ch if ch.isalnum() else "_" for ch in name)
    statement = sql.SQL("SELECT /* {} */ product_code FROM {} ORDER BY embedding <=> %(q)s LIMIT %(k)s").format(
        sql.SQL(tag), sql.Identifier(table))
    plan = "\n".join(r[0] for r in conn.execute(sql.SQL("EXPLAIN ") + statement, {"q": queries[0], "k": K}))
    scan = next((ln.strip().split("  (")[0].lstrip("-> ") for ln in plan.splitlines() if "Scan" in ln), plan)

    def answer(q: np.ndarray) -> list[int]:
        rows = conn.execute(statement, {"q": q, "k": K}, prepare=True).fetchall()
        return [int(code[1:]) for (code,) in rows]

    latencies, results = timed(queries, answer, budget)
    for setting in settings:
        conn.execute(sql.SQL("RESET {}").format(sql.Identifier(*setting.split("."))))
    return Method(name, latencies, recall(results, truth), scan)


def numpy_method(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, budget: float) -> Method:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def answer(q: np.ndarray) -> list[int]:
        distance = 1.0 - unit @ (q / np.linalg.norm(q))
        top = np.argpartition(distance, K)[:K]
        return top[np.argsort(distance[top])].tolist()

    latencies, results = timed(queries, answer, budget)
    return Method("exact, NumPy (in process, 1 thread)", latencies, recall(results, truth),
                  "float32 matrix-vector product")


def run_size(conn: psycopg.Connection, n: int, args: argparse.Namespace) -> dict:
    print(f"--- {n:,} items", flush=True)
    vectors = clustered_vectors(n)
    queries = clustered_vectors(args.queries + WARMUP, seed=99)
    truth = exact_neighbours(vectors, queries[WARMUP:])
    loaded = load_table(conn, n, vectors, args.maintenance_work_mem)
    print(f"HNSW cosine build {loaded['build']:.1f} s", flush=True)
    warm = queries  # the first WARMUP ones warm up, the others are measured
    methods = [
        postgres_method(conn, "HNSW, ef_search = 40", loaded["table"], {"hnsw.ef_search": "40"}, warm, truth,
                        args.method_budget),
        postgres_method(conn, f"HNSW, ef_search = {args.high_ef}", loaded["table"],
                        {"hnsw.ef_search": str(args.high_ef)}, warm, truth, args.method_budget),
        postgres_method(conn, "exact, PostgreSQL (enable_indexscan = off)", loaded["table"],
                        {"enable_indexscan": "off"}, warm, truth, args.method_budget),
        numpy_method(vectors, warm, truth, args.method_budget),
    ]
    for m in methods:
        print(f"{m.name}: p50 {statistics.median(m.latencies) * 1e3:.2f} ms, recall {m.recall:.3f}, "
              f"{len(m.latencies)} queries, {m.plan}", flush=True)
    conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(loaded["table"])))
    return {"n": n, "loaded": loaded, "methods": methods}


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


def report(results: list[dict], env: dict[str, str], env_end: str, args: argparse.Namespace, wall: float) -> str:
    lines = [
        "# Vector search: HNSW vs exact scan vs NumPy, latency and recall@10",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `bench/vector_search.py --sizes {args.sizes} "
        f"--queries {args.queries}` (method in its docstring), {wall / 60:.1f} min in all. {DIMENSION}-dim float32 "
        f"item vectors, **clustered** (1,000 centres, noise sd 0.5 around N(0, 1) centres); queries are fresh "
        f"points from the same distribution; cosine distance, k = {K}; HNSW m = 16, ef_construction = 64.",
        "",
        "## Machine",
        "",
        *[f"- {k}: `{v}`" for k, v in env.items()],
        f"- load average at the end: `{env_end}`",
        "",
        "The machine was shared with other jobs (2 logical CPUs, see the load averages): latencies are pessimistic "
        "and the p99 especially includes scheduling noise; compare methods within a size.",
        "",
        "## Results",
        "",
        "| items | method | plan | queries | p50 (ms) | p99 (ms) | recall@10 | p50 speed-up vs exact PG |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        exact = statistics.median(r["methods"][2].latencies)
        for m in r["methods"]:
            p50 = statistics.median(m.latencies)
            lines.append(f"| {r['n']:,} | {m.name} | {m.plan} | {len(m.latencies)} | {p50 * 1e3:.2f} | "
                         f"{percentile(m.latencies, 99) * 1e3:.2f} | {m.recall:.3f} | {exact / p50:.1f}x |"
                         if m is not r["methods"][2] else
                         f"| {r['n']:,} | {m.name} | {m.plan} | {len(m.latencies)} | {p50 * 1e3:.2f} | "
                         f"{percentile(m.latencies, 99) * 1e3:.2f} | {m.recall:.3f} | 1x |")
    lines += [
        "",
        "## Index",
        "",
        "| items | HNSW cosine build (s) | table (MB) | index (MB) | pgvector notices |",
        "|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ld = r["loaded"]
        lines.append(f"| {r['n']:,} | {ld['build']:.1f} | {ld['table_bytes'] / 2**20:.0f} | "
                     f"{ld['index_bytes'] / 2**20:.0f} | {'; '.join(ld['notices']) or 'none'} |")
    short = [(r["n"], m.name, len(m.latencies)) for r in results for m in r["methods"]
             if len(m.latencies) < args.queries]
    if short:
        lines += ["", "Stopped at the per-method budget of "
                  f"{args.method_budget:.0f} s: " + "; ".join(f"{name} at {n:,} items ran {q} queries"
                                                             for n, name, q in short) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--high-ef", type=int, default=100)
    parser.add_argument("--method-budget", type=float, default=240.0, help="seconds of queries per method and size")
    parser.add_argument("--maintenance-work-mem", default="1GB")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    started = time.perf_counter()
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        reset_schema(conn, create=True)
        try:
            env = machine(conn)
            results = [run_size(conn, int(n), args) for n in args.sizes.split(",")]
        finally:
            reset_schema(conn, create=False)
    env_end = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    text = report(results, env, env_end, args, time.perf_counter() - started)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
