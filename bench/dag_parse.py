"""DAG parse time: how long each DAG file takes to parse once Airflow itself is loaded.

    .venv/bin/python bench/dag_parse.py [--runs 7] [--output bench/results/dag_parse.md]

The DAG processor re-parses every file every `min_file_process_interval` (MWAA: 30 s), so a slow file costs
scheduler capacity all day long. Method, per DAG file (`dags/*.py`, discovered by glob):

- N fresh Python processes. Each first imports Airflow (`airflow.sdk`, the DagBag) and parses a minimal
  DAG, so Airflow's own DAG machinery is loaded and warm; then it times `DagBag(dag_folder=<file>)`:
  importing the module and everything it imports beyond Airflow (our package, providers, boto3, ...)
  plus collecting its DAGs. That is the conservative cost: the first parse in a process that has nothing
  of ours yet. The reported value is the median of the N runs.
- Also measured "as the DAG processor parses": Airflow 3.3's DAG processor pre-imports, once, the `airflow.*`
  modules a DAG file imports itself (`[dag_processor] parsing_pre_import_modules`, default True) and forks a
  process per parse, so those imports are not paid per parse; everything else (our package and what *it*
  imports) is. The second column times the parse after that pre-import.
- Baseline: an empty DAG (one `@dag` with one `@task`), measured the same way in the same run, so the ratio
  compares files across machines. Runs are interleaved (file A, file B, ..., baseline, repeat) so drift in
  machine load spreads evenly.

Budget: every DAG file's cold median < 0.5 s. Prints a table, writes the Markdown result with the machine
noted, and exits 1 when a file is over budget or does not parse.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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
start = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "dags": sorted(bag.dag_ids),
                  "errors": {str(k): str(v)[-500:] for k, v in bag.import_errors.items()}}))
"""


MODES = ("cold", "processor")


@dataclass(frozen=True)
class Result:
    name: str
    samples: tuple[float, ...]  # cold
    processor_samples: tuple[float, ...]  # after the DAG processor's pre-import
    dags: tuple[str, ...]
    errors: tuple[str, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def processor_median(self) -> float:
        return statistics.median(self.processor_samples)


def dag_files() -> list[Path]:
    return sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))


def _measure_once(path: Path, mode: str, warmup: Path, env: dict[str, str], cwd: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(warmup), mode], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode:
        return {"seconds": float("nan"), "dags": [], "errors": {str(path): proc.stderr[-1000:]}}
    return json.loads(proc.stdout.strip().splitlines()[-1])


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
                samples=tuple(r["seconds"] for r in cold),
                processor_samples=tuple(r["seconds"] for r in processor),
                dags=tuple(cold[-1]["dags"]),
                errors=tuple(sorted({e for r in cold + processor for e in r["errors"].values()})),
            ))
    return results[:-1], results[-1]


def machine() -> dict[str, str]:
    cpu, cores = "unknown", os.cpu_count() or 0
    try:
        models = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")]
        cpu = models[0] if models else cpu
    except OSError:
        pass
    import airflow

    return {
        "uname -a": subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip(),
        "CPU": f"{cpu} ({cores} logical CPUs)",
        "Python": platform.python_version(),
        "Airflow": airflow.__version__,
        "load average (1, 5, 15 min) at the end": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def table(results: list[Result], baseline: Result) -> list[str]:
    rows = ["| DAG file | DAGs | cold median (s) | min-max (s) | x empty DAG | as DAG processor (s) "
            "| budget: cold < 0.5 s |",
            "|---|---|---:|---:|---:|---:|---|"]
    for r in [*results, baseline]:
        ok = "**ERROR**" if r.errors else "ok" if r.median < BUDGET_SECONDS else "**OVER**"
        rows.append(f"| `{r.name}` | {', '.join(r.dags) or '-'} | {r.median:.3f} | "
                    f"{min(r.samples):.3f}-{max(r.samples):.3f} | {r.median / baseline.median:.0f} | "
                    f"{r.processor_median:.3f} | {ok if r is not baseline else '-'} |")
    return rows


def report(results: list[Result], baseline: Result, runs: int) -> str:
    failing = [r.name for r in results if r.errors or not r.median < BUDGET_SECONDS]
    lines = [
        "# DAG parse time",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `bench/dag_parse.py --runs {runs}` "
        "(method in its docstring): median of "
        f"{runs} fresh processes per file and mode, Airflow already imported, timed `DagBag(dag_folder=<file>)`. "
        "*Cold*: nothing but Airflow loaded. *As DAG processor*: after the pre-import of the `airflow.*` modules "
        "the file itself imports, as Airflow 3.3's DAG processor does once before forking each parse.",
        "",
        "## Machine",
        "",
        *[f"- {k}: `{v}`" for k, v in machine().items()],
        "",
        "## Result",
        "",
        *table(results, baseline),
        "",
        f"**Budget (every DAG file < {BUDGET_SECONDS} s): "
        + ("met.**" if not failing else f"NOT met: {', '.join(failing)}.**"),
        "",
        "The absolute times depend on the machine; the ratio to the empty DAG does much less. What a file",
        "costs beyond the baseline is what it imports at module level (providers, boto3, the package): keep",
        "heavy imports inside task bodies.",
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
