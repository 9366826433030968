"""Served k-NN quality: recall@10 of the serving reads against an exact scan, per `hnsw.ef_search`, at 10k and
100k items; and the in-process NumPy alternative's latency, to choose between them.

    eval "$(.venv/bin/python -m devstack env)"    # the demo stack, or the tests' with their LOCAL_* ports
    .venv/bin/python bench/serving_recall.py [--sizes 10000,100000] [--queries 300]
                                             [--ef 40,64,100,160] [--output bench/results/serving_recall.md]

Method, per size n: a model-shaped version (`serving_data`: 33-dim items and 2,000 users) loaded and made live
by the real loader (HNSW m = 16, ef_construction = 64). The queries are the ones the Lambdas run, through the
serving package's own reads (`dataplatform.serving.queries.read_batch`, the SQL files it ships), in batches of
50 as the Firehose transformation sends them:

- **profile** ("based on your profile", `select_items_for_profiles.sql`, HNSW `vector_ip_ops`): `--queries`
  stored customers, each with a cart of 0-3 of its own 20 best items, which the answer must leave out. Truth:
  the exact top 10 by inner product (float64 NumPy) without the cart.
- **similar** (`select_similar_items.sql`, HNSW `vector_cosine_ops`): `--queries` random products. Truth: the
  exact 10 nearest by cosine distance, itself excluded.

recall@10 = share of the true 10 returned, averaged over the queries. Latency: wall time per batch of 50 / 50
(one pipelined round trip per batch) and of one query alone (p50, the online case). Alongside: the same answers
by NumPy in process (float32 matrix product + argpartition, one BLAS thread) per batch of 50 and for one query.
Runs in the schema `bench_serving` (dropped at the end).
"""

from __future__ import annotations

import os

for _blas in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_blas, "1")  # before NumPy is imported: one BLAS thread, like one backend or Lambda vCPU

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
import serving_data  # noqa: E402
from psycopg import sql  # noqa: E402
from vector_load import machine  # noqa: E402

from dataplatform.serving import live as serving_live  # noqa: E402
from dataplatform.serving import queries  # noqa: E402
from devstack.connections import StackConnections  # noqa: E402

SCHEMA = "bench_serving"
K, BATCH = 10, 50
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "bench" / "results" / "serving_recall.md"


def conninfo() -> str:
    return StackConnections.from_env().vector_conninfo(options=f"-c search_path={SCHEMA},public")


def reset(conn: psycopg.Connection, create: bool) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
    if create:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))


def workload(bench: serving_data.BenchModel, n_queries: int, seed: int) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    profiles = []
    for user in rng.choice(len(bench.user_ids), n_queries, replace=False):
        best = bench.exact_profile(bench.users[user], 20)
        cart = set(rng.choice(best, int(rng.integers(0, 4)), replace=False).tolist())
        profiles.append((bench.user_ids[user], cart, bench.exact_profile(bench.users[user], K, cart)))
    sources = [bench.item_ids[i] for i in rng.choice(len(bench.item_ids), n_queries, replace=False)]
    similar = [(code, bench.exact_similar(code, K)) for code in sources]
    return profiles, similar


def measure_pg(conn: psycopg.Connection, live: serving_live.LiveModel, ef: int, profiles: list,
               similar: list) -> dict[str, float]:
    limits = queries.ReadLimits(ef_search=ef, statement_timeout="0")
    recall_p, recall_s, batch_times = [], [], []
    for start in range(0, len(profiles), BATCH):
        chunk = profiles[start:start + BATCH]
        sources = similar[start:start + BATCH]
        began = time.perf_counter()
        pending = queries.read_batch(conn, live, limits=limits,
                                     profiles=[queries.ProfileQuery(c, None, K + len(cart)) for c, cart, _ in chunk],
                                     similar_codes=[code for code, _ in sources], similar_limit=K)
        answers, neighbours = pending.profile_answers(), pending.similar_answers()
        batch_times.append((time.perf_counter() - began) / len(chunk))
        for (_, cart, truth), answer in zip(chunk, answers, strict=True):
            got = [code for code, _ in answer.items if code not in cart][:K]
            recall_p.append(len(set(got) & set(truth)) / K)
        for code, truth in sources:
            recall_s.append(len({c for c, _ in neighbours.get(code, [])[:K]} & set(truth)) / K)
    single = []
    for customer, cart, _ in profiles[:100]:
        began = time.perf_counter()
        queries.read_batch(conn, live, limits=limits, profiles=[queries.ProfileQuery(customer, None, K + len(cart))],
                           similar_codes=[similar[len(single)][0]], similar_limit=K).profile_answers()
        single.append(time.perf_counter() - began)
    return {"recall_profile": float(np.mean(recall_p)), "recall_similar": float(np.mean(recall_s)),
            "per_query_ms_in_batch": statistics.median(batch_times) * 1e3,
            "single_p50_ms": statistics.median(single) * 1e3}


def measure_numpy(bench: serving_data.BenchModel, profiles: list, similar: list) -> dict[str, float]:
    items = bench.items
    unit = items / np.linalg.norm(items, axis=1, keepdims=True)
    index = {code: i for i, code in enumerate(bench.item_ids)}
    users = {u: bench.users[i] for i, u in enumerate(bench.user_ids)}

    def answer(chunk: list, sources: list) -> None:
        q = np.stack([users[c] for c, _, _ in chunk])
        scores = q @ items.T
        np.argpartition(-scores, K + 3, axis=1)[:, : K + 3]
        s = unit[[index[code] for code, _ in sources]] @ unit.T
        np.argpartition(-s, K + 1, axis=1)[:, : K + 1]

    batch_times, single = [], []
    for start in range(0, len(profiles), BATCH):
        began = time.perf_counter()
        answer(profiles[start:start + BATCH], similar[start:start + BATCH])
        batch_times.append((time.perf_counter() - began) / BATCH)
    for i in range(100):
        began = time.perf_counter()
        answer(profiles[i:i + 1], similar[i:i + 1])
        single.append(time.perf_counter() - began)
    return {"per_query_ms_in_batch": statistics.median(batch_times) * 1e3,
            "single_p50_ms": statistics.median(single) * 1e3, "matrix_mb": items.nbytes * 2 / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--ef", default="40,64,100,160")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    sizes, efs = [int(s) for s in args.sizes.split(",")], [int(e) for e in args.ef.split(",")]
    started = time.perf_counter()
    rows, loads, numpy_rows = [], {}, {}
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        env = machine(conn)
        try:
            for n in sizes:
                reset(conn, create=True)
                bench = serving_data.model(n)
                loads[n] = serving_data.load(conn, bench)
                live = serving_live.resolve(conn)
                profiles, similar = workload(bench, args.queries, seed=n)
                for ef in efs:
                    result = measure_pg(conn, live, ef, profiles, similar)
                    rows.append({"n": n, "ef": ef, **result})
                    print(f"n={n} ef={ef}: {result}", flush=True)
                numpy_rows[n] = measure_numpy(bench, profiles, similar)
                print(f"n={n} numpy: {numpy_rows[n]}", flush=True)
        finally:
            reset(conn, create=False)
    write(args, env, rows, loads, numpy_rows, time.perf_counter() - started)


def write(args: argparse.Namespace, env: dict[str, str], rows: list[dict], loads: dict, numpy_rows: dict,
          seconds: float) -> None:
    lines = [
        "# Served k-NN quality: recall@10 per hnsw.ef_search, and the in-process alternative",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `bench/serving_recall.py --sizes {args.sizes} "
        f"--queries {args.queries} --ef {args.ef}` (method in its docstring), {seconds / 60:.1f} min in all.",
        "",
        "## Machine",
        "",
        *[f"- {k}: `{v}`" for k, v in env.items()],
        f"- load average at the end: `{', '.join(f'{x:.2f}' for x in os.getloadavg())}`",
        "",
        "## Recall and latency of the serving reads (PostgreSQL + pgvector HNSW)",
        "",
        "| items | ef_search | recall@10 profile (ip) | recall@10 similar (cosine) | ms per query, batches of 50 |"
        " ms, one query alone (p50) |",
        "|---:|---:|---:|---:|---:|---:|",
        *[f"| {r['n']:,} | {r['ef']} | {r['recall_profile']:.3f} | {r['recall_similar']:.3f} | "
          f"{r['per_query_ms_in_batch']:.2f} | {r['single_p50_ms']:.2f} |" for r in rows],
        "",
        "## The in-process alternative (NumPy, exact: recall 1.0)",
        "",
        "| items | ms per query, batches of 50 | ms, one query alone (p50) | both matrices in memory (MB) |",
        "|---:|---:|---:|---:|",
        *[f"| {n:,} | {r['per_query_ms_in_batch']:.2f} | {r['single_p50_ms']:.2f} | {r['matrix_mb']:.0f} |"
          for n, r in numpy_rows.items()],
        "",
        "## Load (the real loader)",
        "",
        "| items | copy items (s) | HNSW ip (s) | HNSW cosine (s) | total (s) |",
        "|---:|---:|---:|---:|---:|",
        *[f"| {n:,} | {t['copy_items']:.1f} | {t['index_items_ip']:.1f} | {t['index_items_cosine']:.1f} | "
          f"{t['total']:.1f} |" for n, t in loads.items()],
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
