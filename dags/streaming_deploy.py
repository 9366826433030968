"""
# streaming_deploy

Deploys the streaming path from its configuration in the repo (`include/streaming/*.yaml`): the two Lambda
functions (`lambdas/stream_transformation`, `lambdas/model_inference`) with their `live` aliases, and the
Firehose delivery stream (user-activity Kinesis stream -> transformation Lambda's `live` alias -> recommendations
bucket under `yyyy/mm/dd/hh/`). Triggered by hand from the UI, and after each deploy of the repo. Idempotent:
with nothing changed, a run changes nothing.

1. `choose_action`: deploy, or `rollback` (each alias back to the version it pointed at before the newest
   deploy; `rollback_functions` to name them). The delivery stream calls the alias, so it follows.
2. `build_packages`: each function's zip (its folder, the serving package, the locked dependencies for the
   Lambda runtime), deterministic: the sha256 decides. In a checkout of the repo (`lambdas/` beside `plugins/`:
   local, Astro) built here and staged in S3 by content (not on a dry run); on MWAA (no `lambdas/`) the packages
   `python -m deploy.mwaa upload` built and staged, named by the bundle's `dags/include/streaming/packages.json`,
   each checked in S3 (exists, same sha256).
3. `plan_deploy`: the configuration against what Lambda, Firehose and the database describe, as a readable
   diff (printed, and returned: see the task's XCom in the UI). A change Firehose cannot make in place
   (dynamic partitioning, the source) is a **replacement**.
4. `check_plan`: `dry_run` stops here; nothing to change stops here; a replacement without `accept_replacement`
   fails here (nothing changed yet).
5. `sync_reader_grants`: the read-only database role keeps SELECT on the served tables only.
6. `apply_functions`: create, or update code (only if the sha256 differs) then configuration (only the fields
   that differ), and reserved concurrency. A plan made before someone else changed the account is not applied.
7. `wait_for_functions_active` (`LambdaFunctionStateSensor`, one per updated function) and
   `wait_for_function_updates` (Lambda's waiters: last update Successful).
8. `smoke_test_functions`: each new `$LATEST` answers its file's sample event correctly (the real invoke on
   AWS; locally the uploaded zip's handler in a clean interpreter). A failure stops before any alias moves.
9. `publish_live_versions`: publish a version (unless one with this code and configuration exists) and move the
   `live` alias, recording the previous version.
10. `sync_delivery_stream`: create, update in place, or (accepted) replace the delivery stream.
11. `verify_deployment`: a fresh plan is empty; returns the live versions and stream version.

**Inputs:** `include/streaming/*.yaml`; the Lambda packages: in a checkout built from `lambdas/` and
`lambdas/requirements-lock.txt`, on MWAA staged by `python -m deploy.mwaa upload` under
`s3://<prefix>-mwaa/lambda-packages/` and listed in `include/streaming/packages.json` of the bundle; the settings
(prefix, account, region); connections `aws_default`, `pg_vector`. Infrastructure it expects: the execution roles, the
database secret, the Kinesis stream, the buckets (locally `devstack.lambda_resources`).
**Outputs:** functions, versions, `live` aliases, the delivery stream.
**Owner:** data-platform.

**Runbook.**
- See what a deploy would do: trigger with `{"dry_run": true}` and read `plan_deploy`'s log or XCom.
- A bad file fails `build_packages`/`plan_deploy` naming the file and field: fix it and trigger again.
- On MWAA `build_packages` says a package is not staged or its sha256 differs: run `python -m deploy.mwaa upload`
  where the repo is (it stages the packages the bundle names), then trigger again.
- `smoke_test_functions` failed: the alias still serves the previous version. The log says what was wrong
  with the answer (or the handler's traceback); fix and redeploy. `$LATEST` holds the failed code until then.
- Bad version live: trigger with `{"rollback": true}` (back to the previous version, instantly). A rollback
  holds until the next deploy, which moves the alias forward again: revert the repo first if the code is bad.
- `check_plan` refused a replacement: the delivery stream must be deleted and re-created, and events arriving
  meanwhile are not delivered (Kinesis keeps them; replay from the stream if needed). Choose a quiet time and
  trigger with `{"accept_replacement": true}`.
- `apply_functions` says the plan is stale: someone changed the account since; trigger again.

**SLA:** a run not finished **1 h** after it was queued (`DEADLINE` in this file) sends an SLA-miss alert to the
SNS alerts topic naming the DAG, the run, the deadline and the run's state: a deploy normally takes minutes, so
it is stuck on a waiter (a function update or a delivery stream that never becomes ACTIVE) or was never picked up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.amazon.aws.sensors.lambda_function import LambdaFunctionStateSensor
from airflow.sdk import Param, chain, dag, task

from dataplatform.config import templated
from dataplatform.orchestration.dag_defaults import MACROS, default_args
from dataplatform.orchestration.deadlines import sla_miss_alert

DEADLINE = timedelta(hours=1)


@dag(
    schedule=None,
    start_date=datetime(2026, 1, 5),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    user_defined_macros=MACROS,
    params={
        "dry_run": Param(False, type="boolean", description="Plan only: build, compare, print the diff; change "
                                                            "nothing"),
        "rollback": Param(False, type="boolean", description="Point the live aliases back to their previous "
                                                             "versions instead of deploying"),
        "rollback_functions": Param([], type="array", items={"type": "string"},
                                    description="With rollback: the functions to roll back (keys, e.g. "
                                                "model_inference); empty = those the newest deploy moved"),
        "accept_replacement": Param(False, type="boolean", description="Allow re-creating the delivery stream "
                                    "when a change cannot be made in place (events arriving meanwhile are lost)"),
    },
    deadline=sla_miss_alert("streaming_deploy", DEADLINE, "DEADLINE in dags/streaming_deploy.py"),
    tags=["streaming", "lambda", "firehose", "deploy"],
    doc_md=__doc__,
)
def streaming_deploy():
    """Task bodies import `dataplatform.streaming.steps` (boto3, the hooks) themselves: not paid at parse."""

    @task.branch
    def choose_action(params=None) -> str:
        return "rollback_live_aliases" if params["rollback"] else "build_packages"

    @task
    def build_packages(params=None) -> dict:
        from dataplatform.streaming import steps

        return steps.build_packages(params["dry_run"]).payload()

    @task
    def plan_deploy(built: dict) -> dict:
        from dataplatform.streaming import steps
        from dataplatform.streaming.packages import PackageSet

        shown = steps.make_plan(PackageSet.from_payload(built))
        print(shown.text())
        return shown.payload()

    @task.short_circuit
    def check_plan(shown: dict, params=None) -> bool:
        from dataplatform.streaming import steps
        from dataplatform.streaming.plan import Plan

        the_plan = Plan.from_payload(shown)
        if params["dry_run"]:
            print("dry run: nothing applied")
            return False
        steps.check_plan(the_plan, params["accept_replacement"])
        return the_plan.changed

    @task
    def sync_reader_grants() -> list[str]:
        from dataplatform.streaming import steps

        return steps.sync_reader_grants()

    @task
    def apply_functions(built: dict, shown: dict) -> list[str]:
        from dataplatform.streaming import steps
        from dataplatform.streaming.packages import PackageSet
        from dataplatform.streaming.plan import Plan

        return steps.apply_functions(PackageSet.from_payload(built), Plan.from_payload(shown))

    @task(trigger_rule="none_failed_min_one_success")  # also when no function needed the sensor
    def wait_for_function_updates(updated: list[str]) -> None:
        from dataplatform.streaming import steps

        steps.wait_for_updates(updated)

    @task
    def smoke_test_functions(built: dict, shown: dict) -> list[dict]:
        from dataplatform.streaming import steps
        from dataplatform.streaming.packages import PackageSet
        from dataplatform.streaming.plan import Plan

        return steps.smoke_test(PackageSet.from_payload(built), Plan.from_payload(shown))

    @task
    def publish_live_versions(built: dict, shown: dict, run_id=None) -> dict:
        from dataplatform.streaming import steps
        from dataplatform.streaming.packages import PackageSet
        from dataplatform.streaming.plan import Plan

        return steps.publish_versions(PackageSet.from_payload(built), Plan.from_payload(shown), run_id)

    @task
    def sync_delivery_stream(shown: dict, params=None) -> dict:
        from dataplatform.streaming import steps
        from dataplatform.streaming.plan import Plan

        return steps.sync_streams(Plan.from_payload(shown), params["accept_replacement"])

    @task
    def verify_deployment(built: dict) -> dict:
        from dataplatform.streaming import steps
        from dataplatform.streaming.packages import PackageSet

        return steps.verify(PackageSet.from_payload(built))

    @task
    def rollback_live_aliases(params=None, run_id=None) -> dict:
        from dataplatform.streaming import steps

        return steps.rollback(run_id, params["rollback_functions"])

    built = build_packages()
    shown = plan_deploy(built)
    updated = apply_functions(built, shown)
    wait_for_functions_active = LambdaFunctionStateSensor.partial(
        task_id="wait_for_functions_active",
        aws_conn_id=templated().aws_conn_id,
        target_states=["Active"],
        poke_interval=5,
        timeout=15 * 60,
    ).expand(function_name=updated)
    choose_action() >> [built, rollback_live_aliases()]
    chain(built, shown, check_plan(shown), sync_reader_grants(), updated, wait_for_functions_active,
          wait_for_function_updates(updated), smoke_test_functions(built, shown),
          publish_live_versions(built, shown), sync_delivery_stream(shown), verify_deployment(built))


streaming_deploy()
