"""The functions' deployable zips: built from the repo (`lambdas.packaging`), staged in S3 by content, fetched back.

A package is staged at `s3://<code_bucket>/<code_prefix><function name>/<sha256>.zip`: the key is the content,
so an unchanged package is neither uploaded again (`dataplatform.s3.put_if_changed`) nor deployed again (its
`CodeSha256` equals the function's). Any later task, on any worker, fetches the same bytes by key and checks the
sha256.

**Where the code runs (`Target`).** Against AWS, a function runs on the architecture its file names (arm64). A
Lambda API that is not AWS's (moto locally, whose `Invoke` only echoes without Docker) cannot run it, so the smoke
test runs the package here, and a package built for another CPU than this machine's cannot be imported here:
on an emulated target the functions are built and deployed for this machine's architecture, and the plan says so.
What is uploaded is then exactly what the smoke test runs.

Plain Python: no Airflow import (`lambdas.packaging` is imported from the repo root when building).
"""

from __future__ import annotations

import base64
import platform
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dataplatform import s3 as s3_ops
from dataplatform.handoffs import Handoff
from dataplatform.streaming.specs import FunctionSpec, StreamingSpecs

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


def build(specs: StreamingSpecs, target: Target, s3: Any, *, upload: bool, out_dir: Path | None = None,
          sources: Mapping[str, Path] | None = None) -> PackageSet:
    """Build every function's package for its target architecture; upload it (if `upload`) unless the same bytes
    are already staged. `sources`: function key -> folder, for a function not built from `lambdas/<key>/`."""
    from lambdas import packaging  # the repo's build tooling: on sys.path from the repo root

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
