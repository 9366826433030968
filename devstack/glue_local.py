"""Run a Glue script on local PySpark, for the embedded local stack (no AWS, no Docker).

Thin on purpose: the same script file, the same `--name value` arguments Glue passes, Spark 3.5 like Glue
5.0. The only differences are that the source credentials come from the environment instead of a Glue
connection, the output goes to a local folder (pyspark has no S3A) and is then copied to the (moto) bucket
with the success marker last, and the Glue Data Catalog update is skipped (the script logs it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

MARIADB_JDBC_JAR = "/usr/share/java/mariadb-java-client.jar"  # Debian's libmariadb-java
MARIADB_JDBC_DRIVER = "org.mariadb.jdbc.Driver"


def spark_submit(script: Path, arguments: dict[str, str], *, env: dict[str, str], jars: tuple[str, ...] = (
        MARIADB_JDBC_JAR,)) -> None:
    argv = [
        str(Path(sys.executable).parent / "spark-submit"),
        "--master", "local[2]",
        "--driver-memory", os.environ.get("LOCAL_SPARK_DRIVER_MEMORY", "2g"),
        "--jars", ",".join(jars),
        "--conf", "spark.sql.session.timeZone=UTC",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.sql.shuffle.partitions=8",
        str(script),
    ]
    for name, value in arguments.items():
        argv += [name, value]
    import pyspark

    spark_env = {"SPARK_HOME": str(Path(pyspark.__file__).parent), "PYSPARK_PYTHON": sys.executable,
                 "PYSPARK_DRIVER_PYTHON": sys.executable}
    proc = subprocess.run(argv, env={**os.environ, **spark_env, **env}, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        print(line)
    if proc.returncode:
        tail = "\n".join(proc.stderr.splitlines()[-60:])
        raise RuntimeError(f"local Glue script {script.name} failed (exit {proc.returncode}):\n{tail}")


def upload_snapshot(local_dir: Path, s3: Any, bucket: str, prefix: str, *, last: tuple[str, ...]) -> list[str]:
    """Replace `s3://bucket/prefix/` with the local folder: old objects removed (the `last` files first), data
    files uploaded, then the `last` files in order, so a reader never sees a marker beside partial data."""
    prefix = prefix.rstrip("/") + "/"
    existing = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for o in page.get("Contents", [])]
    for key in sorted(existing, key=lambda k: k.rsplit("/", 1)[-1] not in last):
        s3.delete_object(Bucket=bucket, Key=key)
    files = sorted(p for p in local_dir.rglob("*") if p.is_file() and not p.name.endswith(".crc"))
    ordered = [p for p in files if p.name not in last] + [
        local_dir / name for name in last if (local_dir / name).exists()]
    for path in ordered:
        s3.upload_file(str(path), bucket, prefix + path.relative_to(local_dir).as_posix())
    return [prefix + p.relative_to(local_dir).as_posix() for p in ordered]
