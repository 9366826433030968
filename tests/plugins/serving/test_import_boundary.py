"""The serving package imports neither Airflow nor the loader nor the batch code (a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
FORBIDDEN = ("airflow", "dataplatform.vectordb", "dataplatform.batch", "dataplatform.orchestration",
             "dataplatform.model.training", "dataplatform.model.data", "pyarrow")


def imported_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"PYTHONPATH": str(REPO / "plugins"), "PATH": "/usr/bin:/bin"})
    return set(json.loads(done.stdout))


def test_serving_modules_import_neither_airflow_nor_the_loader_nor_the_batch_code() -> None:
    modules = imported_after("import dataplatform.serving.recommender, dataplatform.serving.models")
    assert "dataplatform.serving.recommender" in modules
    assert "dataplatform.model.cold_start" in modules  # the user-feature model, numpy only
    leaked = sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
    assert leaked == []


def test_the_boundary_check_sees_a_forbidden_import() -> None:
    modules = imported_after("import dataplatform.vectordb.store")
    assert "dataplatform.vectordb.store" in modules and "dataplatform.serving.live" in modules
