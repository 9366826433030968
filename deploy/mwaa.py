"""Build and upload the Amazon MWAA bundle: exactly what an MWAA environment takes from its S3 bucket.

    python -m deploy.mwaa build                 # -> build/mwaa/
    python -m deploy.mwaa upload [--bucket B]   # build, then upload to the environment bucket

The bundle (`build/mwaa/`), in MWAA's layout:

| path               | what                                                                           |
|--------------------|--------------------------------------------------------------------------------|
| `dags/`            | `dags/` of the repo (DAG files, `.airflowignore`) + `include/` as `dags/include/` |
| `plugins.zip`      | `plugins/` of the repo (the `dataplatform` package at the zip root)            |
| `requirements.txt` | the repo's `requirements.txt` (constraint line first)                           |
| `startup.sh`       | the repo's `startup.sh` (exports `DATAPLATFORM_*`)                              |
| `lambda-packages/` | the Lambda packages `streaming_deploy` deploys (not MWAA's: staged in their code bucket) |

MWAA deploys only `dags/` and `plugins.zip`, so the files the DAGs read at run time (SQL, Glue scripts,
contracts) travel inside `dags/include/`, where `dataplatform.paths.include_dir()` finds them and
`.airflowignore` keeps the DAG processor out. `plugins.zip` is deterministic (sorted entries, fixed
timestamps and permissions): an unchanged package gives identical bytes, so its checksum is unchanged and
no new S3 object version (hence no 20-minute environment update) is produced.

**Lambda packages.** MWAA has neither the repo's `lambdas/` nor its lock nor uv, so `streaming_deploy` cannot build
there: the packages are built here (`build_lambda_packages`, with `lambdas.packaging` and its cache, for the
architecture each `include/streaming/*.yaml` names: arm64), deterministic, into `lambda-packages/<key>-<arch>.zip`,
and what was built is written as the manifest `dags/include/streaming/packages.json` (a
`dataplatform.streaming.packages.PackageSet`: function, architecture, sha256, size, and the bucket and key it is
staged at, `s3://<code_bucket>/<code_prefix><function name>/<sha256>.zip`). The key names come from the settings,
so `build` needs the target environment's `DATAPLATFORM_*`, as `upload` does. On MWAA, `build_packages` finds the
manifest (and no `lambdas/`) and checks each staged object instead of building.

Upload (`upload_bundle`) first stages the Lambda packages the manifest names (by content: an unchanged package is
not uploaded again), so no DAG ever names a package that is not there; then it writes `s3://<mwaa bucket>/dags/...`
with sync semantics (a DAG removed from the repo is deleted from the bucket), `plugins.zip`, `requirements.txt`
and `startup.sh`, and returns the S3 object versions of the last three, which `aws mwaa update-environment`
needs. Each object carries its SHA-256 in `x-amz-meta-sha256` (`dataplatform.s3.put_if_changed`, which the Glue
script sync uses too); an object whose checksum is unchanged is not uploaded again. The Glue scripts
(`include/glue/*.py`) also go to `s3://<glue assets bucket>/scripts/<name>`, where the Glue jobs read them.

MWAA pins `plugins.zip`, `requirements.txt` and `startup.sh` by object version, so the bucket must be
versioned. On the local stack (any endpoint that is not `*.amazonaws.com`, i.e. moto) versioning is enabled
here; against AWS an unversioned bucket is an error: bucket configuration belongs to the infrastructure
code that owns the bucket, and the deploy role should not need `s3:PutBucketVersioning`.

Plain Python + boto3, no Airflow import. Bucket names come from `dataplatform.config.settings()`.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "plugins") not in sys.path:  # `python -m deploy.mwaa` from the repo root, without PYTHONPATH
    sys.path.insert(0, str(REPO / "plugins"))

from dataplatform import s3 as s3_ops  # noqa: E402 - after the path above
from dataplatform.config import Settings  # noqa: E402
from dataplatform.s3 import PutResult  # noqa: E402
from dataplatform.streaming import packages, specs  # noqa: E402

DEFAULT_OUT = REPO / "build" / "mwaa"

# Every entry of plugins.zip gets the same timestamp and mode, so the zip's bytes depend on content only.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
ZIP_FILE_MODE = 0o644
SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".ipynb_checkpoints"})
SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})
SKIPPED_NAMES = frozenset({".DS_Store"})

DAGS_PREFIX = "dags/"
LAMBDA_PACKAGES = "lambda-packages"
GLUE_SCRIPTS_PREFIX = "scripts/"

log = logging.getLogger("deploy.mwaa")


class BundleError(RuntimeError):
    """The bundle cannot be uploaded as it is (no Lambda packages, or a package that is not the manifest's)."""


class BucketNotVersionedError(RuntimeError):
    """The MWAA environment bucket has no versioning: MWAA could not pin plugins/requirements/startup."""


@dataclass(frozen=True)
class BundlePaths:
    """Where `build_bundle` put each part of the bundle."""

    root: Path
    dags: Path
    plugins_zip: Path
    requirements: Path
    startup: Path

    @property
    def versioned_objects(self) -> dict[str, Path]:
        """S3 key -> local file, for the objects MWAA pins by version."""
        return {"plugins.zip": self.plugins_zip, "requirements.txt": self.requirements, "startup.sh": self.startup}

    @property
    def glue_scripts(self) -> list[Path]:
        return sorted((self.dags / "include" / "glue").glob("*.py"))

    @property
    def lambda_packages(self) -> Path:
        return self.root / LAMBDA_PACKAGES

    @property
    def manifest(self) -> Path:
        """The staged Lambda packages, where `streaming_deploy` reads them on MWAA (`include_dir()/streaming/`)."""
        return self.dags / "include" / "streaming" / packages.MANIFEST

    def lambda_package(self, package: packages.StagedPackage) -> Path:
        return self.lambda_packages / f"{package.function}-{package.architecture}.zip"


# --- build -------------------------------------------------------------------------------------------------


def _shipped_files(root: Path) -> Iterator[Path]:
    """Files under `root`, sorted, without caches and compiled files."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or SKIPPED_DIRS.intersection(rel.parts[:-1]):
            continue
        if path.suffix in SKIPPED_SUFFIXES or path.name in SKIPPED_NAMES:
            continue
        yield path


def _copy_tree(src: Path, dest: Path) -> None:
    for path in _shipped_files(src):
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def write_deterministic_zip(src: Path, dest: Path) -> None:
    """Zip the files under `src` with paths relative to `src`: same content, same bytes."""
    with zipfile.ZipFile(dest, "w") as zf:
        for path in _shipped_files(src):
            info = zipfile.ZipInfo(path.relative_to(src).as_posix(), date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode below means the same on every build host
            info.external_attr = (0o100000 | ZIP_FILE_MODE) << 16
            zf.writestr(info, path.read_bytes(), compresslevel=9)


def build_bundle(out_dir: Path | str = DEFAULT_OUT, repo: Path = REPO, *, lambda_packages: bool = True,
                 settings: Settings | None = None) -> BundlePaths:
    """Build the MWAA bundle from `repo` into `out_dir` (emptied first, so nothing stale survives).

    `lambda_packages`: also build the Lambda packages and their manifest (`build_lambda_packages`, for `settings`,
    default `settings()`); without them (the fast tests of the Airflow part) `upload_bundle` refuses the bundle."""
    out = Path(out_dir).resolve()
    if repo.resolve().is_relative_to(out):
        raise ValueError(f"refusing to empty {out}: it contains the repo")
    if (repo / "dags" / "include").exists():
        raise ValueError("dags/include exists in the repo: it would collide with include/ shipped as dags/include")
    if not (repo / "plugins" / "dataplatform" / "__init__.py").is_file():
        raise FileNotFoundError(f"no dataplatform package under {repo / 'plugins'}")
    if (repo / "include" / "streaming" / packages.MANIFEST).exists():
        raise ValueError(f"include/streaming/{packages.MANIFEST} exists in the repo: the bundle writes it")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    bundle = BundlePaths(
        root=out,
        dags=out / "dags",
        plugins_zip=out / "plugins.zip",
        requirements=out / "requirements.txt",
        startup=out / "startup.sh",
    )
    _copy_tree(repo / "dags", bundle.dags)
    if (repo / "include").is_dir():
        _copy_tree(repo / "include", bundle.dags / "include")
    write_deterministic_zip(repo / "plugins", bundle.plugins_zip)
    shutil.copyfile(repo / "requirements.txt", bundle.requirements)
    shutil.copyfile(repo / "startup.sh", bundle.startup)
    if lambda_packages:
        build_lambda_packages(bundle, settings or _settings())
    return bundle


def build_lambda_packages(bundle: BundlePaths, settings: Settings) -> packages.PackageSet:
    """Build each function of the bundle's `include/streaming/` for its file's architecture (as on AWS) into
    `lambda-packages/`, and write the manifest of where they are to be staged; returns the manifest."""
    the_specs = specs.load(settings, bundle.dags / "include" / "streaming")
    built = packages.build(the_specs, packages.Target(emulated=False), None, upload=False,
                           out_dir=bundle.lambda_packages)
    bundle.manifest.write_text(json.dumps(built.payload(), indent=2, sort_keys=True) + "\n")
    return built


# --- upload ------------------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    return s3_ops.sha256_hex(path.read_bytes())


def is_local_endpoint(s3_client: Any) -> bool:
    """True when the client talks to something other than AWS (moto on the local stack)."""
    host = urlparse(s3_client.meta.endpoint_url).hostname or ""
    return not (host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn"))


def ensure_versioning(s3_client: Any, bucket: str, enable: bool | None = None) -> None:
    """Make sure `bucket` is versioned; `enable=None` enables it only on a local endpoint."""
    status = s3_client.get_bucket_versioning(Bucket=bucket).get("Status")
    if status == "Enabled":
        return
    if enable is None:
        enable = is_local_endpoint(s3_client)
    if not enable:
        raise BucketNotVersionedError(
            f"s3://{bucket} is not versioned (versioning: {status or 'never enabled'}). MWAA pins plugins.zip, "
            "requirements.txt and startup.sh by S3 object version, so the environment bucket must be versioned. "
            "Enable versioning in the infrastructure code that owns the bucket; this deploy does not change "
            "bucket configuration in AWS."
        )
    log.info("enabling versioning on s3://%s (local endpoint)", bucket)
    s3_client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def put_if_changed(s3_client: Any, bucket: str, key: str, path: Path, *, need_version: bool = False) -> PutResult:
    """`dataplatform.s3.put_if_changed`, logged when it uploads."""
    result = s3_ops.put_if_changed(s3_client, bucket, key, path, need_version=need_version)
    if result.uploaded:
        log.info("uploaded s3://%s/%s", bucket, key)
    return result


def sync_dags(s3_client: Any, bucket: str, dags_dir: Path) -> dict[str, list[str]]:
    """Make `s3://bucket/dags/` equal to `dags_dir`: upload changed files, delete the ones gone from the repo."""
    local = {DAGS_PREFIX + p.relative_to(dags_dir).as_posix(): p for p in _shipped_files(dags_dir)}
    uploaded = [key for key, path in local.items() if put_if_changed(s3_client, bucket, key, path).uploaded]
    stale = sorted(set(s3_ops.list_keys(s3_client, bucket, DAGS_PREFIX)) - local.keys())
    s3_ops.delete_keys(s3_client, bucket, stale)
    for key in stale:
        log.info("deleted s3://%s/%s (gone from the repo)", bucket, key)
    return {"uploaded": uploaded, "deleted": stale}


def stage_lambda_packages(bundle: BundlePaths, s3_client: Any) -> packages.PackageSet:
    """Put each package the bundle's manifest names at its staging key (unless the same bytes are there)."""
    if not bundle.manifest.is_file():
        raise BundleError(f"{bundle.root} has no Lambda packages ({bundle.manifest} is missing): build it with "
                          "`python -m deploy.mwaa build`, or streaming_deploy could not deploy on MWAA")
    manifest = packages.PackageSet.from_payload(bundle.manifest.read_text(), source=str(bundle.manifest))
    for package in manifest.packages.values():
        path = bundle.lambda_package(package)
        if not path.is_file() or sha256_of(path) != package.sha256:
            raise BundleError(f"{path} is not the package {package.short} the manifest names: build the bundle again")
        put_if_changed(s3_client, package.bucket, package.key, path)
    return manifest


def upload_bundle(bundle: BundlePaths, bucket: str, s3_client: Any, *, glue_bucket: str | None = None,
                  enable_versioning: bool | None = None) -> dict[str, str]:
    """Upload `bundle` to the MWAA environment bucket; return the object versions MWAA must be given.

    The Lambda packages are staged first (`stage_lambda_packages`), so the manifest in `dags/` never names a
    package that is not staged. `glue_bucket` defaults to `settings().glue_assets_bucket`; `enable_versioning`
    to "only on a local endpoint" (see the module docstring).
    """
    ensure_versioning(s3_client, bucket, enable_versioning)
    stage_lambda_packages(bundle, s3_client)
    versions: dict[str, str] = {}
    for key, path in bundle.versioned_objects.items():
        version = put_if_changed(s3_client, bucket, key, path, need_version=True).version_id
        if version in (None, "null"):
            raise BucketNotVersionedError(f"s3://{bucket}/{key} has no version id: is the bucket versioned?")
        versions[key] = version
    sync_dags(s3_client, bucket, bundle.dags)
    glue_bucket = glue_bucket or _settings().glue_assets_bucket
    for script in bundle.glue_scripts:
        put_if_changed(s3_client, glue_bucket, GLUE_SCRIPTS_PREFIX + script.name, script)
    return versions


# --- CLI ---------------------------------------------------------------------------------------------------


def _settings() -> Any:
    from dataplatform.config import settings

    return settings()


def update_environment_command(bucket: str, versions: dict[str, str], environment: str) -> str:
    """The `aws mwaa update-environment` call that makes the environment use the uploaded versions."""
    return " \\\n  ".join([
        f"aws mwaa update-environment --name {environment}",
        f"--source-bucket-arn arn:aws:s3:::{bucket} --dag-s3-path dags",
        f"--plugins-s3-path plugins.zip --plugins-s3-object-version {versions['plugins.zip']}",
        f"--requirements-s3-path requirements.txt --requirements-s3-object-version {versions['requirements.txt']}",
        f"--startup-script-s3-path startup.sh --startup-script-s3-object-version {versions['startup.sh']}",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.mwaa", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["build", "upload"])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundle directory (default: build/mwaa)")
    parser.add_argument("--bucket", help="MWAA environment bucket (default: settings().mwaa_bucket)")
    parser.add_argument("--glue-bucket", help="Glue assets bucket (default: settings().glue_assets_bucket)")
    parser.add_argument("--environment", help="MWAA environment name, for the printed update command")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    bundle = build_bundle(args.out)
    log.info("built %s (plugins.zip sha256 %s)", bundle.root, sha256_of(bundle.plugins_zip))
    for package in packages.PackageSet.from_payload(bundle.manifest.read_text()).packages.values():
        log.info("lambda package %s (%s): sha256 %s -> s3://%s/%s", package.function, package.architecture,
                 package.short, package.bucket, package.key)
    if args.command == "build":
        return

    import boto3  # boto3's default credential chain; AWS_ENDPOINT_URL (devstack env) points it at moto

    s = _settings()
    bucket = args.bucket or s.mwaa_bucket
    s3 = boto3.client("s3", region_name=s.region)
    versions = upload_bundle(bundle, bucket, s3, glue_bucket=args.glue_bucket or s.glue_assets_bucket)
    print(json.dumps({"bucket": bucket, "versions": versions}, indent=2))
    print(update_environment_command(bucket, versions, args.environment or s.prefix))


if __name__ == "__main__":
    main()
