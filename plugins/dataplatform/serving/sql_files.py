"""The SQL the serving package runs, from the `.sql` files inside the package (`dataplatform/serving/sql/`).

They ship wherever the package does (a Lambda zip, `plugins.zip`, a wheel): no lookup of the repository's
`include/` folder. Read with `importlib.resources`, so a zipped package works too. One statement per file, a
header comment (purpose, parameters, caller), named parameters, identifiers as `{placeholders}` composed with
`psycopg.sql`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def sql_text(name: str) -> str:
    """The text of `dataplatform/serving/sql/<name>`."""
    return resources.files("dataplatform.serving").joinpath("sql", name).read_text(encoding="utf-8")
