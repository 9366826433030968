"""DAG parse time: how long each DAG file takes to parse once Airflow itself is loaded.

    .venv/bin/python bench/dag_parse.py [--runs 7] [--output bench/results/dag_parse.md]

The DAG processor re-parses every file every `min_file_process_interval` (MWAA: 30 s), so a slow file costs
scheduler capacity all day long. Method, per DAG file (`dags/*.py`, discovered by glob):

- N fresh Python processes. Each first imports Airflow (`airflow.sdk`, the DagBag) and parses a minimal
  DAG, so Airflow's own DAG machinery is loaded and warm; then it times `DagBag(dag_folder=<file>)`:
  importing the module and everything it imports beyond Airflow (our package, providers, boto3, ...)
  plus collecting its DAGs. That is the conservative cost: the first parse in a process that has nothing
  of ours yet. Reported: the median of the N runs, as CPU time of the process (what the budget applies to:
  it barely moves when other work shares the machine) and as wall time.
- Also measured "as the DAG processor parses": Airflow 3.3's DAG processor pre-imports, once, the `airflow.*`
  modules a DAG file imports itself (`[dag_processor] parsing_pre_import_modules`, default True) and forks a
  process per parse, so those imports are not paid per parse; everything else (our package and what *it*
  imports) is. The second column times the parse after that pre-import.
- Baseline: an empty DAG (one `@dag` with one `@task`), measured the same way in the same run, so the ratio
  compares files across machines. Runs are interleaved (file A, file B, ..., baseline, repeat) so drift in
  machine load spreads evenly.

Budget: every DAG file's median cold CPU time < 0.5 s. Prints a table, writes the Markdown result with the
machine noted and the heaviest imports of each file, and exits 1 when a file is over budget or does not parse.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from host import host_facts

REPO = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 0.5
DEFAULT_OUTPUT = REPO / "bench" / "results" / "dag_parse.md"

EMPTY_DAG = textwrap.dedent('''\
    """Baseline for bench/dag_parse.py: the smallest DAG worth the name."""
    from datetime import datetime

    from airflow.sdk import dag, task


    @dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
    def {name}():
        @task
        def noop() -> None:
            pass

        noop()


    {name}()
''')

CHILD = """
import json, sys, time
import airflow.sdk  # noqa: F401 - Airflow first: its import is not what is measured
from airflow.dag_processing.dagbag import DagBag

warm = DagBag(dag_folder=sys.argv[2])  # loads and warms Airflow's DAG machinery
assert warm.dags and not warm.import_errors, warm.import_errors
if sys.argv[3] == "processor":  # what the DAG processor imports once, before it forks a parse
    import importlib
    from airflow.utils.file import iter_airflow_imports
    for module in iter_airflow_imports(sys.argv[1]):
        importlib.import_module(module)
print("--- measured from here ---", file=sys.stderr, flush=True)
wall, cpu = time.perf_counter(), time.process_time()
bag = DagBag(dag_folder=sys.argv[1])
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"wall": wall, "cpu": cpu, "dags": sorted(bag.dag_ids),
                  "errors": {str(k): str(v)[-500:] for k, v in bag.import_errors.items()}}))
"""
MODES = ("cold", "processor")
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


@dataclass(frozen=True)
class Result:
    name: str
    cpu: tuple[float, ...]  # cold, CPU seconds of the parsing process
    wall: tuple[float, ...]  # cold, elapsed seconds
    processor_cpu: tuple[float, ...]  # CPU seconds after the DAG processor's pre-import
    dags: tuple[str, ...]
    errors: tuple[str, ...]
    heaviest_imports: tuple[tuple[str, float], ...] = ()

    @property
    def median(self) -> float:
        return statistics.median(self.cpu)


def dag_files() -> list[Path]:
    return sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))


def _child(path: Path, mode: str, warmup: Path, env: dict[str, str], cwd: Path,
           *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *flags, "-c", CHILD, str(path), str(warmup), mode], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _measure_once(path: Path, mode: str, warmup: Path, env: dict[str, str], cwd: Path) -> dict:
    proc = _child(path, mode, warmup, env, cwd)
    if proc.returncode:
        nan = float("nan")
        return {"wall": nan, "cpu": nan, "dags": [], "errors": {str(path): proc.stderr[-1000:]}}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def heaviest_imports(path: Path, warmup: Path, env: dict[str, str], cwd: Path,
                     top: int = 4) -> tuple[tuple[str, float], ...]:
    """The file's own imports that cost most (cumulative seconds, one cold run under `-X importtime`)."""
    proc = _child(path, "cold", warmup, env, cwd, "-X", "importtime")
    _, _, measured = proc.stderr.partition("--- measured from here ---")
    entries = [(len(m[3]), m[4], int(m[2]) / 1e6) for m in map(IMPORT_LINE.match, measured.splitlines()) if m]
    if not entries:
        return ()
    depth = min(d for d, _, _ in entries)
    direct = sorted(((name, sec) for d, name, sec in entries if d == depth), key=lambda e: -e[1])
    return tuple(direct[:top])


def run(runs: int) -> tuple[list[Result], Result]:
    with tempfile.TemporaryDirectory(prefix="dag_parse_") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "warmup").mkdir()
        (tmp / "warmup" / "bench_warmup.py").write_text(EMPTY_DAG.format(name="bench_warmup"))
        baseline_file = tmp / "baseline" / "bench_empty_dag.py"
        baseline_file.parent.mkdir()
        baseline_file.write_text(EMPTY_DAG.format(name="bench_empty_dag"))
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(tmp / "airflow_home"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "PYTHONPATH": str(REPO / "plugins"),
        }
        targets = [*dag_files(), baseline_file]
        raw: dict[tuple[Path, str], list[dict]] = {(p, m): [] for p in targets for m in MODES}
        for path in targets:  # first run fills the .pyc caches: not counted
            _measure_once(path, "cold", tmp / "warmup", env, tmp)
        for i in range(runs):
            for path, mode in raw:
                raw[path, mode].append(_measure_once(path, mode, tmp / "warmup", env, tmp))
            print(f"run {i + 1}/{runs} done", file=sys.stderr)
        results = []
        for path in targets:
            cold, processor = raw[path, "cold"], raw[path, "processor"]
            results.append(Result(
                name=path.name if path != baseline_file else "(empty DAG baseline)",
                cpu=tuple(r["cpu"] for r in cold),
                wall=tuple(r["wall"] for r in cold),
                processor_cpu=tuple(r["cpu"] for r in processor),
                dags=tuple(cold[-1]["dags"]),
                errors=tuple(sorted({e for r in cold + processor for e in r["errors"].values()})),
                heaviest_imports=heaviest_imports(path, tmp / "warmup", env, tmp) if path != baseline_file else (),
            ))
    return results[:-1], results[-1]


def machine() -> dict[str, str]:
    import airflow

    return {
        **host_facts(),
        "Python": platform.python_version(),
        "Airflow": airflow.__version__,
        "load average (1, 5, 15 min) at the end": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def table(results: list[Result], baseline: Result) -> list[str]:
    rows = ["| DAG file | DAGs | CPU s, median | x empty DAG | wall s, median (min-max) | CPU s as DAG processor "
            f"| budget: CPU < {BUDGET_SECONDS} s |",
            "|---|---|---:|---:|---:|---:|---|"]
    for r in [*results, baseline]:
        ok = "**ERROR**" if r.errors else "ok" if r.median < BUDGET_SECONDS else "**OVER**"
        wall = f"{statistics.median(r.wall):.3f} ({min(r.wall):.3f}-{max(r.wall):.3f})"
        rows.append(f"| `{r.name}` | {', '.join(r.dags) or '-'} | {r.median:.3f} | {r.median / baseline.median:.0f} "
                    f"| {wall} | {statistics.median(r.processor_cpu):.3f} | {ok if r is not baseline else '-'} |")
    return rows


def report(results: list[Result], baseline: Result, runs: int) -> str:
    failing = [r.name for r in results if r.errors or not r.median < BUDGET_SECONDS]
    lines = [
        "# DAG parse time",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `.venv/bin/python bench/dag_parse.py --runs {runs}` "
        f"(method in its docstring): {runs} fresh processes per file and mode, Airflow already imported, timed "
        "`DagBag(dag_folder=<file>)`. *CPU s*: CPU time of the parsing process, what the budget applies to "
        "(steady on a shared machine, unlike wall time, shown beside it). *x empty DAG*: ratio to a one-task "
        "DAG measured in the same run. *As DAG processor*: after pre-importing the `airflow.*` modules the file "
        "itself imports, as Airflow 3.3's DAG processor does once before forking each parse.",
        "",
        "## Machine",
        "",
        *[f"- {k}: `{v}`" for k, v in machine().items()],
        "",
        "## Result",
        "",
        *table(results, baseline),
        "",
        f"**Budget (every DAG file < {BUDGET_SECONDS} s CPU): "
        + ("met.**" if not failing else f"NOT met: {', '.join(failing)}.**"),
        "",
        "## Where the time goes",
        "",
        "The imports of each file that cost most (cumulative seconds, one cold `-X importtime` run). Whatever",
        "a file or the package imports at module level is paid on every parse: keep heavy imports (boto3 via",
        "the Amazon provider, pandas, ...) inside task bodies or callbacks.",
        "",
        *[f"- `{r.name}`: " + ", ".join(f"`{name}` {sec:.2f} s" for name, sec in r.heaviest_imports)
          for r in results],
    ]
    for r in results:
        for error in r.errors:
            lines += ["", f"Error in `{r.name}`:", "", "```", error, "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    results, baseline = run(args.runs)
    print("\n".join(table(results, baseline)))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report(results, baseline, args.runs))
    print(f"written: {args.output}")
    return 0 if all(r.median < BUDGET_SECONDS and not r.errors for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
