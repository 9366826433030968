"""Where the files the DAGs read at run time live, in every layout the repo runs in.

Repo checkout and Astro image: `<project>/include` beside `plugins/`. MWAA: only `dags/` and
`plugins.zip` are deployed, so the bundle ships `include/` as `dags/include/` (ignored by `.airflowignore`).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path


@cache
def include_dir() -> Path:
    beside_plugins = Path(__file__).resolve().parents[2] / "include"
    if beside_plugins.is_dir():
        return beside_plugins
    dags_folder = Path(os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", "/usr/local/airflow/dags"))
    return dags_folder / "include"


def sql_path(name: str) -> Path:
    return include_dir() / "sql" / name


def glue_script(name: str) -> Path:
    return include_dir() / "glue" / name
