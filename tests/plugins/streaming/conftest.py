"""A deploy environment: its own prefix (functions, delivery stream, secret, code bucket), its own database role
and schema with a live synthetic model, on the test stack's moto and PostgreSQL; everything it created is removed
afterwards. `Deployer.deploy()` runs the steps in the order of the `streaming_deploy` DAG.

`deployer`: a fresh, empty environment per test (for tests that change the account). `deployed`: one environment
per module, deployed once, for tests that only read the outcome or change their own copy of the files
(`Deployer.variant`) and leave the account as they found it."""

from __future__ import annotations

import contextlib
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from dataplatform.config import Settings
from dataplatform.streaming import packages, plan, smoke, specs, sync
from dataplatform.vectordb import roles
from devstack.env import MOTO_ACCOUNT_ID, REGION
from devstack.lambda_resources import create_lambda_resources
from devstack.streaming.synthetic_model import load_live, publish_popular
from lambdas import packaging

PRODUCTS = ["S18_3232", "S24_2300", *(f"S10_{i:04d}" for i in range(30))]


@dataclass
class Deployer:
    settings: Settings
    spec_dir: Path
    stack: Any
    schema: str
    sources: dict[str, Path] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return self.stack.moto_client(service)

    @property
    def specs(self) -> specs.StreamingSpecs:
        return specs.load(self.settings, self.spec_dir)

    @property
    def target(self) -> packages.Target:
        return packages.Target.of(self.client("lambda"))

    def variant(self, root: Path) -> Deployer:
        """The same environment through a copy of its files under `root` (edit them without touching the others)."""
        spec_dir = root / "streaming"
        shutil.copytree(self.spec_dir, spec_dir)
        return replace(self, spec_dir=spec_dir, sources=dict(self.sources))

    def edit(self, key: str, **changes: Any) -> None:
        """Change top-level fields of one resource file."""
        path = self.spec_dir / f"{key}.yaml"
        data = yaml.safe_load(path.read_text())
        data.update(changes)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    def source(self, function: str) -> Path:
        """A copy of the function's folder this deployer builds from (edit it to change the code)."""
        if function not in self.sources:
            dest = self.spec_dir.parent / "lambdas" / function
            shutil.copytree(packaging.LAMBDAS / function, dest, ignore=shutil.ignore_patterns("__pycache__"))
            self.sources[function] = dest
        return self.sources[function]

    def build(self, *, upload: bool = True) -> packages.PackageSet:
        return packages.build(self.specs, self.target, self.client("s3"), upload=upload, sources=self.sources)

    def plan(self, built: packages.PackageSet) -> plan.Plan:
        return plan.make_plan(self.specs, built, self.target, lam=self.client("lambda"),
                              firehose=self.client("firehose"), secretsmanager=self.client("secretsmanager"),
                              region=REGION, account_id=MOTO_ACCOUNT_ID)

    def deploy(self, *, dry_run: bool = False, accept_replacement: bool = False, run_id: str = "test") -> plan.Plan:
        """build -> plan -> (stop if dry run) -> apply -> wait -> smoke test -> publish + alias -> delivery stream."""
        s, lam = self.specs, self.client("lambda")
        built = self.build(upload=not dry_run)
        the_plan = self.plan(built)
        if dry_run:
            return the_plan
        sync.check_replacements(the_plan, accept_replacement)
        secrets_ = plan.secret_arns(self.client("secretsmanager"), s)
        sync.apply_functions(lam, s, the_plan, built, secrets_)
        sync.wait_for_updates(lam, [f.name for f in the_plan.functions if f.changes_latest])
        for fp in the_plan.functions:
            if fp.publish:
                smoke.smoke_test_local(lam, self.client("s3"), s, fp.key, built.packages[fp.key], region=REGION,
                                       account_id=MOTO_ACCOUNT_ID, aws_environment=self.aws_environment)
        sync.publish_versions(lam, s, the_plan, built, run_id)
        sync.sync_streams(self.client("firehose"), s, the_plan, region=REGION, account_id=MOTO_ACCOUNT_ID,
                          accept_replacement=accept_replacement)
        return the_plan

    @property
    def aws_environment(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.stack.cfg.moto_endpoint, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing"}

    def describe(self) -> dict[str, Any]:
        return sync.describe(self.client("lambda"), self.client("firehose"), self.specs)


@contextlib.contextmanager
def environment(stack_connections, root: Path) -> Iterator[Deployer]:
    token = secrets.token_hex(3)
    s = Settings(prefix=f"t{token}", region=REGION, account_id=MOTO_ACCOUNT_ID)
    spec_dir = root / "streaming"
    shutil.copytree(specs.default_directory(), spec_dir, ignore=shutil.ignore_patterns("*.json"))
    role, schema = f"reader_{token}", f"test_deploy_{token}"
    reader = yaml.safe_load((spec_dir / "serving_reader.yaml").read_text())
    reader.update(role=role, schema=schema)
    (spec_dir / "serving_reader.yaml").write_text(yaml.safe_dump(reader))
    s3 = stack_connections.moto_client("s3")
    for bucket in (s.mwaa_bucket, s.data_lake_bucket):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    with stack_connections.vector_db(superuser=True, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION dataplatform").format(sql.Identifier(schema)))
    with psycopg.connect(stack_connections.vector_conninfo(options=f"-c search_path={schema},public"),
                         autocommit=True) as conn:
        load_live(conn, "v1", PRODUCTS, [141, 142, 143], seed=1)
        publish_popular(conn, PRODUCTS[:10], ["Spain"])
    env = Deployer(s, spec_dir, stack_connections, schema)
    initial = env.specs
    create_lambda_resources(s, stack_connections, initial)
    with stack_connections.vector_db(superuser=True, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER ROLE {} SET search_path = {}, public").format(
            sql.Identifier(role), sql.Identifier(schema)))
    yield env
    lam, firehose = stack_connections.moto_client("lambda"), stack_connections.moto_client("firehose")
    for spec in initial.functions.values():
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_function(FunctionName=spec.name)
    for stream in initial.delivery_streams.values():
        with contextlib.suppress(firehose.exceptions.ResourceNotFoundException):
            firehose.delete_delivery_stream(DeliveryStreamName=stream.name)
    stack_connections.moto_client("secretsmanager").delete_secret(
        SecretId=initial.database_roles["serving_reader"].secret_name, ForceDeleteWithoutRecovery=True)
    for bucket in (s.mwaa_bucket, s.data_lake_bucket):
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)
    with stack_connections.vector_db(superuser=True, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        admin.execute(sql.SQL("DROP EVENT TRIGGER IF EXISTS {}").format(sql.Identifier(roles.trigger_name(role))))
        admin.execute(sql.SQL("DROP FUNCTION IF EXISTS {}()").format(sql.Identifier(roles.trigger_name(role))))
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def deployer(stack_connections, tmp_path: Path) -> Iterator[Deployer]:
    """A fresh environment, nothing deployed yet."""
    with environment(stack_connections, tmp_path) as env:
        yield env


@dataclass(frozen=True)
class Deployed:
    env: Deployer
    first: plan.Plan
    """The plan the first deploy applied."""


@pytest.fixture(scope="module")
def deployed(stack_connections, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """One environment per module, deployed once (run id `first`)."""
    with environment(stack_connections, tmp_path_factory.mktemp("deployed")) as env:
        yield Deployed(env, env.deploy(run_id="first"))
