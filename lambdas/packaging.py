"""Build each Lambda function's deployment zip, and import a handler the way Lambda loads it.

    python -m lambdas.packaging build [--out build/lambdas] [FUNCTION ...]        # code only: <function>.zip
    python -m lambdas.packaging build --architecture arm64 [FUNCTION ...]         # deployable: code + dependencies
    python -m lambdas.packaging lock                                              # re-resolve requirements-lock.txt

A function is a folder `lambdas/<function>/` with a `handler.py` (handler setting `handler.handler`). Its zip
holds, at the zip root (Lambda's `/var/task`, first on `sys.path`):

- the function folder's files (its `handler.py` and the function's own modules; not `events/`, the sample
  events the tests use, nor caches);
- the serving package as `dataplatform/__init__.py` + `dataplatform/serving/**` (with the SQL files it ships
  inside it), plus the other `dataplatform` modules it imports, found by following its import statements
  (today `dataplatform.model.cold_start`, the numpy-only user-feature model) — and never a module of the
  Airflow side, the loader or the batch code (`FORBIDDEN`): the build fails if an import would pull one in;
- for a **deployable** package (`build_package`, `--architecture`): the third-party dependencies, installed
  from `lambdas/requirements-lock.txt` (every version pinned, every wheel's sha256 checked) as the Lambda
  runtime needs them: manylinux wheels for the function's architecture (`arm64` -> `aarch64-manylinux_2_28`,
  `x86_64` -> `x86_64-manylinux_2_28`) and CPython 3.12, binary wheels only, by
  `uv pip install --target`. The lock is resolved from `lambdas/requirements.txt` with the repo's
  `requirements-lock.txt` as constraints (the functions run on the versions the tests run on):
  `python -m lambdas.packaging lock`. Installed dependencies are cached per (lock, platform) under
  `build/lambdas/deps/`.

Zips are deterministic: sorted entries, fixed timestamps, modes from the file's executable bit only, the same
compression: the same sources and lock give the same bytes (on the same zlib), so the package's sha256 says
whether anything changed (`Package.code_sha256` is the form Lambda reports as `CodeSha256`). A deployable
package is kept under `build/lambdas/packages/<digest of its inputs>.zip`, so an unchanged package is not
compressed again.

`load_handler(function)` imports `lambdas/<function>/handler.py` in the current process with the function
folder and `plugins/` on `sys.path`, under the module name `<function>_handler` so two functions'
`handler.py` never collide. The modules beside a handler are imported by their top-level names (as at the
zip root), so function folders must not share module names (`test_packaging` checks it).
"""

from __future__ import annotations

import argparse
import ast
import base64
import fcntl
import hashlib
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
LAMBDAS = REPO / "lambdas"
PLUGINS = REPO / "plugins"
PACKAGE = PLUGINS / "dataplatform"
SERVING = PACKAGE / "serving"
DEFAULT_OUT = REPO / "build" / "lambdas"
REQUIREMENTS = LAMBDAS / "requirements.txt"
LOCK = LAMBDAS / "requirements-lock.txt"
REPO_LOCK = REPO / "requirements-lock.txt"
RUNTIME_PYTHON = "3.12"
"""The Lambda runtime the functions are deployed on (python3.12)."""
PLATFORMS = {"arm64": "aarch64-manylinux_2_28", "x86_64": "x86_64-manylinux_2_28"}
"""Lambda architecture -> the wheel platform uv installs for (the python3.12 runtime is Amazon Linux 2023, glibc
2.34, so manylinux_2_28 wheels load there)."""
DEPS_CACHE = REPO / "build" / "lambdas" / "deps"
PACKAGE_CACHE = REPO / "build" / "lambdas" / "packages"
PACKAGE_COMPRESSLEVEL = 6
PACKAGE_FORMAT = "2"
"""Part of a deployable package's input digest: bump it when the zip layout changes."""

FORBIDDEN = ("dataplatform.orchestration", "dataplatform.vectordb", "dataplatform.batch")
"""Packages a Lambda must never ship: Airflow extensions, the loader, the batch code."""

ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o644
SKIPPED_DIRS = frozenset({"__pycache__", "events", ".pytest_cache", ".ruff_cache", ".mypy_cache"})
SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})


def functions() -> list[str]:
    """Every function folder (one with a handler.py), sorted."""
    return sorted(p.parent.name for p in LAMBDAS.glob("*/handler.py"))


def _files(root: Path) -> Iterator[Path]:
    """The files under `root`, sorted, outside `SKIPPED_DIRS` and without bytecode (one `os.walk`: a dependencies
    folder holds thousands of files)."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        found += [Path(folder, n) for n in names if os.path.splitext(n)[1] not in SKIPPED_SUFFIXES]
    yield from sorted(p for p in found if p.is_file())


class _RuntimeImports(ast.NodeVisitor):
    """The `dataplatform` modules a file imports at run time (not under `if TYPE_CHECKING:`)."""

    def __init__(self) -> None:
        self.modules: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.modules |= {a.name for a in node.names if a.name.split(".")[0] == "dataplatform"}

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module and node.module.split(".")[0] == "dataplatform":
            self.modules.add(node.module)
            # `from dataplatform.serving import popular` imports the submodule
            self.modules |= {f"{node.module}.{a.name}" for a in node.names if _module_file(f"{node.module}.{a.name}")}


def _module_file(module: str) -> Path | None:
    base = PLUGINS.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=1024)
def _parsed(path: Path, mtime_ns: int, size: int) -> ast.Module:
    """A source file's syntax tree, parsed again only when the file changes (its modification time or size)."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def package_modules(roots: list[Path]) -> set[Path]:
    """The `dataplatform` module files `roots` import, transitively, with their packages' `__init__.py`."""
    found: set[Path] = set()
    todo = list(roots)
    while todo:
        visitor = _RuntimeImports()
        path = todo.pop()
        stat = path.stat()
        visitor.visit(_parsed(path, stat.st_mtime_ns, stat.st_size))
        for module in sorted(visitor.modules):
            if module.startswith(FORBIDDEN):
                raise ImportError(f"{module} would be shipped in a Lambda zip: the serving code must not import "
                                  f"{', '.join(FORBIDDEN)}")
            parts = module.split(".")
            for depth in range(1, len(parts) + 1):
                path = _module_file(".".join(parts[:depth]))
                if path is not None and path not in found:
                    found.add(path)
                    todo.append(path)
    return found


def zip_members(function: str, source: Path | None = None) -> dict[str, Path]:
    """Archive name -> source file, for one function's zip (`source`: another folder holding the function)."""
    folder = source or LAMBDAS / function
    if not (folder / "handler.py").is_file():
        raise FileNotFoundError(f"no Lambda function {function!r}: {folder}/handler.py does not exist "
                                f"(functions: {', '.join(functions())})")
    members = {p.relative_to(folder).as_posix(): p for p in _files(folder)}
    serving = list(_files(SERVING))
    python = [p for p in (*members.values(), *serving) if p.suffix == ".py"]
    for path in {PACKAGE / "__init__.py", *serving, *package_modules(python)}:
        members[path.relative_to(PLUGINS).as_posix()] = path
    return dict(sorted(members.items()))


def _mode(path: Path) -> int:
    """0o755 for an executable file, else 0o644: the only part of a file's mode that reaches the zip."""
    return 0o755 if path.stat().st_mode & 0o111 else ZIP_FILE_MODE


def _entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so the mode below means the same on every build host
    info.external_attr = (0o100000 | mode) << 16
    return info


def write_zip(dest: Path, members: Mapping[str, Path], *, compresslevel: int = 9) -> Path:
    """Write `members` (archive name -> file) to `dest` in name order with fixed timestamps and modes."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name in sorted(members):
            zf.writestr(_entry(name, _mode(members[name])), members[name].read_bytes(), compresslevel=compresslevel)
    tmp.replace(dest)
    return dest


def build_zip(function: str, out_dir: Path = DEFAULT_OUT) -> Path:
    """Write `<out_dir>/<function>.zip` (the function's code, no dependencies); same sources give the same bytes."""
    return write_zip(out_dir / f"{function}.zip", zip_members(function))


# --- deployable packages: code + the locked dependencies for the Lambda runtime -------------------------------


@cache
def uv_command() -> list[str]:
    """How to run uv here: on PATH, else as a module of this or the base interpreter; the first that answers
    `--version` (a version manager's shim on PATH may exist and still fail)."""
    candidates = [[found]] if (found := shutil.which("uv")) else []
    candidates += [[python, "-m", "uv"] for python in
                   dict.fromkeys((sys.executable, getattr(sys, "_base_executable", sys.executable)))]
    for command in candidates:
        if subprocess.run([*command, "--version"], capture_output=True).returncode == 0:
            return command
    raise FileNotFoundError("uv is needed to install the Lambda dependencies (scripts/bootstrap.sh installs it)")


def wheel_platform(architecture: str) -> str:
    try:
        return PLATFORMS[architecture]
    except KeyError:
        raise ValueError(f"unknown Lambda architecture {architecture!r}: one of {', '.join(PLATFORMS)}") from None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two builds of the same thing wait for each other
        yield


def dependencies_dir(architecture: str, *, lock: Path = LOCK, cache: Path = DEPS_CACHE) -> Path:
    """The locked dependencies installed for `architecture` (cached per lock content and platform)."""
    platform = wheel_platform(architecture)
    key = hashlib.sha256(lock.read_bytes() + f"|{platform}|{RUNTIME_PYTHON}".encode()).hexdigest()[:16]
    target = cache / f"{architecture}-{key}"
    if (target / ".complete").exists():
        return target
    with _locked(cache / ".lock"):
        if (target / ".complete").exists():
            return target
        tmp = cache / f".{target.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        result = subprocess.run([
            *uv_command(), "pip", "install", "--quiet", "--target", str(tmp), "--python-platform", platform,
            "--python-version", RUNTIME_PYTHON, "--only-binary", ":all:", "--no-deps", "--require-hashes",
            "--link-mode", "copy", "-r", str(lock),
        ], capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"installing {lock.name} for {platform} failed:\n{result.stderr[-3000:]}")
        (tmp / ".complete").write_text(key)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    return target


def _shipped(name: str) -> bool:
    """Console scripts (`bin/`: their shebang names the build machine's interpreter) and `RECORD` files (they hold
    those scripts' hashes) are left out: the runtime uses neither, and they would tie the bytes to the build host."""
    return not (name.startswith("bin/") or (name.endswith("/RECORD") and ".dist-info/" in name)
                or name == ".complete")


def _digest_line(name: str, path: Path) -> str:
    return f"{name}\0{_mode(path):o}\0{file_sha256(path)}\n"


@cache
def _dependency_listing(deps: Path) -> tuple[tuple[str, Path, str], ...]:
    """(archive name, file, digest line) of each shipped file of a dependencies folder, read once per process: a
    completed folder never changes (another lock or platform is another folder)."""
    members = ((p.relative_to(deps).as_posix(), p) for p in _files(deps))
    return tuple((name, path, _digest_line(name, path)) for name, path in members if _shipped(name))


def dependency_members(deps: Path) -> dict[str, Path]:
    """Archive name -> file for an installed dependencies folder (no caches, no bytecode, nothing host-specific)."""
    return {name: path for name, path, _ in _dependency_listing(deps)}


def _check_no_clash(function: str, code: Iterable[str], deps: Iterable[str]) -> None:
    clash = {n.split("/")[0] for n in code} & {n.split("/")[0] for n in deps}
    if clash:
        raise ValueError(f"{function}: {', '.join(sorted(clash))} both in the function's code and a dependency")


def package_members(function: str, architecture: str, source: Path | None = None) -> dict[str, Path]:
    """Archive name -> file for a deployable package: the function's code and its dependencies."""
    code = zip_members(function, source)
    deps = dependency_members(dependencies_dir(architecture))
    _check_no_clash(function, code, deps)
    return dict(sorted({**code, **deps}.items()))


def compressed_dependencies(deps: Path) -> Path:
    """`<deps>.zip` beside the folder: its shipped files as `write_zip` writes them at the packages' level, made once
    per dependencies folder. A package copies these entries' compressed bytes (`write_package`) instead of
    compressing the same ~100 MB again for every change of a function's code."""
    path = deps.with_name(f"{deps.name}.zip")
    if not path.exists():
        with _locked(deps.with_name(".lock")):
            if not path.exists():
                write_zip(path, dependency_members(deps), compresslevel=PACKAGE_COMPRESSLEVEL)
    return path


def _raw_entry(source: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The compressed bytes of one entry, as stored (after its local header)."""
    assert source.fp is not None
    source.fp.seek(info.header_offset)
    header = source.fp.read(zipfile.sizeFileHeader)
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    source.fp.seek(info.header_offset + zipfile.sizeFileHeader + name_length + extra_length)
    return source.fp.read(info.compress_size)


def _append_compressed(dest: zipfile.ZipFile, info: zipfile.ZipInfo, raw: bytes) -> None:
    """Append an entry whose compressed bytes are already made: the local header and data `ZipFile.writestr` would
    write for the same file (sizes and CRC known up front, so the header is written once instead of patched)."""
    assert dest.fp is not None
    entry = _entry(info.filename, (info.external_attr >> 16) & 0o777)
    entry.CRC, entry.compress_size, entry.file_size = info.CRC, info.compress_size, info.file_size
    entry.flag_bits = 0
    dest.fp.seek(dest.start_dir)
    entry.header_offset = dest.fp.tell()
    dest.fp.write(entry.FileHeader(False))
    dest.fp.write(raw)
    dest.start_dir = dest.fp.tell()
    dest.filelist.append(entry)
    dest.NameToInfo[entry.filename] = entry
    dest._didModify = True  # so close() writes the central directory


def write_package(dest: Path, code: Mapping[str, Path], deps: Path) -> Path:
    """The same bytes as `write_zip(dest, {**code, **dependency_members(deps)}, compresslevel=PACKAGE_COMPRESSLEVEL)`
    (tested), with the dependencies' entries copied compressed from `compressed_dependencies(deps)`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(compressed_dependencies(deps)) as compressed, zipfile.ZipFile(tmp, "w") as zf:
        stored = {info.filename: info for info in compressed.infolist()}
        if stored.keys() != dependency_members(deps).keys():
            raise RuntimeError(f"{compressed.filename} does not hold {deps}'s files: delete it and build again")
        for name in sorted({*code, *stored}):
            if name in code:
                zf.writestr(_entry(name, _mode(code[name])), code[name].read_bytes(),
                            compresslevel=PACKAGE_COMPRESSLEVEL)
            else:
                _append_compressed(zf, stored[name], _raw_entry(compressed, stored[name]))
    tmp.replace(dest)
    return dest


@dataclass(frozen=True)
class Package:
    """One deployable zip."""

    function: str
    architecture: str
    path: Path
    sha256: str
    """Hex sha256 of the zip's bytes."""
    size: int

    @property
    def code_sha256(self) -> str:
        """The sha256 as Lambda reports it (`CodeSha256`: base64 of the digest)."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _digest_of(lines: Mapping[str, str]) -> str:
    digest = hashlib.sha256(f"format {PACKAGE_FORMAT}\n".encode())
    for name in sorted(lines):
        digest.update(lines[name].encode())
    return digest.hexdigest()


def inputs_digest(members: Mapping[str, Path]) -> str:
    """sha256 over the package format, every archive name, file content and mode: what decides the zip's bytes."""
    return _digest_of({name: _digest_line(name, path) for name, path in members.items()})


def build_package(function: str, architecture: str, out_dir: Path | None = None, *,
                  source: Path | None = None) -> Package:
    """The deployable zip of `function` for `architecture`: built once per distinct input (cached), copied to
    `<out_dir>/<function>-<architecture>.zip` when `out_dir` is given. `source`: the function's folder, if not
    `lambdas/<function>/`."""
    code = zip_members(function, source)
    deps = dependencies_dir(architecture)
    listing = _dependency_listing(deps)
    _check_no_clash(function, code, (name for name, _, _ in listing))
    lines = {name: line for name, _, line in listing} | {name: _digest_line(name, p) for name, p in code.items()}
    built = PACKAGE_CACHE / f"{function}-{architecture}-{_digest_of(lines)[:32]}.zip"  # = inputs_digest(members)
    if built.exists():
        os.utime(built)  # recently used: `_prune` keeps it
    else:
        with _locked(PACKAGE_CACHE / ".lock"):
            if not built.exists():
                write_package(built, code, deps)
        _prune(function, architecture, keep=built)
    path = built
    if out_dir is not None:
        path = out_dir / f"{function}-{architecture}.zip"
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, path)
    return Package(function=function, architecture=architecture, path=path, sha256=file_sha256(path),
                   size=path.stat().st_size)


def _prune(function: str, architecture: str, *, keep: Path, newest: int = 3) -> None:
    """Keep the cache small: the `newest` (most recently used) packages of one function and architecture."""
    older = sorted(PACKAGE_CACHE.glob(f"{function}-{architecture}-*.zip"), key=lambda p: p.stat().st_mtime,
                   reverse=True)[newest:]
    for path in older:
        if path != keep:
            path.unlink(missing_ok=True)


def lock_dependencies(out: Path = LOCK) -> None:
    """Re-resolve `requirements-lock.txt` from `requirements.txt`, constrained by the repo's lock, for the Lambda
    runtime (aarch64 manylinux, CPython 3.12), with the sha256 of every wheel of each pinned version."""
    subprocess.run([
        *uv_command(), "pip", "compile", "--quiet", str(REQUIREMENTS.relative_to(REPO)),
        "--constraint", str(REPO_LOCK.relative_to(REPO)), "--python-platform", PLATFORMS["arm64"],
        "--python-version", RUNTIME_PYTHON, "--generate-hashes", "--output-file", str(out.relative_to(REPO)),
    ], check=True, cwd=REPO)


def load_handler(function: str, *, fresh: bool = False) -> ModuleType:
    """Import `lambdas/<function>/handler.py` in this process, as Lambda would from the zip root. Imported once
    (a warm container) unless `fresh`: then the handler module runs again, a cold start that reads the
    environment anew (its sibling modules hold no configuration and stay imported)."""
    name = f"{function}_handler"
    if name in sys.modules and not fresh:
        return sys.modules[name]
    folder = LAMBDAS / function
    for path in (str(PLUGINS), str(folder)):
        if path not in sys.path:
            sys.path.insert(0, path)
    spec = importlib.util.spec_from_file_location(name, folder / "handler.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {folder / 'handler.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lambdas.packaging", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the functions' zips")
    build.add_argument("functions", nargs="*", help=f"default: all ({', '.join(functions())})")
    build.add_argument("--out", type=Path, default=DEFAULT_OUT)
    build.add_argument("--architecture", choices=sorted(PLATFORMS),
                       help="build deployable packages (code + locked dependencies) for this architecture")
    sub.add_parser("lock", help=f"re-resolve {LOCK.relative_to(REPO)} from {REQUIREMENTS.relative_to(REPO)}")
    args = parser.parse_args(argv)
    if args.command == "lock":
        lock_dependencies()
        return
    for function in args.functions or functions():
        if args.architecture:
            package = build_package(function, args.architecture, args.out)
            print(f"{function:<24} {package.path} ({package.size:,} bytes, sha256 {package.sha256})")
        else:
            path = build_zip(function, args.out)
            print(f"{function:<24} {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
