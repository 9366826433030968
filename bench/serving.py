"""Serving benchmark: the recommender (what the Lambdas run) beside the raw ceiling and the naive design.

    eval "$(.venv/bin/python -m devstack env)"    # the demo stack, or the tests' with their LOCAL_* ports
    .venv/bin/python bench/serving.py [--sizes 10000,100000] [--clients 4] [--seconds 8]
                                      [--output bench/results/serving.md]

Per size n (model-shaped items and 2,000 customers with stored vectors, `serving_data`, loaded as the live
version by the real loader), every method answers the same events (a known customer, 0-10 browsed products
drawn with a Zipf-like popularity, 0-2 of them in the cart; k = 10 recommended items, 5 similar items for each of
up to 10 browsed products):

- **recommender**: `dataplatform.serving.Recommender` as a Lambda container runs it: warmed (live version
  resolved, neighbour lists and vectors loaded), pydantic event in, pydantic record out, fallback and deadlines
  armed.
- **recommender, scans**: the same without the version's neighbour lists (`ServingOptions.neighbour_lists=False`):
  every answer by exact scans of the vectors in process (similar items by HNSW above 25k items), as before the
  loader computed the lists; shown to measure what they gain.
- **raw SQL**: one hand-written statement per request on a plain autocommit psycopg connection (prepared),
  HNSW on the live version's tables at pgvector's default ef_search, rows out, nothing else: the database
  ceiling. For a batch: the same as one statement over all the batch's queries.
- **raw NumPy**: the answer computed in process from matrices already in memory (no database, no model
  objects, no validation): the compute ceiling.
- **naive**: the seed's design, three separate inference calls per record on the views (the user's vector,
  then the items for it, then the similar items), each its own round trip.

Measurements, all in one run:

1. **Online, saturated**: `--clients` processes (each its own connection / container), each sending requests
   back to back for `--seconds`: p50 / p99 latency and recommendations per second in total.
2. **Online at the rate of 10,000 active users**: assumption: an active user loads a page that shows
   recommendations every 30 s on average, so 10,000 users send ~333 requests/s. Open loop: requests are scheduled
   at that rate across the clients and latency is measured from the scheduled time (a request that has to wait
   for the previous one counts its wait), p50 / p99, and how many were answered late (> 1 s).
3. **A 500-record Firehose batch**: `recommend_batch` of 500 events (median of 5) vs raw SQL batched, raw
   NumPy batched, and naive (3 x 500 calls).
4. **Swaps**: recommender clients for `--seconds` without swaps, then during 20 swaps between two versions while
   an analyst holds a 2-second transaction on the views: p99 during vs before (at the first size only: a
   second version of 100k items takes minutes to load on this machine).

Budgets (issue 8): online p99 <= 2x the raw ceiling's p99; recommendations per second >= 0.8x the raw ceiling;
the 500-record batch <= 1.3x the best raw way and >= 10x faster than naive; p99 during swaps <= 2x without.
Runs in the schema `bench_serving` (dropped at the end).
"""

from __future__ import annotations

import os

for _blas in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_blas, "1")  # before NumPy is imported: one BLAS thread per process, like a Lambda vCPU

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import psycopg  # noqa: E402
import serving_data  # noqa: E402
from psycopg import sql  # noqa: E402
from serving_recall import conninfo, reset  # noqa: E402
from vector_load import machine  # noqa: E402

from dataplatform.serving.live import resolve  # noqa: E402
from dataplatform.serving.models import UserActivityEvent  # noqa: E402
from dataplatform.serving.queries import register_vector_types  # noqa: E402
from dataplatform.serving.recommender import Recommender, ServingOptions  # noqa: E402
from dataplatform.vectordb import store  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "bench" / "results" / "serving.md"
K, SIMILAR_K, MAX_SOURCES = 10, 5, 10
USERS_PER_SECOND = 10_000 / 30  # 10,000 active users, one recommendation page every 30 s each
BATCH = 500
METHODS = ("recommender", "recommender, scans", "raw SQL", "raw NumPy", "naive")

RAW_ONE = """
SELECT 0, n.product_code, n.score
FROM (SELECT embedding FROM {user_table} WHERE customer_number = %(customer)s) u
CROSS JOIN LATERAL (SELECT product_code, -(embedding <#> u.embedding) AS score FROM {item_table}
                    ORDER BY embedding <#> u.embedding LIMIT %(k)s) n
UNION ALL
SELECT 1, n.product_code, n.distance
FROM {item_table} s
CROSS JOIN LATERAL (SELECT product_code, embedding <=> s.embedding AS distance FROM {item_table}
                    ORDER BY embedding <=> s.embedding LIMIT %(k_similar)s) n
WHERE s.product_code = ANY (%(codes)s::text[])
"""
RAW_BATCH = """
SELECT q.i, n.product_code, n.score
FROM unnest(%(customers)s::int[], %(limits)s::int[]) WITH ORDINALITY AS q(c, lim, i)
JOIN {user_table} u ON u.customer_number = q.c
CROSS JOIN LATERAL (SELECT product_code, -(embedding <#> u.embedding) AS score FROM {item_table}
                    ORDER BY embedding <#> u.embedding LIMIT q.lim) n
UNION ALL
SELECT -1, s.product_code || ' ' || n.product_code, n.distance
FROM {item_table} s
CROSS JOIN LATERAL (SELECT product_code, embedding <=> s.embedding AS distance FROM {item_table}
                    ORDER BY embedding <=> s.embedding LIMIT %(k_similar)s) n
WHERE s.product_code = ANY (%(codes)s::text[])
"""
NAIVE_USER = "SELECT embedding FROM user_embeddings WHERE customer_number = %(customer)s"
NAIVE_ITEMS = ("SELECT product_code, -(embedding <#> %(q)s) FROM item_embeddings WHERE product_code <> ALL(%(cart)s) "
               "ORDER BY embedding <#> %(q)s LIMIT %(k)s")
NAIVE_SIMILAR = """
SELECT s.product_code, n.product_code, n.distance
FROM item_embeddings s
CROSS JOIN LATERAL (SELECT product_code, embedding <=> s.embedding AS distance FROM item_embeddings
                    ORDER BY embedding <=> s.embedding LIMIT %(k_similar)s) n
WHERE s.product_code = ANY (%(codes)s::text[])
"""

# --- the workload ----------------------------------------------------------------------------------------------


def events_for(bench: serving_data.BenchModel, n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, len(bench.item_ids) + 1) ** 0.8
    popularity /= popularity.sum()
    out = []
    for i in range(n):
        browsed = rng.choice(len(bench.item_ids), int(rng.integers(0, 11)), replace=False, p=popularity)
        in_cart = set(rng.choice(len(browsed), min(len(browsed), int(rng.integers(0, 3))), replace=False).tolist())
        out.append({"session_id": f"bench-{seed}-{i}", "customer_number": int(rng.integers(1, serving_data.USERS + 1)),
                    "city": "Madrid", "country": "Spain", "credit_limit": 50_000.0,
                    "browse_history": [{"product_code": bench.item_ids[b], "quantity": "1",
                                        "in_shopping_cart": j in in_cart} for j, b in enumerate(browsed)]})
    return out


def cart_and_sources(event: dict[str, Any]) -> tuple[list[str], list[str]]:
    history = event["browse_history"]
    cart = [h["product_code"] for h in history if h["in_shopping_cart"]]
    others = [h["product_code"] for h in reversed(history) if not h["in_shopping_cart"]]
    return cart, list(dict.fromkeys(cart + others))[:MAX_SOURCES]


# --- the methods: each a client made inside its own process ----------------------------------------------------


class FellBack(RuntimeError):
    """The recommender answered from its fallback although the database is up: the figures would be wrong."""


class RecommenderClient:
    def __init__(self, dsn: str, *, lists: bool = True) -> None:
        self.recommender = Recommender(dsn, options=ServingOptions(deadline_seconds=5.0, budget_seconds=5.0,
                                                                   warm_seconds=120.0, neighbour_lists=lists))
        self.recommender.warm()
        in_process = self.recommender.status()["in_process"]
        if in_process is None or lists == in_process.endswith("lists: none"):
            raise FellBack(f"vectors or lists not loaded in process as asked: {self.recommender.status()}")

    def one(self, event: dict[str, Any]) -> None:
        record = self.recommender.recommend(UserActivityEvent.model_validate(event))
        if record.fallback:
            raise FellBack(f"{record.fallback_reason}: {self.recommender.status()}")
        record.model_dump(mode="json")

    def batch(self, events: list[dict[str, Any]]) -> None:
        """The Firehose transformation's work: parse, infer, serialise."""
        self.records(self.parsed(events))

    @staticmethod
    def parsed(events: list[dict[str, Any]]) -> list[UserActivityEvent]:
        return [UserActivityEvent.model_validate(e) for e in events]

    def records(self, parsed: list[UserActivityEvent]) -> list[dict[str, Any]]:
        return [r.model_dump(mode="json") for r in self.inference(parsed)]

    def inference(self, parsed: list[UserActivityEvent]) -> list[Any]:
        records = self.recommender.recommend_batch(parsed, deadline_seconds=30.0)
        if any(r.fallback for r in records):
            raise FellBack(f"fallback in a batch: {self.recommender.status()}")
        return records


class RawSqlClient:
    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        register_vector_types(self.conn)
        live = resolve(self.conn)
        self.one_sql = sql.SQL(RAW_ONE).format(**live.identifiers())
        self.batch_sql = sql.SQL(RAW_BATCH).format(**live.identifiers())

    def one(self, event: dict[str, Any]) -> None:
        cart, sources = cart_and_sources(event)
        self.conn.execute(self.one_sql, {"customer": event["customer_number"], "k": K + len(cart),
                                         "codes": sources, "k_similar": SIMILAR_K + 1}, prepare=True).fetchall()

    def batch(self, events: list[dict[str, Any]]) -> None:
        carts = [cart_and_sources(e) for e in events]
        self.conn.execute(self.batch_sql, {
            "customers": [e["customer_number"] for e in events], "limits": [K + len(c) for c, _ in carts],
            "codes": sorted({s for _, sources in carts for s in sources}), "k_similar": SIMILAR_K + 1}).fetchall()


class RawNumpyClient:
    def __init__(self, bench: serving_data.BenchModel) -> None:
        self.items = bench.items
        self.unit = bench.items / np.linalg.norm(bench.items, axis=1, keepdims=True)
        self.ids = bench.item_ids
        self.index = {code: i for i, code in enumerate(bench.item_ids)}
        self.users = bench.users

    def _profiles(self, customers: list[int], limit: int) -> None:
        for start in range(0, len(customers), 64):
            scores = self.users[np.asarray(customers[start:start + 64]) - 1] @ self.items.T
            np.argpartition(-scores, limit, axis=1)[:, :limit]

    def _similar(self, sources: list[str]) -> None:
        for start in range(0, len(sources), 64):
            rows = [self.index[s] for s in sources[start:start + 64]]
            np.argpartition(-(self.unit[rows] @ self.unit.T), SIMILAR_K + 1, axis=1)[:, : SIMILAR_K + 1]

    def one(self, event: dict[str, Any]) -> None:
        cart, sources = cart_and_sources(event)
        self._profiles([event["customer_number"]], K + len(cart))
        self._similar(sources)

    def batch(self, events: list[dict[str, Any]]) -> None:
        self._profiles([e["customer_number"] for e in events], K + 2)
        self._similar(sorted({s for e in events for s in cart_and_sources(e)[1]}))


class NaiveClient:
    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)
        register_vector_types(self.conn)

    def one(self, event: dict[str, Any]) -> None:
        cart, sources = cart_and_sources(event)
        row = self.conn.execute(NAIVE_USER, {"customer": event["customer_number"]}).fetchone()
        self.conn.execute(NAIVE_ITEMS, {"q": row[0], "cart": cart, "k": K}).fetchall()
        self.conn.execute(NAIVE_SIMILAR, {"codes": sources, "k_similar": SIMILAR_K + 1}).fetchall()

    def batch(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.one(event)


_STATE: dict[str, Any] = {}
"""Set in the parent before forking the client processes (copy-on-write): the bench model and the events."""


def make_client(method: str) -> Any:
    dsn = conninfo()
    if method.startswith("recommender"):
        return RecommenderClient(dsn, lists=method == "recommender")
    if method == "raw SQL":
        return RawSqlClient(dsn)
    if method == "raw NumPy":
        return RawNumpyClient(_STATE["bench"])
    return NaiveClient(dsn)


def closed_loop(method: str, seconds: float, offset: int) -> list[float]:
    client = make_client(method)
    events, latencies = _STATE["events"], []
    stop = time.perf_counter() + seconds
    i = offset
    while time.perf_counter() < stop:
        began = time.perf_counter()
        client.one(events[i % len(events)])
        latencies.append(time.perf_counter() - began)
        i += 1
    return latencies


def open_loop(method: str, rate: float, seconds: float, offset: int, phase: float, ready: Any) -> list[float]:
    """Requests scheduled every 1/rate s from when every client is ready (`ready`: a barrier), shifted by `phase`;
    latency from the scheduled time, so waiting for the previous request counts."""
    client = make_client(method)
    ready.wait()
    start_at = time.time() + 0.2 + phase
    events, latencies = _STATE["events"], []
    for i in range(int(rate * seconds)):
        scheduled = start_at + i / rate
        delay = scheduled - time.time()
        if delay > 0:
            time.sleep(delay)
        client.one(events[(offset + i) % len(events)])
        latencies.append(time.time() - scheduled)
    return latencies


def in_processes(fn: Callable[..., list[float]], args: list[tuple]) -> list[list[float]]:
    with multiprocessing.get_context("fork").Pool(len(args)) as pool:
        return pool.starmap(fn, args)


def summary(latencies: list[float], seconds: float | None = None) -> dict[str, float]:
    values = np.array(latencies) * 1e3
    out = {"n": len(values), "p50": float(np.quantile(values, 0.5)), "p99": float(np.quantile(values, 0.99))}
    if seconds:
        out["per_second"] = len(values) / seconds
    return out


# --- the measurements ------------------------------------------------------------------------------------------


def online(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    out = {}
    for method in METHODS:
        runs = in_processes(closed_loop, [(method, args.seconds, 997 * c) for c in range(args.clients)])
        out[method] = summary([x for run in runs for x in run], args.seconds)
        print(f"  online saturated, {method}: {out[method]}", flush=True)
    return out


def at_rate(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    out = {}
    per_client = USERS_PER_SECOND / args.clients
    manager = multiprocessing.get_context("fork").Manager()
    for method in METHODS:
        ready = manager.Barrier(args.clients)  # every client connected and warmed before the clock starts
        runs = in_processes(open_loop, [(method, per_client, args.seconds, 997 * c, c / USERS_PER_SECOND, ready)
                                        for c in range(args.clients)])
        values = [x for run in runs for x in run]
        out[method] = {**summary(values), "late": sum(v > 1.0 for v in values)}
        print(f"  online at {USERS_PER_SECOND:.0f}/s, {method}: {out[method]}", flush=True)
    manager.shutdown()
    return out


def batches(repeats: int = 5) -> dict[str, float]:
    """Median ms per 500-record batch. The recommender twice: inference alone (`recommend_batch` on parsed events,
    records out: what the raw ways do) and with the Firehose transformation's parsing and serialising around it.
    Each repeat is a different 500 events; the first batch of the recommender fills its similar-items cache."""
    out = {}
    events = _STATE["events"]
    for method in METHODS:
        client = make_client(method)
        times, full = [], []
        for r in range(repeats if method != "naive" else 2):
            chunk = events[(r * BATCH) % len(events):][:BATCH]
            if method.startswith("recommender"):
                parsed = client.parsed(chunk)
                began = time.perf_counter()
                client.inference(parsed)
                times.append(time.perf_counter() - began)
                if method == "recommender":
                    began = time.perf_counter()
                    client.batch(events[(r * BATCH + 250) % len(events):][:BATCH])
                    full.append(time.perf_counter() - began)
            else:
                began = time.perf_counter()
                client.batch(chunk)
                times.append(time.perf_counter() - began)
        out[method] = statistics.median(times) * 1e3
        if full:
            out["recommender, parse + JSON"] = statistics.median(full) * 1e3
        print(f"  500-record batch, {method}: {out[method]:.0f} ms", flush=True)
    return out


def swaps(args: argparse.Namespace, conn: psycopg.Connection, versions: tuple[str, str]) -> dict[str, Any]:
    stop = threading.Event()
    waits: list[float] = []

    def analyst() -> None:
        with psycopg.connect(conninfo()) as slow:
            while not stop.is_set():
                slow.execute("SELECT count(*) FROM item_embeddings").fetchone()
                slow.execute("SELECT count(*) FROM user_embeddings").fetchone()
                stop.wait(2.0)
                slow.commit()
                time.sleep(0.05)

    def swapper() -> None:
        time.sleep(1.0)
        for i in range(20):
            began = time.perf_counter()
            store.swap_live(conn, versions[(i + 1) % 2], lock_timeout="5s")
            waits.append(time.perf_counter() - began)
            time.sleep(0.2)

    before = in_processes(closed_loop, [("recommender", args.seconds, 997 * c) for c in range(args.clients)])
    started = time.perf_counter()
    threads = [threading.Thread(target=analyst), threading.Thread(target=swapper)]
    threads[0].start()
    threads[1].start()
    during_runs: list[list[float]] = []
    while threads[1].is_alive():
        during_runs += in_processes(closed_loop, [("recommender", 4.0, 991 * c) for c in range(args.clients)])
    threads[1].join()
    stop.set()
    threads[0].join()
    return {"before": summary([x for run in before for x in run]),
            "during": summary([x for run in during_runs for x in run]),
            "swap_seconds": time.perf_counter() - started, "max_swap_wait": max(waits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    started = time.perf_counter()
    results: dict[int, dict[str, Any]] = {}
    with psycopg.connect(conninfo(), autocommit=True) as conn:
        env = machine(conn)
        try:
            for number, n in enumerate(int(s) for s in args.sizes.split(",")):
                reset(conn, create=True)
                bench = serving_data.model(n, version=f"bench-{n}-a")
                serving_data.load(conn, bench)
                _STATE.update(bench=bench, events=events_for(bench, 4_000, seed=n))
                print(f"n={n}: loaded", flush=True)
                results[n] = {"online": online(args), "rate": at_rate(args), "batch": batches()}
                if number == 0:
                    other = serving_data.model(n, seed=1, version=f"bench-{n}-b")
                    serving_data.load(conn, other, live=False)
                    results[n]["swaps"] = swaps(args, conn, (bench.version, other.version))
                    print(f"  swaps: {results[n]['swaps']}", flush=True)
        finally:
            reset(conn, create=False)
    write(args, env, results, time.perf_counter() - started)


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def write(args: argparse.Namespace, env: dict[str, str], results: dict[int, dict[str, Any]], seconds: float) -> None:
    lines = [
        "# Serving: the recommender beside the raw ceiling and the naive design",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `bench/serving.py --sizes {args.sizes} --clients "
        f"{args.clients} --seconds {args.seconds:g}` (method in its docstring), {seconds / 60:.1f} min in all.",
        "",
        "## Machine",
        "",
        *[f"- {k}: `{v}`" for k, v in env.items()],
        f"- load average at the end: `{', '.join(f'{x:.2f}' for x in os.getloadavg())}`",
        "",
        "The clients, the database and the other users of this machine share its CPUs: read the methods against "
        "each other within a size, not as absolute capacities.",
        "",
    ]
    for n, r in results.items():
        raw_p99 = min(r["online"]["raw SQL"]["p99"], r["online"]["raw NumPy"]["p99"])
        raw_rate = max(r["online"]["raw SQL"]["per_second"], r["online"]["raw NumPy"]["per_second"])
        best_raw_batch = min(r["batch"]["raw SQL"], r["batch"]["raw NumPy"])
        ours = r["online"]["recommender"]
        lines += [
            f"## {n:,} items",
            "",
            f"### Online, {args.clients} clients back to back for {args.seconds:g} s",
            "",
            "| method | requests | p50 (ms) | p99 (ms) | recommendations / s |",
            "|---|---:|---:|---:|---:|",
            *[f"| {m} | {v['n']:,} | {v['p50']:.2f} | {v['p99']:.2f} | {v['per_second']:.0f} |"
              for m, v in r["online"].items()],
            "",
            f"### Online at the rate of 10,000 active users ({USERS_PER_SECOND:.0f} requests/s: one recommendation "
            "page per user every 30 s), open loop",
            "",
            "| method | requests | p50 (ms) | p99 (ms) | answered after 1 s |",
            "|---|---:|---:|---:|---:|",
            *[f"| {m} | {v['n']:,} | {v['p50']:.2f} | {v['p99']:.2f} | {v['late']} |" for m, v in r["rate"].items()],
            "",
            "### One 500-record Firehose batch (median)",
            "",
            "| method | ms |",
            "|---|---:|",
            *[f"| {m} | {v:.0f} |" for m, v in r["batch"].items()],
            "",
            "(recommender: `recommend_batch` on parsed events, records out; \"parse + JSON\": with the Firehose "
            "transformation's parsing of the 500 events and serialising of the records around it.)",
            "",
            "### Budgets",
            "",
            f"- online p99 {ours['p99']:.2f} ms <= 2 x best raw p99 ({raw_p99:.2f} ms): "
            f"{verdict(ours['p99'] <= 2 * raw_p99)}",
            f"- recommendations / s {ours['per_second']:.0f} >= 0.8 x best raw ({raw_rate:.0f}): "
            f"{verdict(ours['per_second'] >= 0.8 * raw_rate)}",
            f"- 500-record batch {r['batch']['recommender']:.0f} ms <= 1.3 x best raw way ({best_raw_batch:.0f} ms): "
            f"{verdict(r['batch']['recommender'] <= 1.3 * best_raw_batch)}; "
            f">= 10x faster than naive ({r['batch']['naive']:.0f} ms): "
            f"{verdict(r['batch']['naive'] >= 10 * r['batch']['recommender'])}",
        ]
        if "swaps" in r:
            s = r["swaps"]
            lines += [
                f"- p99 during 20 swaps with a 2-second reader {s['during']['p99']:.2f} ms ({s['during']['n']:,} "
                f"requests; the swaps took {s['swap_seconds']:.0f} s, the longest waited {s['max_swap_wait']:.2f} s "
                f"for the reader) <= 2 x p99 without swaps ({s['before']['p99']:.2f} ms): "
                f"{verdict(s['during']['p99'] <= 2 * s['before']['p99'])}",
            ]
        lines.append("")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
