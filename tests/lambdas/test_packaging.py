"""Each Lambda's zip holds what its handler needs and runs in a Python that has no Airflow.

The runtime virtual environment is made from `lambdas/requirements.txt` alone (uv, from its cache or PyPI) and
kept under `.local/lambda-runtime/<hash>/` so reruns reuse it; the handler is imported from the zip (the zip
first on `sys.path`, as Lambda puts `/var/task`) in a subprocess of that environment.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.streaming import synthetic_model
from devstack.streaming.pipeline import function_environment, vector_conninfo
from lambdas import packaging

REPO = packaging.REPO
RUNTIME_PYTHON = "3.12"
"""The Lambda runtime the functions are deployed on (python3.12)."""
FORBIDDEN = ("airflow", *packaging.FORBIDDEN, "dataplatform.model.training", "dataplatform.config")
"""Never imported by a handler: Airflow, its extensions, the loader, the batch code, the trainer, the settings."""


@pytest.fixture(scope="session")
def runtime_python() -> Path:
    """A venv with only lambdas/requirements.txt installed (no Airflow), cached by the file's hash."""
    digest = hashlib.sha256(packaging.REQUIREMENTS.read_bytes() + RUNTIME_PYTHON.encode()).hexdigest()[:16]
    root = REPO / ".local" / "lambda-runtime"
    venv = root / digest
    python = venv / "bin" / "python"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test sessions building the same venv wait for each other
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            uv = packaging.uv_command()
            subprocess.run([*uv, "venv", "-q", "-p", sys._base_executable, str(venv)], check=True)  # type: ignore[attr-defined]
            subprocess.run([*uv, "pip", "install", "-q", "--python", str(python), "-r", str(packaging.REQUIREMENTS)],
                           check=True)
            (venv / ".complete").write_text(digest)
    return python


@pytest.fixture(scope="module")
def lambda_environment(local_stack) -> Iterator[dict[str, str]]:
    """The functions' configuration, pointed at a schema with a live model that knows the sample event's products
    (S18_3232, S24_2300) and customer 141."""
    products = ["S18_3232", "S24_2300", *(f"S10_{i:04d}" for i in range(40))]
    with synthetic_model.model_schema(vector_conninfo(), products, [141, 142, 143], ["Spain"],
                                      prefix="zip") as conninfo:
        yield function_environment(conninfo)


def _run_in_runtime(python: Path, code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "AIRFLOW"))}
    return subprocess.run([str(python), "-I", "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**clean, **(env or {})}, cwd="/")


def test_every_function_folder_is_found() -> None:
    assert "stream_transformation" in packaging.functions()


def test_function_folders_share_no_module_name() -> None:
    """A handler's sibling modules are imported by top-level name (as at the zip root): two functions with a
    `models.py` each would get each other's in one process (the tests, the local Firehose)."""
    seen: dict[str, str] = {}
    for function in packaging.functions():
        for module in (packaging.LAMBDAS / function).glob("*.py"):
            if module.name == "handler.py":
                continue
            assert module.stem not in seen, f"{function}/{module.name} and {seen[module.stem]}/{module.name}"
            seen[module.stem] = function


@pytest.mark.parametrize("function", packaging.functions())
def test_zip_holds_the_function_the_serving_package_and_only_what_it_imports(function: str, tmp_path: Path) -> None:
    archive = zipfile.ZipFile(packaging.build_zip(function, tmp_path))
    names = archive.namelist()
    assert "handler.py" in names
    assert not any(n.startswith("events/") or "__pycache__" in n or n.endswith(".pyc") for n in names)
    serving = {f"dataplatform/serving/{p.relative_to(packaging.SERVING).as_posix()}"
               for p in packaging.SERVING.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert serving <= set(names)
    assert any(n.startswith("dataplatform/serving/sql/") and n.endswith(".sql") for n in names)
    others = {n for n in names if n.startswith("dataplatform/") and n not in serving}
    # beyond the serving package: only modules something in the zip imports, and their packages' __init__.py
    # (that nothing is missing is proven by importing and running the handlers from the zip, below)
    imported = set()
    for name in names:
        if name.endswith(".py"):
            for node in ast.walk(ast.parse(archive.read(name))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dataplatform."):
                    imported.add(node.module.replace(".", "/") + ".py")
    for other in others:
        assert other in imported or other.endswith("__init__.py"), other
        assert not other.replace("/", ".").startswith(packaging.FORBIDDEN), other


def test_a_forbidden_import_fails_the_build(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from dataplatform.vectordb import store\n")
    with pytest.raises(ImportError, match=r"dataplatform\.vectordb would be shipped"):
        packaging.package_modules([bad])


@pytest.mark.parametrize("function", packaging.functions())
def test_zip_is_deterministic(function: str, tmp_path: Path) -> None:
    first = packaging.build_zip(function, tmp_path / "a").read_bytes()
    assert packaging.build_zip(function, tmp_path / "b").read_bytes() == first


def test_a_package_copies_compressed_dependencies_into_the_bytes_write_zip_makes(tmp_path: Path) -> None:
    """`write_package` copies each dependency's compressed entry from `<deps>.zip` instead of compressing it again:
    the zip is byte for byte the one `write_zip` writes from the same files (names interleaved with the code's,
    an executable, an empty file, a large compressible one, a non-ASCII name)."""
    deps = tmp_path / "deps" / "arm64-0123456789abcdef"
    files = {"zlib_dep/__init__.py": b"VALUE = 1\n", "zlib_dep/data/big.txt": b"row,value\n" * 50_000,
             "zlib_dep/empty.py": b"", "bin_dep/tool.so": bytes(range(256)) * 64,
             "caf\u00e9/__init__.py": b"# \xc3\xa9\n", "aaa_first.py": b"print('first')\n"}
    for name, content in files.items():
        (deps / name).parent.mkdir(parents=True, exist_ok=True)
        (deps / name).write_bytes(content)
    (deps / "bin_dep" / "tool.so").chmod(0o755)
    (deps / ".complete").write_text("test")
    code = packaging.zip_members("stream_transformation")

    packaging.write_package(tmp_path / "package.zip", code, deps)

    packaging.write_zip(tmp_path / "reference.zip", {**code, **packaging.dependency_members(deps)},
                        compresslevel=packaging.PACKAGE_COMPRESSLEVEL)
    assert (tmp_path / "package.zip").read_bytes() == (tmp_path / "reference.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "package.zip") as archive:
        assert archive.testzip() is None
        assert archive.read("zlib_dep/data/big.txt") == files["zlib_dep/data/big.txt"]
        assert (archive.getinfo("bin_dep/tool.so").external_attr >> 16) & 0o777 == 0o755
        assert "handler.py" in archive.namelist() and ".complete" not in archive.namelist()


def test_runtime_venv_has_no_airflow(runtime_python: Path) -> None:
    probe = _run_in_runtime(runtime_python, "import importlib.util; print(importlib.util.find_spec('airflow'))")
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "None"


@pytest.mark.parametrize("function", packaging.functions())
def test_handler_imports_from_its_zip_without_airflow(function: str, tmp_path: Path, runtime_python: Path,
                                                      lambda_environment: dict[str, str]) -> None:
    archive = packaging.build_zip(function, tmp_path)
    probe = _run_in_runtime(runtime_python, f"""
        import importlib.util, json, sys
        sys.path.insert(0, {str(archive)!r})
        assert importlib.util.find_spec("airflow") is None, "airflow is importable"
        import handler
        import dataplatform.serving
        assert callable(handler.handler)
        loaded = {{name: getattr(m, "__file__", None) or "" for name, m in sys.modules.items()}}
        print(json.dumps({{
            "handler": handler.__file__,
            "serving": dataplatform.serving.__file__,
            "forbidden": sorted(n for n in loaded if n.startswith({FORBIDDEN!r})),
            "dataplatform_outside_zip": sorted(n for n, f in loaded.items()
                                               if n.startswith("dataplatform") and not f.startswith({str(archive)!r})),
        }}))
    """, env=lambda_environment)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert found["handler"].startswith(str(archive))
    assert found["serving"].startswith(str(archive))
    assert found["forbidden"] == []
    assert found["dataplatform_outside_zip"] == []


def test_transformation_answers_its_sample_event_from_the_zip(tmp_path: Path, runtime_python: Path,
                                                              lambda_environment: dict[str, str]) -> None:
    """Not only importable: the zip answers a Firehose event with its runtime dependencies alone."""
    archive = packaging.build_zip("stream_transformation", tmp_path)
    event = packaging.LAMBDAS / "stream_transformation" / "events" / "firehose_kinesis_batch.json"
    probe = _run_in_runtime(runtime_python, f"""
        import json, sys
        sys.path.insert(0, {str(archive)!r})
        import handler

        class Context:
            function_name = "stream-transformation"
            memory_limit_in_mb = 1024
            invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:stream-transformation"
            aws_request_id = "zip-test"

            def get_remaining_time_in_millis(self):
                return 60_000

        event = json.load(open({str(event)!r}))
        response = handler.handler(event, Context())
        print(json.dumps({{"in": [r["recordId"] for r in event["records"]],
                          "out": [[r["recordId"], r["result"]] for r in response["records"]]}}))
    """, env=lambda_environment)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert [rid for rid, _ in found["out"]] == found["in"]
    assert [result for _, result in found["out"]] == ["Ok", "Ok", "ProcessingFailed"]
