"""streaming_deploy as DAG runs on the test stack (moto, PostgreSQL): dry run, deploy, no-op rerun, drift repaired,
rollback. The local smoke test runs the uploaded zips' handlers in a clean interpreter through the read-only
role's secret. The platform's resources (reco-local-*) are removed before and after the module."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from dataplatform.config import settings
from dataplatform.streaming import specs as streaming_specs
from dataplatform.streaming import sync
from dataplatform.streaming.plan import AliasNote

pytestmark = [pytest.mark.stack, pytest.mark.slow]  # builds Lambda packages (wheels from the index)

DAG_ID = "streaming_deploy"


def _remove(stack, s: streaming_specs.StreamingSpecs) -> None:
    lam, firehose = stack.moto_client("lambda"), stack.moto_client("firehose")
    for spec in s.functions.values():
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_function(FunctionName=spec.name)
    for stream in s.delivery_streams.values():
        with contextlib.suppress(firehose.exceptions.ResourceNotFoundException):
            firehose.delete_delivery_stream(DeliveryStreamName=stream.name)


@pytest.fixture(scope="module")
def platform(local_stack, stack_connections) -> Iterator[Any]:
    from devstack.lambda_resources import create_lambda_resources

    s = streaming_specs.load(settings())
    _remove(stack_connections, s)
    create_lambda_resources(settings(), stack_connections)
    yield stack_connections
    _remove(stack_connections, s)


def _described(stack) -> dict:
    s = streaming_specs.load(settings())
    return sync.describe(stack.moto_client("lambda"), stack.moto_client("firehose"), s)


def test_dry_run_plans_and_changes_nothing(platform, run_dag) -> None:
    state, tasks, results = run_dag(DAG_ID, {"dry_run": True})
    assert state == "success", tasks
    assert tasks["check_plan"] == "success" and tasks["apply_functions"] == "skipped"
    assert tasks["rollback_live_aliases"] == "skipped"
    shown = results["plan_deploy"]
    assert [f["exists"] for f in shown["functions"]] == [False, False]
    assert [s["action"] for s in shown["streams"]] == ["create"]
    assert all(v is None for v in _described(platform)["functions"].values())
    assert all(v is None for v in _described(platform)["streams"].values())


def test_deploy_then_a_rerun_changes_nothing(platform, run_dag) -> None:
    state, tasks, results = run_dag(DAG_ID)
    assert state == "success", tasks
    assert tasks["smoke_test_functions"] == "success" and tasks["verify_deployment"] == "success"
    assert {k: v["version"] for k, v in results["verify_deployment"]["functions"].items()} == {
        "model_inference": "1", "stream_transformation": "1"}
    assert all(r["mode"] == "local" for r in results["smoke_test_functions"])
    before = _described(platform)
    state, tasks, results = run_dag(DAG_ID)
    assert state == "success", tasks
    assert tasks["check_plan"] == "success" and tasks["apply_functions"] == "skipped", "nothing to change"
    assert _described(platform) == before


def test_rollback_and_redeploy_repair_a_drifted_function(platform, run_dag) -> None:
    """GIVEN version 2 of model_inference made live by hand with 256 MB WHEN rolled back THEN the alias is on 1
    again; WHEN deployed THEN $LATEST gets its 1024 MB back and the alias stays on the version that has it."""
    lam = platform.moto_client("lambda")
    name = streaming_specs.load(settings()).functions["model_inference"].name
    lam.update_function_configuration(FunctionName=name, MemorySize=256)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion=version,
                     Description=AliasNote(previous="1", run="by-hand", at="2099-01-01T00:00:00Z").text())
    state, tasks, results = run_dag(DAG_ID, {"rollback": True})
    assert state == "success", tasks
    assert results["rollback_live_aliases"] == {"model_inference": {"from": version, "to": "1"}}
    assert tasks["build_packages"] == "skipped"
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
    state, tasks, results = run_dag(DAG_ID)
    assert state == "success", tasks
    plan_lines = json.dumps(results["plan_deploy"])
    assert "~ MemorySize: 256 -> 1024" in plan_lines
    assert tasks["smoke_test_functions"] == "success" and results["smoke_test_functions"] == []
    assert lam.get_function_configuration(FunctionName=name)["MemorySize"] == 1024
    assert results["verify_deployment"]["functions"]["model_inference"]["version"] == "1"


def test_rollback_with_nothing_to_go_back_to_fails_at_once(platform, run_dag, task_tries) -> None:
    state, tasks, _ = run_dag(DAG_ID, {"rollback": True, "rollback_functions": ["stream_transformation"]})
    assert state == "failed" and tasks["rollback_live_aliases"] == "failed"
    assert task_tries(DAG_ID)["rollback_live_aliases"] == 1, "deterministic: no retry"
