"""Deployable Lambda packages: the function's code plus the locked dependencies for the runtime (manylinux wheels
for the function's architecture, CPython 3.12), byte-identical when rebuilt from the same sources and lock."""

from __future__ import annotations

import re
import shutil
import struct
import zipfile
from pathlib import Path

import pytest

from lambdas import packaging

pytestmark = pytest.mark.slow  # resolves and installs the Lambda runtime's wheels from the package index

ELF_MACHINE = {"arm64": 183, "x86_64": 62}  # EM_AARCH64, EM_X86_64


def _pins(lock: Path) -> dict[str, str]:
    return {m.group(1).lower().replace("_", "-"): m.group(2)
            for m in re.finditer(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", lock.read_text(), re.M)}


def test_lock_pins_every_requirement_with_hashes() -> None:
    pins = _pins(packaging.LOCK)
    wanted = {re.split(r"[=\[<>~ ]", line)[0].lower() for line in packaging.REQUIREMENTS.read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert wanted <= pins.keys()
    for block in re.split(r"\n(?=[A-Za-z])", packaging.LOCK.read_text().split("\n", 2)[2]):
        if "==" in block:
            assert "--hash=sha256:" in block, block.splitlines()[0]
    assert "airflow" not in " ".join(pins), "no Airflow in a Lambda"


def test_rebuilding_from_scratch_gives_the_same_bytes(tmp_path: Path) -> None:
    """The dependencies installed afresh into an empty folder are the cached install's files, byte for byte and
    mode for mode (the inputs digest covers every archive name, content and mode), so the package built from them
    is the cached package: `write_package` writes the same bytes for the same inputs (test_packaging.py proves it
    equal to `write_zip`, which is deterministic). (The code is copied first: other work may edit the serving
    package while this runs.)"""
    code = {}
    for name, path in packaging.zip_members("stream_transformation").items():
        code[name] = tmp_path / "code" / name
        code[name].parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, code[name])
    fresh = packaging.dependencies_dir("arm64", cache=tmp_path / "deps")
    cached = packaging.dependencies_dir("arm64")
    assert fresh != cached and (fresh / ".complete").is_file()
    from_scratch = {**code, **packaging.dependency_members(fresh)}
    assert len(from_scratch) > 1000
    assert packaging.inputs_digest(from_scratch) == packaging.inputs_digest(
        {**code, **packaging.dependency_members(cached)})
    first = packaging.write_package(tmp_path / "a.zip", code, cached).read_bytes()
    assert packaging.write_package(tmp_path / "b.zip", code, cached).read_bytes() == first


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_package_ships_binaries_for_its_architecture_and_the_locked_versions(architecture: str) -> None:
    package = packaging.build_package("model_inference", architecture)
    archive = zipfile.ZipFile(package.path)
    names = archive.namelist()
    assert "handler.py" in names and "dataplatform/serving/recommender.py" in names
    libraries = [n for n in names if n.endswith(".so") and n.startswith(("numpy/", "pydantic_core/",
                                                                         "psycopg_binary/"))]
    assert {n.split("/")[0] for n in libraries} == {"numpy", "pydantic_core", "psycopg_binary"}
    for name in libraries:
        header = archive.read(name)[:20]
        assert header[:4] == b"\x7fELF", name
        assert struct.unpack("<H", header[18:20])[0] == ELF_MACHINE[architecture], name
    installed = {m.group(1).lower().replace("_", "-"): m.group(2)
                 for n in names if (m := re.match(r"([A-Za-z0-9_.]+)-([^/]+)\.dist-info/METADATA$", n))}
    assert installed == _pins(packaging.LOCK)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert package.size < 50 * 1024 * 1024, "within Lambda's direct-upload limit too"


def test_the_sha256_follows_the_code_not_where_it_was_built(tmp_path: Path) -> None:
    original = packaging.build_package("model_inference", "arm64")
    digest = packaging.inputs_digest(packaging.package_members("model_inference", "arm64"))
    assert original.path.name == f"model_inference-arm64-{digest[:32]}.zip", "the cache is keyed by every input"
    copy = tmp_path / "model_inference"
    shutil.copytree(packaging.LAMBDAS / "model_inference", copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert packaging.build_package("model_inference", "arm64", source=copy).sha256 == original.sha256
    (copy / "handler.py").write_text((copy / "handler.py").read_text() + "\n# changed\n")
    changed = packaging.build_package("model_inference", "arm64", source=copy)
    assert changed.sha256 != original.sha256
    assert changed.code_sha256 != original.code_sha256


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown Lambda architecture 'sparc'"):
        packaging.build_package("model_inference", "sparc")
