"""Build each Lambda function's deployment zip, and import a handler the way Lambda loads it.

    python -m lambdas.packaging build [--out build/lambdas] [FUNCTION ...]   # -> build/lambdas/<function>.zip

A function is a folder `lambdas/<function>/` with a `handler.py` (handler setting `handler.handler`). Its zip
holds, at the zip root (Lambda's `/var/task`, first on `sys.path`):

- the function folder's files (its `handler.py` and the function's own modules; not `events/`, the sample
  events the tests use, nor caches);
- the serving package as `dataplatform/__init__.py` + `dataplatform/serving/**` (with the SQL files it ships
  inside it), plus the other `dataplatform` modules it imports, found by following its import statements
  (today `dataplatform.model.cold_start`, the numpy-only user-feature model) — and never a module of the
  Airflow side, the loader or the batch code (`FORBIDDEN`): the build fails if an import would pull one in.

Third-party dependencies (`lambdas/requirements.txt`: Powertools, pydantic, psycopg, pgvector, numpy) are
not bundled by this build: they go in a Lambda layer (or are installed into the zip by the deployment
pipeline with `pip install --platform manylinux2014_x86_64 --only-binary=:all: -t`). The zip is deterministic
(sorted entries, fixed timestamps and modes): same sources, same bytes.

`load_handler(function)` imports `lambdas/<function>/handler.py` in the current process with the function
folder and `plugins/` on `sys.path`, under the module name `<function>_handler` so two functions'
`handler.py` never collide. The modules beside a handler are imported by their top-level names (as at the
zip root), so function folders must not share module names (`test_packaging` checks it).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
LAMBDAS = REPO / "lambdas"
PLUGINS = REPO / "plugins"
PACKAGE = PLUGINS / "dataplatform"
SERVING = PACKAGE / "serving"
DEFAULT_OUT = REPO / "build" / "lambdas"
REQUIREMENTS = LAMBDAS / "requirements.txt"

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
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not SKIPPED_DIRS.intersection(rel.parts[:-1]) and path.suffix not in SKIPPED_SUFFIXES:
            yield path


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


def package_modules(roots: list[Path]) -> set[Path]:
    """The `dataplatform` module files `roots` import, transitively, with their packages' `__init__.py`."""
    found: set[Path] = set()
    todo = list(roots)
    while todo:
        visitor = _RuntimeImports()
        visitor.visit(ast.parse(todo.pop().read_text(encoding="utf-8")))
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


def zip_members(function: str) -> dict[str, Path]:
    """Archive name -> source file, for one function's zip."""
    folder = LAMBDAS / function
    if not (folder / "handler.py").is_file():
        raise FileNotFoundError(f"no Lambda function {function!r}: {folder}/handler.py does not exist "
                                f"(functions: {', '.join(functions())})")
    members = {p.relative_to(folder).as_posix(): p for p in _files(folder)}
    serving = list(_files(SERVING))
    python = [p for p in (*members.values(), *serving) if p.suffix == ".py"]
    for path in {PACKAGE / "__init__.py", *serving, *package_modules(python)}:
        members[path.relative_to(PLUGINS).as_posix()] = path
    return dict(sorted(members.items()))


def build_zip(function: str, out_dir: Path = DEFAULT_OUT) -> Path:
    """Write `<out_dir>/<function>.zip`; same sources give the same bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / f"{function}.zip"
    tmp = dest.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, path in zip_members(function).items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode below means the same on every build host
            info.external_attr = (0o100000 | ZIP_FILE_MODE) << 16
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    tmp.replace(dest)
    return dest


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
    args = parser.parse_args(argv)
    for function in args.functions or functions():
        path = build_zip(function, args.out)
        print(f"{function:<24} {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
