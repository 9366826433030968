"""Resolving the MWAA bundle's manifest of staged packages (`packages.resolve`) against moto S3: the packages the
configuration wants, each staged with the manifest's sha256, or a failure naming the object or the function.
(The unpacked bundle running `build_packages` end to end: tests/deploy/test_mwaa_bundle.py.)"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import pytest

from dataplatform.config import Settings
from dataplatform.streaming import packages, specs
from devstack.env import MOTO_ACCOUNT_ID, REGION


@pytest.fixture
def environment(moto_server, tmp_path: Path):
    """This environment's configuration, its code bucket, and a manifest staging one fake zip per function."""
    s = Settings(prefix=f"m{secrets.token_hex(3)}", region=REGION, account_id=MOTO_ACCOUNT_ID)
    configured = specs.load(s)
    s3 = moto_server.aws_client("s3")
    s3.create_bucket(Bucket=s.mwaa_bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    items = {}
    for key, spec in configured.functions.items():
        body = f"the {key} package".encode()
        sha = hashlib.sha256(body).hexdigest()
        items[key] = packages.StagedPackage(function=key, architecture=spec.architecture, sha256=sha, size=len(body),
                                            bucket=spec.code_bucket, key=packages.staging_key(spec, sha))
        s3.put_object(Bucket=spec.code_bucket, Key=items[key].key, Body=body)
    manifest = tmp_path / packages.MANIFEST
    manifest.write_text(packages.PackageSet(packages=items, staged=False).model_dump_json())
    yield configured, s3, manifest
    for item in items.values():
        s3.delete_object(Bucket=item.bucket, Key=item.key)
    s3.delete_bucket(Bucket=s.mwaa_bucket)


def test_staged_packages_resolve_to_the_manifest(environment) -> None:
    configured, s3, manifest = environment
    resolved = packages.resolve(configured, s3, manifest)
    assert resolved.staged and resolved.packages == packages.PackageSet.from_payload(manifest.read_text()).packages


def test_a_missing_object_is_named_with_the_command_that_stages_it(environment) -> None:
    configured, s3, manifest = environment
    item = packages.PackageSet.from_payload(manifest.read_text()).packages["stream_transformation"]
    s3.delete_object(Bucket=item.bucket, Key=item.key)
    with pytest.raises(packages.PackageNotStagedError,
                       match=rf"s3://{item.bucket}/{item.key} \(stream_transformation, .*python -m deploy.mwaa upload"):
        packages.resolve(configured, s3, manifest)


def test_an_object_with_other_bytes_is_a_mismatch(environment) -> None:
    configured, s3, manifest = environment
    item = packages.PackageSet.from_payload(manifest.read_text()).packages["model_inference"]
    s3.put_object(Bucket=item.bucket, Key=item.key, Body=b"the model_inference package, changed",
                  Metadata={"sha256": item.sha256})  # a claim in the metadata does not count: the bytes are read
    with pytest.raises(packages.PackageMismatchError, match=f"not the bundle's package {item.short}"):
        packages.resolve(configured, s3, manifest)


def test_a_manifest_built_for_another_environment_is_refused(environment) -> None:
    _, s3, manifest = environment
    other = specs.load(Settings(prefix="reco-other", region=REGION, account_id=MOTO_ACCOUNT_ID))
    with pytest.raises(packages.PackageSourceError, match=r"model_inference: the manifest has s3://m.*-mwaa/"
                                                          r"lambda-packages/m.*-model-inference/.*wants s3://"
                                                          r"reco-other-mwaa/lambda-packages/reco-other-model-inference"):
        packages.resolve(other, s3, manifest)


def test_a_function_the_manifest_lacks_is_refused(environment) -> None:
    configured, s3, manifest = environment
    shipped = packages.PackageSet.from_payload(manifest.read_text())
    manifest.write_text(packages.PackageSet(packages={"model_inference": shipped.packages["model_inference"]},
                                            staged=False).model_dump_json())
    with pytest.raises(packages.PackageSourceError, match="stream_transformation: not in the manifest"):
        packages.resolve(configured, s3, manifest)


def test_this_checkout_builds_from_its_lambdas() -> None:
    assert packages.repo_lambdas() == Path(__file__).resolve().parents[3] / "lambdas"
