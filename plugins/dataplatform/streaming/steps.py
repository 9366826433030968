"""The `streaming_deploy` DAG's task bodies (an Airflow extension module: the provider hooks give the clients).

Each function is one task: it loads the configuration (`specs.load`, failing without retries on an invalid file),
takes boto3 clients from the Amazon provider's hooks (`LambdaHook`, `FirehoseHook`, `AwsBaseHook` for S3 and
Secrets Manager, all on the `aws_default` connection) and the vector DB from the `pg_vector` connection, and
calls the plain modules `packages`, `plan`, `sync`, `smoke`, `vectordb.roles`. What crosses tasks is a
hand-off model (`PackageSet`, `Plan`) as its payload.

A process makes one hook and client per service and connection (`_hook`): making one creates a boto3 session and
loads the service's model, and a task asks for the same client several times (a plan inside `apply_functions` and
`verify_deployment`); a process that runs several tasks (`dag.test()`) keeps them too.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from dataplatform.orchestration.connections import vector_hook
from dataplatform.orchestration.dag_defaults import configured, no_retry_on
from dataplatform.streaming import packages, plan, smoke, specs, sync
from dataplatform.vectordb import roles

DETERMINISTIC = (specs.SpecError, sync.ReplacementRefusedError, sync.StalePlanError, sync.RollbackError,
                 smoke.SmokeTestFailed, packages.PackageMismatchError, packages.PackageNotStagedError,
                 packages.PackageSourceError, LookupError)
"""Failures a retry cannot fix: the task fails at once."""


@cache
def _hook(kind: str, aws_conn_id: str) -> Any:
    if kind == "lambda":
        from airflow.providers.amazon.aws.hooks.lambda_function import LambdaHook

        return LambdaHook(aws_conn_id=aws_conn_id)
    if kind == "firehose":
        from airflow.providers.amazon.aws.hooks.firehose import FirehoseHook

        return FirehoseHook(delivery_stream="", aws_conn_id=aws_conn_id)
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id=aws_conn_id, client_type=kind)


def lambda_hook() -> Any:
    return _hook("lambda", configured().aws_conn_id)


def firehose_client() -> Any:
    """The Firehose client (`FirehoseHook.conn`; the hook's own `delivery_stream` is not used here)."""
    return _hook("firehose", configured().aws_conn_id).conn


def aws_client(service: str) -> Any:
    """S3, Secrets Manager: `AwsBaseHook(client_type=service).conn` on the AWS connection."""
    return _hook(service, configured().aws_conn_id).conn


def load_specs() -> specs.StreamingSpecs:
    with no_retry_on(specs.SpecError):
        return specs.load(configured())


def build_packages(dry_run: bool) -> packages.PackageSet:
    """Built and staged from the repo's `lambdas/` in a checkout; on MWAA the bundle's staged packages, verified
    (`packages.prepare`)."""
    s = load_specs()
    target = packages.Target.of(lambda_hook().conn)
    with no_retry_on(*DETERMINISTIC):
        return packages.prepare(s, target, aws_client("s3"), upload=not dry_run)


def grant_changes(s: specs.StreamingSpecs) -> list[str]:
    lines = []
    with vector_hook().get_conn() as pg:
        for role in s.database_roles.values():
            lines += roles.grant_changes(pg, role=role.role, schema=role.schema_name).lines(role.role)
    return lines


def make_plan(built: packages.PackageSet, *, lam: Any = None, firehose: Any = None) -> plan.Plan:
    """`lam`, `firehose`: clients the calling step already has (a client costs its service model's loading)."""
    s, c = load_specs(), configured()
    lam = lam or lambda_hook().conn
    with no_retry_on(LookupError):
        return plan.make_plan(s, built, packages.Target.of(lam), lam=lam, firehose=firehose or firehose_client(),
                              secretsmanager=aws_client("secretsmanager"), region=c.region,
                              account_id=c.account_id, grants=grant_changes(s))


def check_plan(shown: plan.Plan, accept_replacement: bool) -> None:
    with no_retry_on(*DETERMINISTIC):
        sync.check_replacements(shown, accept_replacement)


def sync_reader_grants() -> list[str]:
    """Least privilege for each database role (creating the store's catalogue first on an empty database, so the
    smoke test finds `model_versions`); fails if the role itself is missing or too powerful."""
    from dataplatform.vectordb import store

    s, lines = load_specs(), []
    with vector_hook().get_conn() as pg:
        store.ensure_schema(pg)
        for role in s.database_roles.values():
            with no_retry_on(LookupError):
                problems = roles.reader_problems(pg, role=role.role)
                if problems:
                    raise LookupError("; ".join(problems))
            lines += roles.sync_reader_grants(pg, role=role.role, schema=role.schema_name).lines(role.role)
    return lines


def apply_functions(built: packages.PackageSet, shown: plan.Plan) -> list[str]:
    """Check the shown plan is still the plan, then create / update `$LATEST`; returns the functions whose
    `$LATEST` changed (what the waiters wait for)."""
    s, lam = load_specs(), lambda_hook().conn
    with no_retry_on(*DETERMINISTIC):
        sync.check_plan(shown, make_plan(built, lam=lam))
        secrets = plan.secret_arns(aws_client("secretsmanager"), s)
    sync.apply_functions(lam, s, shown, built, secrets)
    return [f.name for f in shown.functions if f.changes_latest]


def wait_for_updates(names: list[str]) -> None:
    sync.wait_for_updates(lambda_hook().conn, names)


def aws_environment(hook: Any) -> dict[str, str]:
    """For a package run here against an emulator: the emulator's endpoint and the connection's credentials."""
    credentials = hook.get_credentials()
    env = {"AWS_ACCESS_KEY_ID": credentials.access_key, "AWS_SECRET_ACCESS_KEY": credentials.secret_key}
    if credentials.token:
        env["AWS_SESSION_TOKEN"] = credentials.token
    endpoint = hook.conn_config.endpoint_url or hook.conn.meta.endpoint_url
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def smoke_test(built: packages.PackageSet, shown: plan.Plan) -> list[dict[str, Any]]:
    """Each function about to be published answers its sample event (real invoke on AWS, the package run here
    on an emulator)."""
    s, c, hook = load_specs(), configured(), lambda_hook()
    target = packages.Target.of(hook.conn)
    results = []
    for fp in shown.functions:
        if not fp.publish:
            continue
        with no_retry_on(*DETERMINISTIC):
            if target.emulated:
                result = smoke.smoke_test_local(hook.conn, aws_client("s3"), s, fp.key, built.packages[fp.key],
                                                region=c.region, account_id=c.account_id,
                                                aws_environment=aws_environment(hook))
            else:
                result = smoke.smoke_test_invoke(hook, s, fp.key, region=c.region, account_id=c.account_id)
        print(f"{result.function} ({result.mode}): " + "; ".join(result.answers))
        results.append(result.payload())
    return results


def publish_versions(built: packages.PackageSet, shown: plan.Plan, run_id: str) -> dict[str, Any]:
    return sync.publish_versions(lambda_hook().conn, load_specs(), shown, built, run_id)


def sync_streams(shown: plan.Plan, accept_replacement: bool) -> dict[str, str]:
    s, c = load_specs(), configured()
    with no_retry_on(sync.ReplacementRefusedError):
        return sync.sync_streams(firehose_client(), s, shown, region=c.region, account_id=c.account_id,
                                 accept_replacement=accept_replacement)


def verify(built: packages.PackageSet) -> dict[str, Any]:
    """A fresh plan after the deploy must be empty (the account matches the files); returns what it describes."""
    s = load_specs()
    lam, firehose = lambda_hook().conn, firehose_client()
    fresh = make_plan(built, lam=lam, firehose=firehose)
    if fresh.changed:
        raise RuntimeError("the deploy did not converge; still to change:\n" + fresh.text())
    described = sync.describe(lam, firehose, s)
    return {"functions": {k: {"version": (v or {}).get("alias", {}) and v["alias"]["FunctionVersion"],
                              "code_sha256": v["configuration"]["CodeSha256"] if v else None}
                          for k, v in described["functions"].items()},
            "streams": {k: v and v.get("VersionId") for k, v in described["streams"].items()}}


def rollback(run_id: str, functions: list[str] | None) -> dict[str, Any]:
    with no_retry_on(sync.RollbackError):
        return sync.rollback(lambda_hook().conn, load_specs(), run_id, functions or None)
