"""The MWAA bundle works where MWAA puts it: unpacked into MWAA's layout, with only plugins.zip on the path,
every DAG imports, the package finds `dags/include/`, `streaming_deploy` finds the Lambda packages the upload
staged (and fails clearly when one is missing or differs), and the upload to (moto) S3 is what MWAA needs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from dataplatform.streaming import packages, specs
from deploy.mwaa import (
    BucketNotVersionedError,
    BundleError,
    BundlePaths,
    build_bundle,
    is_local_endpoint,
    sha256_of,
    stage_lambda_packages,
    upload_bundle,
    write_deterministic_zip,
)

REPO = Path(__file__).resolve().parents[2]
CONSTRAINT = re.compile(
    r'^--constraint\s+"?https://raw\.githubusercontent\.com/apache/airflow/constraints-3\.3\.1/constraints-3\.12\.txt"?$'
)
# A module that would fail the parse if the DAG processor ever read dags/include/ as DAG files.
INCLUDE_PROBE = ("from airflow.sdk import dag\n"
                 "raise RuntimeError('dags/include/ was parsed: .airflowignore misses it')\n")

# One interpreter per layout, as an Airflow component there: it parses every DAG and loads the plugins, prints what
# it found; on the MWAA layout it then stays up as a worker would and runs `streaming_deploy`'s package step once
# per line read from stdin (the test changes S3 in between). Results are `RESULT <json>` lines: Airflow logs to
# stdout too.
RESULT = "RESULT "
PARSE = """
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import DagBag
import dataplatform
from dataplatform.paths import include_dir
bag = DagBag(dag_folder=sys.argv[1])
from airflow import plugins_manager
plugins_manager.ensure_plugins_loaded()  # as every Airflow component does at start
package_modules = {p.stem for p in Path(dataplatform.__file__).parent.rglob("*.py")} - {"__init__"}
print("RESULT", json.dumps({
    "top_level_package_modules": sorted(package_modules & set(sys.modules)),
    "dag_ids": sorted(bag.dag_ids),
    "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    "package": dataplatform.__file__,
    "include_dir": str(include_dir()),
    "sys_path": sys.path,
}), flush=True)
"""
SERVE_BUILD_PACKAGES = """
import importlib.util
from dataplatform.streaming import packages, steps
print("RESULT", json.dumps({"lambdas_importable": importlib.util.find_spec("lambdas") is not None,
                            "repo_lambdas": str(packages.repo_lambdas() or "")}), flush=True)
for _ in sys.stdin:
    try:
        print("RESULT", json.dumps({"built": steps.build_packages(dry_run=False).payload()}), flush=True)
    except Exception as exc:
        print("RESULT", json.dumps({"error": type(exc).__name__, "message": str(exc)}), flush=True)
"""


def _mwaa_env(dags: Path, plugins: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(plugins), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins)}


@dataclass
class Interpreter:
    proc: subprocess.Popen
    stderr: Path

    @classmethod
    def start(cls, script: str, dags: Path, plugins: Path, cwd: Path, stderr: Path) -> Interpreter:
        with open(stderr, "w") as err:
            proc = subprocess.Popen([sys.executable, "-c", script, str(dags)], env=_mwaa_env(dags, plugins), cwd=cwd,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
        return cls(proc, stderr)

    def result(self) -> dict:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(RESULT):
                return json.loads(line.removeprefix(RESULT))
        raise AssertionError(f"exit {self.proc.wait(timeout=60)}: {self.stderr.read_text()[-3000:]}")

    def build_packages(self) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return self.result()

    def stop(self) -> None:
        """Everything asked was answered: no need to wait for the interpreter's shutdown."""
        self.proc.kill()
        self.proc.wait(timeout=60)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe:
                pipe.close()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> BundlePaths:
    """The Airflow part of the bundle (no Lambda packages: those need the Lambda runtime's wheels)."""
    return build_bundle(tmp_path_factory.mktemp("build") / "mwaa", lambda_packages=False)


@pytest.fixture(scope="module")
def full_bundle(tmp_path_factory: pytest.TempPathFactory) -> BundlePaths:
    """The bundle as `python -m deploy.mwaa build` makes it, Lambda packages included (arm64 wheels: slow; the
    packages come from `lambdas.packaging`'s cache when unchanged)."""
    return build_bundle(tmp_path_factory.mktemp("build_full") / "mwaa")


@pytest.fixture(scope="module")
def airflow_home(bundle: BundlePaths, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle unpacked as MWAA does: <root>/usr/local/airflow/{dags,plugins,requirements.txt,startup.sh}."""
    home = tmp_path_factory.mktemp("mwaa_container") / "usr" / "local" / "airflow"
    shutil.copytree(bundle.dags, home / "dags")
    with zipfile.ZipFile(bundle.plugins_zip) as zf:
        zf.extractall(home / "plugins")
    shutil.copyfile(bundle.requirements, home / "requirements.txt")
    shutil.copyfile(bundle.startup, home / "startup.sh")
    (home / "dags" / "include" / "airflowignore_probe.py").write_text(INCLUDE_PROBE)
    return home


@pytest.fixture(scope="module")
def mwaa_worker(airflow_home: Path) -> Iterator[Interpreter]:
    """An interpreter with only the unpacked bundle (cwd outside the repo): it parses, then serves `build_packages`."""
    worker = Interpreter.start(PARSE + SERVE_BUILD_PACKAGES, airflow_home / "dags", airflow_home / "plugins",
                               airflow_home.parents[2], airflow_home.parents[2] / "worker.stderr")
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def parsed(mwaa_worker: Interpreter, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Both parses run at once: the unpacked bundle's and, for the expected ids, the repo's."""
    repo = Interpreter.start(PARSE, REPO / "dags", REPO / "plugins", REPO,
                             tmp_path_factory.mktemp("repo_parse") / "stderr")
    results = {"mwaa": mwaa_worker.result(), "repo": repo.result()}
    repo.stop()
    return results


def test_bundle_has_mwaas_layout(bundle: BundlePaths) -> None:
    assert sorted(p.name for p in bundle.root.iterdir()) == ["dags", "plugins.zip", "requirements.txt", "startup.sh"]
    assert (bundle.dags / ".airflowignore").read_text() == (REPO / "dags" / ".airflowignore").read_text()
    for dag_file in (REPO / "dags").glob("*.py"):
        assert (bundle.dags / dag_file.name).read_bytes() == dag_file.read_bytes()
    for path in (REPO / "include").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert (bundle.dags / "include" / path.relative_to(REPO / "include")).read_bytes() == path.read_bytes()
    assert not [p for p in bundle.root.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]
    assert bundle.startup.read_bytes() == (REPO / "startup.sh").read_bytes()


@pytest.mark.slow
def test_bundle_ships_the_lambda_packages_of_a_fresh_build_and_their_manifest(full_bundle: BundlePaths) -> None:
    from dataplatform.config import settings

    assert sorted(p.name for p in full_bundle.root.iterdir()) == [
        "dags", "lambda-packages", "plugins.zip", "requirements.txt", "startup.sh"]
    shipped = packages.PackageSet.from_payload(full_bundle.manifest.read_text())
    configured = specs.load(settings(), REPO / "include" / "streaming")
    fresh = packages.build(configured, packages.Target(emulated=False), None, upload=False)
    assert shipped == fresh and not shipped.staged
    assert full_bundle.manifest == full_bundle.dags / "include" / "streaming" / "packages.json"
    for key, spec in configured.functions.items():
        package = shipped.packages[key]
        assert package.architecture == spec.architecture == "arm64", "built for AWS, not for this machine"
        assert (package.bucket, package.key) == (settings().mwaa_bucket,
                                                 f"lambda-packages/{spec.name}/{package.sha256}.zip")
        assert sha256_of(full_bundle.lambda_package(package)) == package.sha256
    assert sorted(p.name for p in full_bundle.lambda_packages.iterdir()) == [
        f"{key}-arm64.zip" for key in sorted(configured.functions)]


def test_plugins_zip_holds_the_package_at_its_root(bundle: BundlePaths) -> None:
    with zipfile.ZipFile(bundle.plugins_zip) as zf:
        names = zf.namelist()
    expected = sorted(p.relative_to(REPO / "plugins").as_posix() for p in (REPO / "plugins").rglob("*")
                      if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    assert names == expected
    assert "dataplatform/__init__.py" in names
    assert {n.split("/", 1)[0] for n in names} == {"dataplatform", ".airflowignore"}


@pytest.mark.slow
def test_every_dag_imports_from_the_unpacked_bundle_alone(parsed: dict[str, dict], airflow_home: Path) -> None:
    bundle_parse, repo_parse = parsed["mwaa"], parsed["repo"]
    assert bundle_parse["import_errors"] == {}
    assert repo_parse["import_errors"] == {}
    assert bundle_parse["dag_ids"] == repo_parse["dag_ids"]
    assert bundle_parse["dag_ids"], "no DAG found"
    # The package came from the unpacked plugins.zip, not from the repo
    assert Path(bundle_parse["package"]).is_relative_to(airflow_home / "plugins")
    assert not [p for p in bundle_parse["sys_path"] if p and Path(p).resolve() in (REPO, REPO / "plugins")]


def test_loading_plugins_imports_no_package_module_under_its_bare_name(parsed: dict[str, dict]) -> None:
    """Airflow imports every .py under plugins/ as a top-level module named after the file (`models`, `config`,
    ...) unless plugins/.airflowignore leaves it out: a second copy of each module, shadowing same-named ones."""
    assert parsed["mwaa"]["top_level_package_modules"] == []
    assert parsed["repo"]["top_level_package_modules"] == []


def test_include_dir_resolves_to_dags_include_on_mwaa(parsed: dict[str, dict], airflow_home: Path) -> None:
    assert Path(parsed["mwaa"]["include_dir"]) == airflow_home / "dags" / "include"
    assert Path(parsed["repo"]["include_dir"]) == REPO / "include"


def test_requirements_start_with_the_constraints_of_airflow_3_3_1_on_python_3_12(bundle: BundlePaths) -> None:
    lines = [ln.strip() for ln in bundle.requirements.read_text().splitlines()]
    requirements = [ln for ln in lines if ln and not ln.startswith("#")]
    assert CONSTRAINT.match(requirements[0]), requirements[0]
    # MWAA's image already has these, at the versions MWAA chose; listing them would fight its constraints
    names = {re.split(r"[\s=<>!~\[;]", ln, maxsplit=1)[0].lower() for ln in requirements[1:]}
    assert not names & {"apache-airflow", "apache-airflow-providers-amazon", "boto3", "botocore"}


def test_unchanged_rebuild_gives_identical_plugins_zip(bundle: BundlePaths, tmp_path: Path) -> None:
    again = build_bundle(tmp_path / "again")
    assert again.plugins_zip.read_bytes() == bundle.plugins_zip.read_bytes()


def test_zip_bytes_ignore_file_timestamps(tmp_path: Path) -> None:
    copy = tmp_path / "plugins"
    shutil.copytree(REPO / "plugins", copy, ignore=shutil.ignore_patterns("__pycache__"))
    for path in copy.rglob("*"):
        os.utime(path, (1_800_000_000, 1_800_000_000))
    write_deterministic_zip(REPO / "plugins", tmp_path / "original.zip")
    write_deterministic_zip(copy, tmp_path / "touched.zip")
    assert (tmp_path / "original.zip").read_bytes() == (tmp_path / "touched.zip").read_bytes()


def test_build_refuses_to_empty_a_folder_holding_the_repo() -> None:
    with pytest.raises(ValueError, match="contains the repo"):
        build_bundle(REPO.parent)


# --- startup.sh ----------------------------------------------------------------------------------------------


def _source_startup(env: dict[str, str]) -> dict[str, str]:
    base = {"PATH": os.environ["PATH"]}
    script = f"source {REPO / 'startup.sh'} >/dev/null; env -0"
    out = subprocess.run(["bash", "-c", script], env={**base, **env}, capture_output=True, text=True, check=True)
    after = dict(item.split("=", 1) for item in out.stdout.split("\0") if "=" in item)
    return {k: v for k, v in after.items() if k not in {"PWD", "SHLVL", "_", "OLDPWD"}}


def test_startup_derives_settings_from_what_mwaa_provides() -> None:
    mwaa = {"AIRFLOW_ENV_NAME": "Reco_Staging", "AWS_REGION": "eu-central-1", "CUSTOMER_ACCOUNT_ID": "111122223333"}
    after = _source_startup(mwaa)
    assert {k: v for k, v in after.items() if k.startswith("DATAPLATFORM_")} == {
        "DATAPLATFORM_PREFIX": "reco-staging",
        "DATAPLATFORM_REGION": "eu-central-1",
        "DATAPLATFORM_ACCOUNT_ID": "111122223333",
    }
    # It sets DATAPLATFORM_* and nothing else: MWAA's own variables are untouched
    assert {k: v for k, v in after.items() if not k.startswith("DATAPLATFORM_")} == {"PATH": os.environ["PATH"], **mwaa}


def test_startup_prefers_explicit_values_then_mwaa_configuration_options() -> None:
    after = _source_startup({
        "AIRFLOW_ENV_NAME": "airflow-prod", "AWS_REGION": "eu-west-1",
        "AIRFLOW__DATAPLATFORM__PREFIX": "reco-prod", "AIRFLOW__DATAPLATFORM__RETRY_DELAY_SECONDS": "300",
        "DATAPLATFORM_REGION": "us-east-1",
    })
    assert after["DATAPLATFORM_PREFIX"] == "reco-prod"
    assert after["DATAPLATFORM_REGION"] == "us-east-1"
    assert after["DATAPLATFORM_RETRY_DELAY_SECONDS"] == "300"


def test_startup_leaves_unknown_values_to_the_config_defaults() -> None:
    after = _source_startup({})
    assert {k for k in after if k.startswith("DATAPLATFORM_")} == set()


# --- upload --------------------------------------------------------------------------------------------------


def test_only_aws_hosts_count_as_production() -> None:
    def client(url: str | None) -> object:
        return boto3.client("s3", region_name="eu-west-1", endpoint_url=url, aws_access_key_id="x",
                            aws_secret_access_key="x")

    assert not is_local_endpoint(client("https://s3.eu-west-1.amazonaws.com"))
    assert not is_local_endpoint(client("https://s3.cn-north-1.amazonaws.com.cn"))
    assert is_local_endpoint(client("http://127.0.0.1:5065"))


def _new_bucket(s3: object, region: str, purpose: str) -> str:
    name = f"deploy-test-{purpose}-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    return name


@pytest.fixture
def s3(local_stack: object) -> object:
    """A plain boto3 client: AWS_ENDPOINT_URL (set by the test env) points it at the test stack's moto."""
    from dataplatform.config import settings

    client = boto3.client("s3", region_name=settings().region)
    assert is_local_endpoint(client)
    return client


@pytest.mark.stack
@pytest.mark.slow
def test_upload_puts_mwaas_layout_in_a_versioned_bucket(full_bundle: BundlePaths, s3: object) -> None:
    from dataplatform.config import settings

    bundle = full_bundle
    region = settings().region
    bucket, glue_bucket = _new_bucket(s3, region, "mwaa"), _new_bucket(s3, region, "glue")
    # GIVEN a DAG deployed earlier that is no longer in the repo, in a bucket that is not versioned yet
    s3.put_object(Bucket=bucket, Key="dags/removed_from_repo.py", Body=b"# old")

    # WHEN the bundle is uploaded
    versions = upload_bundle(bundle, bucket, s3, glue_bucket=glue_bucket)

    # THEN the bucket is versioned and holds MWAA's layout, the old DAG gone
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    expected_dags = {"dags/" + p.relative_to(bundle.dags).as_posix() for p in bundle.dags.rglob("*") if p.is_file()}
    assert keys == expected_dags | {"plugins.zip", "requirements.txt", "startup.sh"}
    # and the versions returned are the current versions of exactly what was built
    assert set(versions) == {"plugins.zip", "requirements.txt", "startup.sh"}
    for key, path in bundle.versioned_objects.items():
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["VersionId"] == versions[key] and versions[key] != "null"
        assert s3.get_object(Bucket=bucket, Key=key, VersionId=versions[key])["Body"].read() == path.read_bytes()
        assert head["Metadata"]["sha256"] == sha256_of(path)
    # and the Glue scripts are where the Glue jobs read them
    glue_keys = {o["Key"] for o in s3.list_objects_v2(Bucket=glue_bucket).get("Contents", [])}
    assert glue_keys == {f"scripts/{p.name}" for p in bundle.glue_scripts}
    # and the Lambda packages the manifest names are staged where it says, with their sha256
    for package in packages.PackageSet.from_payload(bundle.manifest.read_text()).packages.values():
        head = s3.head_object(Bucket=package.bucket, Key=package.key)
        assert head["Metadata"]["sha256"] == package.sha256 and head["ContentLength"] == package.size

    # WHEN the same bundle is uploaded again THEN nothing new is written: same versions, one version each
    assert upload_bundle(bundle, bucket, s3, glue_bucket=glue_bucket) == versions
    for key in versions:
        assert len(s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]) == 1


@pytest.mark.stack
def test_unversioned_bucket_is_refused_when_versioning_may_not_be_enabled(bundle: BundlePaths, s3: object) -> None:
    from dataplatform.config import settings

    bucket = _new_bucket(s3, settings().region, "prod")
    with pytest.raises(BucketNotVersionedError, match="must be versioned"):
        upload_bundle(bundle, bucket, s3, glue_bucket=bucket, enable_versioning=False)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)


@pytest.mark.stack
def test_a_bundle_without_the_lambda_packages_is_not_uploaded(bundle: BundlePaths, s3: object) -> None:
    from dataplatform.config import settings

    bucket = _new_bucket(s3, settings().region, "nolambda")
    with pytest.raises(BundleError, match=r"has no Lambda packages .*packages\.json is missing"):
        upload_bundle(bundle, bucket, s3, glue_bucket=bucket)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


@pytest.mark.slow
def test_the_lambda_packages_add_only_their_manifest_to_dags(bundle: BundlePaths, full_bundle: BundlePaths) -> None:
    def tree(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert tree(full_bundle.dags) == {**tree(bundle.dags), "include/streaming/packages.json":
                                      full_bundle.manifest.read_bytes()}
    assert full_bundle.plugins_zip.read_bytes() == bundle.plugins_zip.read_bytes()


@pytest.mark.stack
@pytest.mark.slow
def test_build_packages_on_mwaa_uses_the_staged_packages_and_names_a_missing_or_changed_one(
        full_bundle: BundlePaths, airflow_home: Path, parsed: dict[str, dict], mwaa_worker: Interpreter,
        s3: object) -> None:
    """GIVEN the bundle unpacked as MWAA does (no `lambdas/`, no lock, no uv: the Airflow part above plus the
    manifest, all `python -m deploy.mwaa build` adds to dags/) and its packages staged by the upload WHEN
    `streaming_deploy`'s `build_packages` runs there THEN it returns the manifest's packages, checked in S3; a
    missing object, then one with other bytes, fail it naming the object and the command that stages it; after
    that command the step passes again."""
    shutil.copyfile(full_bundle.manifest, airflow_home / "dags" / "include" / "streaming" / "packages.json")
    shipped = stage_lambda_packages(full_bundle, s3)
    inference = shipped.packages["model_inference"]
    try:
        assert mwaa_worker.result() == {"lambdas_importable": False, "repo_lambdas": ""}, "the repo leaked in"
        assert mwaa_worker.build_packages() == {"built": shipped.model_copy(update={"staged": True}).payload()}

        s3.delete_object(Bucket=inference.bucket, Key=inference.key)
        failed = mwaa_worker.build_packages()
        assert failed["error"] == "AirflowFailException", "deterministic: no retry"
        assert f"s3://{inference.bucket}/{inference.key}" in failed["message"]
        assert "is not staged" in failed["message"] and "python -m deploy.mwaa upload" in failed["message"]

        s3.put_object(Bucket=inference.bucket, Key=inference.key, Body=b"not the package")
        failed = mwaa_worker.build_packages()
        assert f"s3://{inference.bucket}/{inference.key}" in failed["message"]
        assert f"not the bundle's package {inference.short}" in failed["message"]
        assert "python -m deploy.mwaa upload" in failed["message"]

        stage_lambda_packages(full_bundle, s3)
        assert "built" in mwaa_worker.build_packages(), "the upload the message names repairs it"
    finally:
        (airflow_home / "dags" / "include" / "streaming" / "packages.json").unlink()
