"""Deploying the streaming path on moto: first deploy, no-op rerun, code change, configuration change, rollback, a
broken package, dry run, replacement, invalid configuration. The smoke test runs each new package's handler in a
clean interpreter against the test's own schema through its own read-only role (real PostgreSQL).

The tests that only read the first deploy's outcome, or change their own copy of the files and leave the account
as they found it (or deploy it back), share one deployed environment (`deployed`); the others get a fresh one
(`deployer`)."""

from __future__ import annotations

import json

import pytest

from dataplatform.streaming import plan, smoke, specs, sync
from devstack.env import MOTO_ACCOUNT_ID, REGION

pytestmark = [pytest.mark.stack, pytest.mark.slow]  # builds Lambda packages (wheels from the index)

INFERENCE, TRANSFORMATION, STREAM = "model_inference", "stream_transformation", "recommendations_delivery_stream"


def _alias(deployer, key: str) -> dict:
    spec = deployer.specs.functions[key]
    return deployer.client("lambda").get_alias(FunctionName=spec.name, Name=spec.alias)


def _versions(deployer, key: str) -> list[str]:
    name = deployer.specs.functions[key].name
    return [v["Version"] for v in deployer.client("lambda").list_versions_by_function(FunctionName=name)["Versions"]
            if v["Version"] != "$LATEST"]


def test_first_deploy_creates_functions_aliases_and_the_delivery_stream(deployed) -> None:
    deployer, the_plan = deployed.env, deployed.first
    assert [f.exists for f in the_plan.functions] == [False, False] and the_plan.streams[0].action == "create"
    lam, s = deployer.client("lambda"), deployer.specs
    for key, spec in s.functions.items():
        configuration = lam.get_function(FunctionName=spec.name)
        assert configuration["Configuration"]["MemorySize"] == spec.memory_mb
        assert configuration["Configuration"]["Architectures"] == [deployer.target.architecture(spec)]
        assert configuration["Concurrency"]["ReservedConcurrentExecutions"] == spec.reserved_concurrency
        env = configuration["Configuration"]["Environment"]["Variables"]
        assert env["DATAPLATFORM_VECTOR_SECRET_ARN"].startswith(f"arn:aws:secretsmanager:{REGION}:")
        assert not any("password" in v.lower() for v in env.values())
        assert _alias(deployer, key)["FunctionVersion"] == "1"
    stream = deployer.client("firehose").describe_delivery_stream(
        DeliveryStreamName=s.delivery_streams[STREAM].name)["DeliveryStreamDescription"]
    assert stream["DeliveryStreamType"] == "KinesisStreamAsSource"
    destination = stream["Destinations"][0]["ExtendedS3DestinationDescription"]
    parameters = {p["ParameterName"]: p["ParameterValue"]
                  for p in destination["ProcessingConfiguration"]["Processors"][0]["Parameters"]}
    assert parameters["LambdaArn"] == (f"arn:aws:lambda:{REGION}:{MOTO_ACCOUNT_ID}:function:"
                                       f"{s.functions[TRANSFORMATION].name}:live")
    assert parameters["BufferSizeInMBs"] == "0.5"
    assert destination["Prefix"].startswith("!{partitionKeyFromLambda:year}/")
    assert destination["ErrorOutputPrefix"].startswith("!{firehose:error-output-type}/")
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 300}
    with pytest.raises(sync.RollbackError, match="no alias records a previous version"):
        sync.rollback(lam, s, "rollback")


def test_second_run_with_nothing_changed_changes_nothing(deployed) -> None:
    deployer = deployed.env
    before = deployer.describe()
    again = deployer.deploy(run_id="again")
    assert not again.changed, again.text()
    assert "plan: nothing to change" in again.text()
    assert deployer.describe() == before


def test_code_change_publishes_a_new_version_and_moves_the_alias(deployer) -> None:
    deployer.deploy(run_id="first")
    handler = deployer.source(INFERENCE) / "handler.py"
    handler.write_text(handler.read_text() + "\n# a change to the code\n")
    the_plan = deployer.deploy(run_id="second")
    changed = the_plan.function(INFERENCE)
    assert changed.update_code and not changed.configuration_changes and changed.publish
    assert "~ alias live: 1 -> a new version (after the smoke test)" in the_plan.text()
    assert not the_plan.function(TRANSFORMATION).changed
    assert _versions(deployer, INFERENCE) == ["1", "2"] and _versions(deployer, TRANSFORMATION) == ["1"]
    alias = _alias(deployer, INFERENCE)
    assert alias["FunctionVersion"] == "2"
    assert json.loads(alias["Description"])["previous"] == "1"
    assert _alias(deployer, TRANSFORMATION)["FunctionVersion"] == "1"


def test_configuration_change_alone_updates_configuration_not_code(deployer) -> None:
    deployer.deploy()
    sha_before = deployer.describe()["functions"][TRANSFORMATION]["configuration"]["CodeSha256"]
    deployer.edit(TRANSFORMATION, memory_mb=2048)
    the_plan = deployer.deploy()
    changed = the_plan.function(TRANSFORMATION)
    assert not changed.update_code and changed.configuration_changes == ["~ MemorySize: 1024 -> 2048"]
    after = deployer.describe()["functions"][TRANSFORMATION]
    assert after["configuration"]["MemorySize"] == 2048 and after["configuration"]["CodeSha256"] == sha_before
    assert after["alias"]["FunctionVersion"] == "2"
    assert deployer.describe()["streams"][STREAM]["VersionId"] == "1", "the stream calls the alias: no update"


def test_rollback_moves_the_alias_back_and_forth_and_a_redeploy_reuses_the_version(deployer) -> None:
    deployer.deploy(run_id="first")
    deployer.edit(INFERENCE, timeout_seconds=15)
    deployer.deploy(run_id="second")
    lam = deployer.client("lambda")
    assert sync.rollback(lam, deployer.specs, "rollback-1") == {INFERENCE: {"from": "2", "to": "1"}}
    assert _alias(deployer, INFERENCE)["FunctionVersion"] == "1"
    assert _alias(deployer, TRANSFORMATION)["FunctionVersion"] == "1", "only what the newest deploy moved"
    assert sync.rollback(lam, deployer.specs, "rollback-2") == {INFERENCE: {"from": "1", "to": "2"}}
    sync.rollback(lam, deployer.specs, "rollback-3")
    again = deployer.deploy(run_id="redeploy")
    assert again.function(INFERENCE).matching_version == "2" and not again.function(INFERENCE).publish
    assert _alias(deployer, INFERENCE)["FunctionVersion"] == "2" and _versions(deployer, INFERENCE) == ["1", "2"]


@pytest.mark.parametrize("breakage, expected", [
    ("    return outcome.response()", "do not answer"),
    ("from aws_lambda_powertools import Logger, Metrics, single_metric", "the handler failed"),
])
def test_broken_package_fails_the_smoke_test_and_leaves_the_alias(deployed, tmp_path, breakage: str,
                                                                  expected: str) -> None:
    """On the shared environment: the broken code reaches `$LATEST` only; the original code is deployed back after
    (it matches version 1, so nothing is published and the alias stays)."""
    deployer = deployed.env.variant(tmp_path)
    handler = deployer.source(TRANSFORMATION) / "handler.py"
    text = handler.read_text()
    assert breakage in text
    replacement = ("    return {'records': outcome.response()['records'][1:]}" if "return" in breakage
                   else breakage + "\nimport a_module_the_package_does_not_ship")
    handler.write_text(text.replace(breakage, replacement))
    try:
        with pytest.raises(smoke.SmokeTestFailed, match=expected):
            deployer.deploy(run_id="broken")
        assert _alias(deployer, TRANSFORMATION)["FunctionVersion"] == "1"
        assert _versions(deployer, TRANSFORMATION) == ["1"], "nothing published"
        retry = deployer.deploy(dry_run=True)
        assert retry.function(TRANSFORMATION).publish, "the next run tests the new code again before publishing"
    finally:
        restored = deployed.env.deploy(run_id="restore")
    assert restored.function(TRANSFORMATION).update_code and not restored.function(TRANSFORMATION).publish
    assert _alias(deployer, TRANSFORMATION)["FunctionVersion"] == "1" and _versions(deployer, TRANSFORMATION) == ["1"]


def test_dry_run_on_an_empty_account_creates_and_uploads_nothing(deployer) -> None:
    first = deployer.deploy(dry_run=True)
    assert first.changed and "+ create function" in first.text() and "+ create delivery stream" in first.text()
    assert all(v is None for v in deployer.describe()["functions"].values())
    assert all(v is None for v in deployer.describe()["streams"].values())
    assert deployer.client("s3").list_objects_v2(Bucket=deployer.settings.mwaa_bucket).get("KeyCount") == 0


def test_dry_run_of_a_change_changes_nothing(deployed, tmp_path) -> None:
    def staged() -> set[str]:
        listing = deployer.client("s3").list_objects_v2(Bucket=deployer.settings.mwaa_bucket)
        return {o["Key"] for o in listing["Contents"]}

    before = deployed.env.describe()
    deployer = deployed.env.variant(tmp_path)
    staged_before = staged()
    deployer.edit(INFERENCE, memory_mb=512)
    handler = deployer.source(INFERENCE) / "handler.py"
    handler.write_text(handler.read_text() + "\n# a change to the code\n")
    pending = deployer.deploy(dry_run=True)
    assert pending.function(INFERENCE).configuration_changes == ["~ MemorySize: 1024 -> 512"]
    assert pending.function(INFERENCE).update_code
    assert deployed.env.describe() == before
    new_zip = deployer.build(upload=False).packages[INFERENCE].key
    assert new_zip not in staged_before and staged() == staged_before, "the new zip is not uploaded"


def test_a_change_the_service_cannot_make_in_place_needs_accept_replacement(deployed, tmp_path) -> None:
    """On the shared environment, whose delivery stream is replaced back afterwards (the functions are untouched)."""
    deployer = deployed.env.variant(tmp_path)
    deployer.edit(STREAM, dynamic_partitioning=False, prefix="recommendations/",
                  buffering={"size_mb": 5, "interval_seconds": 300})
    before = deployer.describe()
    try:
        with pytest.raises(sync.ReplacementRefusedError, match="dynamic partitioning True -> False"):
            deployer.deploy()
        assert deployer.describe()["streams"] == before["streams"]
        replaced = deployer.deploy(accept_replacement=True)
        assert replaced.streams[0].action == "replace" and not any(f.changed for f in replaced.functions)
        destination = deployer.describe()["streams"][STREAM]["Destinations"][0]["ExtendedS3DestinationDescription"]
        assert destination["Prefix"] == "recommendations/"
        assert not deployer.deploy().changed
    finally:
        back = deployed.env.deploy(accept_replacement=True)
    assert back.streams[0].action == "replace" and deployed.env.describe()["functions"] == before["functions"]


def test_in_place_stream_change_updates_the_destination(deployed, tmp_path) -> None:
    """On the shared environment, whose delivery stream is updated back afterwards."""
    deployer = deployed.env.variant(tmp_path)
    version = int(deployer.describe()["streams"][STREAM]["VersionId"])
    deployer.edit(STREAM, compression="UNCOMPRESSED")
    try:
        the_plan = deployer.deploy()
        assert the_plan.streams[0].action == "update"
        assert the_plan.streams[0].changes == ["~ CompressionFormat: 'GZIP' -> 'UNCOMPRESSED'"]
        stream = deployer.describe()["streams"][STREAM]
        assert stream["VersionId"] == str(version + 1)
        assert stream["Destinations"][0]["ExtendedS3DestinationDescription"]["CompressionFormat"] == "UNCOMPRESSED"
    finally:
        back = deployed.env.deploy()
    assert back.streams[0].changes == ["~ CompressionFormat: 'UNCOMPRESSED' -> 'GZIP'"]


def test_vpc_settings_put_a_function_in_its_subnets_and_back_out(deployed, tmp_path) -> None:
    """On the shared environment, whose function leaves the VPC again afterwards."""
    deployer = deployed.env.variant(tmp_path)
    no_vpc = {"SubnetIds": [], "SecurityGroupIds": []}
    vpc = {"SubnetIds": ["subnet-0a1b2c3d", "subnet-1a2b3c4d"], "SecurityGroupIds": ["sg-0a1b2c3d"]}
    deployer.edit(TRANSFORMATION, vpc={"subnet_ids": "subnet-1a2b3c4d, subnet-0a1b2c3d",
                                       "security_group_ids": "sg-0a1b2c3d"})
    try:
        the_plan = deployer.deploy()
        assert the_plan.function(TRANSFORMATION).configuration_changes == [f"~ VpcConfig: {no_vpc!r} -> {vpc!r}"]
        described = deployer.describe()["functions"][TRANSFORMATION]["configuration"]["VpcConfig"]
        assert sorted(described["SubnetIds"]) == vpc["SubnetIds"] and described["SecurityGroupIds"] == ["sg-0a1b2c3d"]
        assert not deployer.deploy().changed, "the service's VpcId and list order are no change"
    finally:
        back = deployed.env.deploy()
    assert back.function(TRANSFORMATION).configuration_changes == [f"~ VpcConfig: {vpc!r} -> {no_vpc!r}"]


@pytest.mark.parametrize("changes, field", [
    ({"memory_mb": 64}, "memory_mb: Input should be greater than or equal to 128"),
    ({"architecture": "sparc"}, "architecture: Input should be 'arm64' or 'x86_64'"),
    ({"environment": {"DB_PASSWORD": "hunter2"}}, "environment: Value error, DB_PASSWORD: a credential"),
    ({"role_arn": "${no_such_setting}"}, "role_arn: unknown setting ${no_such_setting}"),
    ({"database_role": "nobody"}, "database_role: no database_role file 'nobody'"),
    ({"smoke_test": {"kind": "firehose_transformation", "records": [{}], "expect": []}},
     "smoke_test.firehose_transformation: Value error, expect has 0 results for 1 records"),
    ({"timeout_seconds": 0}, "timeout_seconds: Input should be greater than or equal to 1"),
    ({"vpc": {"subnet_ids": "subnet-0a1b2c3d"}}, "vpc: Value error, give both subnet_ids and security_group_ids"),
    ({"vpc": {"subnet_ids": "vpc-0a1b2c3d", "security_group_ids": "sg-0a1b2c3d"}},
     "vpc: Value error, 'vpc-0a1b2c3d': not subnet ids"),
])
def test_invalid_configuration_file_is_rejected_naming_the_field_before_any_call(deployed, tmp_path, changes: dict,
                                                                                 field: str) -> None:
    before = deployed.env.describe()
    deployer = deployed.env.variant(tmp_path)
    deployer.edit(TRANSFORMATION, **changes)
    with pytest.raises(specs.SpecError) as error:
        deployer.deploy()
    assert f"stream_transformation.yaml: {field}" in str(error.value)
    assert deployed.env.describe() == before, "nothing was called"


def test_a_plan_made_before_the_account_changed_is_not_applied(deployed, tmp_path) -> None:
    deployer = deployed.env.variant(tmp_path)
    built = deployer.build()
    deployer.edit(INFERENCE, memory_mb=512)
    shown = deployer.plan(built)
    lam, name = deployer.client("lambda"), deployer.specs.functions[INFERENCE].name
    lam.update_function_configuration(FunctionName=name, MemorySize=256)
    try:
        with pytest.raises(sync.StalePlanError, match="MemorySize: 256 -> 512"):
            sync.check_plan(shown, deployer.plan(built))
    finally:
        lam.update_function_configuration(FunctionName=name, MemorySize=1024)
        sync.wait_for_updates(lam, [name])
    assert not deployed.env.plan(built).changed, "the shared environment is as the first deploy left it"


def test_local_target_builds_for_this_machine(deployed) -> None:
    deployer = deployed.env
    target = deployer.target
    assert target.emulated and target.endpoint == deployer.stack.cfg.moto_endpoint
    assert "instead of arm64" in target.describe(deployer.specs)
    assert plan.alias_arn(REGION, MOTO_ACCOUNT_ID, deployer.specs.functions[INFERENCE]).endswith(":live")
