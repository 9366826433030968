"""The functions' deployable zips: built from the repo (`lambdas.packaging`) or named by the MWAA bundle's manifest,
staged in S3 by content, fetched back.

A package is staged at `s3://<code_bucket>/<code_prefix><function name>/<sha256>.zip`: the key is the content,
so an unchanged package is neither uploaded again (`dataplatform.s3.put_if_changed`) nor deployed again (its
`CodeSha256` equals the function's). Any later task, on any worker, fetches the same bytes by key and checks the
sha256.

**Where the packages come from (`prepare`), decided by what is on disk, never by guessing the platform:**

- *A checkout of the repo* (the local platform, Astro, CI): `lambdas/packaging.py` is beside `plugins/`
  (`repo_lambdas()`). The packages are built here, as `lambdas.packaging.build_package` builds them (the
  function's folder, the serving package, the locked wheels, with uv), and staged unless it is a dry run.
- *The MWAA bundle*: MWAA deploys only `dags/` and `plugins.zip`, so there are no `lambdas/` sources, no lock and
  no uv. `python -m deploy.mwaa build` builds the packages where the repo is, for each file's architecture, and
  ships what it built as `dags/include/streaming/packages.json` (`MANIFEST`, a `PackageSet` beside the
  configuration files); `python -m deploy.mwaa upload` stages them before it uploads the DAGs. Here the packages
  are resolved from the manifest (`resolve`): each staged object must exist with the manifest's sha256, or the
  task fails naming the object and the command that stages it. Nothing is built.

**Where the code runs (`Target`).** Against AWS, a function runs on the architecture its file names (arm64). A
Lambda API that is not AWS's (moto locally, whose `Invoke` only echoes without Docker) cannot run it, so the smoke
test runs the package here, and a package built for another CPU than this machine's cannot be imported here:
on an emulated target the functions are built and deployed for this machine's architecture, and the plan says so.
What is uploaded is then exactly what the smoke test runs. (A bundle's manifest holds packages for the files'
architecture: it is meant for AWS.)

Plain Python: no Airflow import (`lambdas.packaging` is imported from the checkout when building).
"""

from __future__ import annotations

import base64
import hashlib
import platform
import sys
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dataplatform import s3 as s3_ops
from dataplatform.handoffs import Handoff, HandoffError
from dataplatform.streaming.specs import FunctionSpec, StreamingSpecs

MANIFEST = "packages.json"
"""The bundle's manifest of staged packages, beside the configuration files (`dags/include/streaming/` on MWAA)."""
STAGE_COMMAND = "python -m deploy.mwaa upload"
"""What stages the bundle's packages (run where the repo is, before the DAGs reach the environment)."""
_MISSING = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})

_MACHINE_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def host_architecture() -> str:
    machine = platform.machine().lower()
    if machine not in _MACHINE_ARCHITECTURES:
        raise RuntimeError(f"this machine ({machine}) runs no Lambda architecture")
    return _MACHINE_ARCHITECTURES[machine]


@dataclass(frozen=True)
class Target:
    """The Lambda API deployed to: AWS, or an emulator (`endpoint`) that cannot run the functions' code."""

    emulated: bool
    endpoint: str | None = None

    @classmethod
    def of(cls, lambda_client: Any) -> Target:
        endpoint = lambda_client.meta.endpoint_url
        host = urlparse(endpoint).hostname or ""
        aws = host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))
        return cls(emulated=not aws, endpoint=None if aws else endpoint)

    def architecture(self, spec: FunctionSpec) -> str:
        return host_architecture() if self.emulated else spec.architecture

    def describe(self, specs: StreamingSpecs) -> str:
        if not self.emulated:
            return "AWS"
        wanted = sorted({f.architecture for f in specs.functions.values()})
        return (f"emulated Lambda API at {self.endpoint}: packages built for {host_architecture()} (this machine) "
                f"instead of {', '.join(wanted)}, so the smoke test runs the uploaded zip here")


class StagedPackage(Handoff):
    """One function's package, where it is staged."""

    function: str
    """The function's key (its folder under `lambdas/`)."""
    architecture: str
    sha256: str
    size: int
    bucket: str
    key: str

    @property
    def code_sha256(self) -> str:
        """As Lambda reports `CodeSha256`: base64 of the digest."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()

    @property
    def short(self) -> str:
        return self.sha256[:12]


class PackageSet(Handoff):
    packages: dict[str, StagedPackage]
    staged: bool
    """False on a dry run: built and checksummed, not uploaded."""


def staging_key(spec: FunctionSpec, sha256: str) -> str:
    return f"{spec.code_prefix}{spec.name}/{sha256}.zip"


def repo_lambdas() -> Path | None:
    """The repo's `lambdas/` (with its build tooling `packaging.py`) beside `plugins/`: present in a checkout,
    absent from the MWAA bundle (`plugins.zip` unpacked alone)."""
    folder = Path(__file__).resolve().parents[3] / "lambdas"
    return folder if (folder / "packaging.py").is_file() else None


def build(specs: StreamingSpecs, target: Target, s3: Any, *, upload: bool, out_dir: Path | None = None,
          sources: Mapping[str, Path] | None = None) -> PackageSet:
    """Build every function's package for its target architecture; upload it (if `upload`) unless the same bytes
    are already staged. `sources`: function key -> folder, for a function not built from `lambdas/<key>/`;
    `out_dir`: also copy each zip there as `<key>-<architecture>.zip`."""
    lambdas = repo_lambdas()
    if lambdas is None:
        raise PackageSourceError(f"no lambdas/ beside {Path(__file__).resolve().parents[2]}: packages are built "
                                 "where the repo is")
    if str(lambdas.parent) not in sys.path:
        sys.path.append(str(lambdas.parent))
    from lambdas import packaging  # the repo's build tooling

    staged = {}
    for key, spec in specs.functions.items():
        package = packaging.build_package(key, target.architecture(spec), out_dir,
                                          source=(sources or {}).get(key))
        item = StagedPackage(function=key, architecture=package.architecture, sha256=package.sha256,
                             size=package.size, bucket=spec.code_bucket, key=staging_key(spec, package.sha256))
        if upload:
            s3_ops.put_if_changed(s3, item.bucket, item.key, package.path)
        staged[key] = item
    return PackageSet(packages=staged, staged=upload)


def prepare(specs: StreamingSpecs, target: Target, s3: Any, *, upload: bool) -> PackageSet:
    """The packages a deploy uses: built (and staged unless not `upload`) in a checkout of the repo, else resolved
    from the bundle's manifest beside the configuration files (verified whatever `upload` says)."""
    if repo_lambdas() is not None:
        return build(specs, target, s3, upload=upload)
    manifest = specs.directory / MANIFEST
    if not manifest.is_file():
        raise PackageSourceError(
            f"no Lambda packages: neither the repo's lambdas/ (a checkout) nor the bundle's manifest {manifest}. "
            f"Build and upload the MWAA bundle where the repo is (`{STAGE_COMMAND}`), then trigger again")
    return resolve(specs, s3, manifest)


def resolve(specs: StreamingSpecs, s3: Any, manifest: Path) -> PackageSet:
    """The manifest's packages for the configured functions, each checked in S3: it exists and has the manifest's
    sha256 (`PackageNotStagedError`, `PackageMismatchError` otherwise, naming the object and `STAGE_COMMAND`)."""
    try:
        shipped = PackageSet.from_payload(manifest.read_text(encoding="utf-8"), source=str(manifest))
    except HandoffError as exc:
        raise PackageSourceError(f"{exc}: build the bundle again (`{STAGE_COMMAND}`)") from exc
    problems, resolved = [], {}
    for key, spec in specs.functions.items():
        item = shipped.packages.get(key)
        expected = f"s3://{spec.code_bucket}/{spec.code_prefix}{spec.name}/<sha256>.zip ({spec.architecture})"
        if item is None:
            problems.append(f"{key}: not in the manifest (it has {', '.join(shipped.packages) or 'nothing'})")
        elif (item.bucket, item.key, item.architecture) != (spec.code_bucket, staging_key(spec, item.sha256),
                                                             spec.architecture):
            problems.append(f"{key}: the manifest has s3://{item.bucket}/{item.key} ({item.architecture}), this "
                            f"environment's configuration wants {expected}")
        else:
            resolved[key] = item
    if problems:
        raise PackageSourceError(
            f"{manifest} does not match the configuration (a bundle built for another environment or from other "
            f"files?): {'; '.join(problems)}. Build and upload the bundle with this environment's settings "
            f"(`{STAGE_COMMAND}`)")
    for item in resolved.values():
        check_staged(s3, item)
    return PackageSet(packages=resolved, staged=True)


def check_staged(s3: Any, package: StagedPackage) -> None:
    """The staged object exists and its bytes have the package's sha256 (read through, not trusted from metadata)."""
    where = f"s3://{package.bucket}/{package.key}"
    try:
        body = s3.get_object(Bucket=package.bucket, Key=package.key)["Body"]
    except s3.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] not in _MISSING:
            raise
        raise PackageNotStagedError(
            f"{where} ({package.function}, sha256 {package.short}) is not staged: run `{STAGE_COMMAND}` where the "
            "repo is (it stages the Lambda packages the bundle names), then trigger streaming_deploy again") from exc
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(1 << 20), b""):
        digest.update(chunk)
    if digest.hexdigest() != package.sha256:
        raise PackageMismatchError(
            f"{where} ({package.function}) has sha256 {digest.hexdigest()[:12]}, not the bundle's package "
            f"{package.short}: the object was overwritten. Run `{STAGE_COMMAND}` to stage it again (it replaces an "
            "object whose x-amz-meta-sha256 is not the package's; delete the object first if that metadata still "
            "claims it), then trigger streaming_deploy again")


class PackageSourceError(RuntimeError):
    """Neither sources to build from nor a manifest that fits the configuration."""


class PackageNotStagedError(RuntimeError):
    """A package the bundle's manifest names is not in S3."""


class PackageMismatchError(RuntimeError):
    """The staged object is not the package that was built (its sha256 differs)."""


def fetch(s3: Any, package: StagedPackage, dest: Path) -> Path:
    """Download the staged zip to `dest` and check its sha256."""
    body = s3.get_object(Bucket=package.bucket, Key=package.key)["Body"].read()
    if s3_ops.sha256_hex(body) != package.sha256:
        raise PackageMismatchError(f"s3://{package.bucket}/{package.key} is not the package built "
                                   f"(sha256 {s3_ops.sha256_hex(body)[:12]}, expected {package.short})")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(body)
    return dest


def extract(zip_path: Path, task_root: Path) -> Path:
    """Unpack a package as Lambda does into its task root (`/var/task`), keeping executable bits."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, task_root))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)
    return task_root
