"""Settings: required values, their validation, and what parse time gets without them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dataplatform import config
from dataplatform.config import ConfigurationError, parse_time, settings, templated

VALID = {"DATAPLATFORM_PREFIX": "reco-staging", "DATAPLATFORM_ACCOUNT_ID": "111122223333",
         "DATAPLATFORM_REGION": "eu-central-1"}


@pytest.fixture
def environment(monkeypatch) -> Iterator[pytest.MonkeyPatch]:
    """No DATAPLATFORM_* configuration at all; the settings cache is cleared before and after."""
    import os

    for name in list(os.environ):
        if name.startswith(("DATAPLATFORM_", "AIRFLOW__DATAPLATFORM__")):
            monkeypatch.delenv(name)
    settings.cache_clear()
    yield monkeypatch
    settings.cache_clear()


def test_nothing_configured_names_every_missing_value_and_how_to_set_it(environment) -> None:
    with pytest.raises(ConfigurationError) as error:
        settings()
    message = str(error.value)
    for name in ("prefix", "account_id", "region"):
        assert f"{name} is not set" in message
        assert f"DATAPLATFORM_{name.upper()}" in message
        assert f"dataplatform.{name}" in message  # the MWAA configuration option
    assert "reco-prod" not in message


def test_no_default_names_a_production_resource(environment) -> None:
    environment.setenv("DATAPLATFORM_ACCOUNT_ID", "111122223333")
    environment.setenv("DATAPLATFORM_REGION", "eu-west-1")
    with pytest.raises(ConfigurationError, match="prefix is not set"):
        settings()


@pytest.mark.parametrize(("name", "value", "problem"), [
    ("DATAPLATFORM_PREFIX", "Reco_Prod", "prefix='Reco_Prod' is malformed"),
    ("DATAPLATFORM_PREFIX", "x" * 41, "is malformed"),
    ("DATAPLATFORM_ACCOUNT_ID", "1234", "account_id='1234' is malformed"),
    ("DATAPLATFORM_ACCOUNT_ID", "", "account_id is not set"),
    ("DATAPLATFORM_REGION", "europe", "region='europe' is malformed"),
])
def test_malformed_value_is_named(environment, name: str, value: str, problem: str) -> None:
    for key, good in VALID.items():
        environment.setenv(key, good)
    environment.setenv(name, value)
    with pytest.raises(ConfigurationError, match=problem.replace("(", r"\(").replace("[", r"\[")):
        settings()


def test_valid_settings_derive_every_name_from_the_prefix(environment) -> None:
    for key, value in VALID.items():
        environment.setenv(key, value)
    s = settings()
    assert s.buckets == ("reco-staging-data-lake", "reco-staging-ml-artifacts", "reco-staging-recommendations",
                         "reco-staging-glue-assets", "reco-staging-mwaa")
    assert s.alerts_topic_arn == "arn:aws:sns:eu-central-1:111122223333:reco-staging-alerts"
    assert s.glue_role_arn == "arn:aws:iam::111122223333:role/reco-staging-glue"
    assert s.glue_database == "reco_staging_lake"
    assert s.retry_delay_seconds == 120


def test_mwaa_configuration_options_are_read_when_no_variable_is_set(environment) -> None:
    environment.setenv("AIRFLOW__DATAPLATFORM__PREFIX", "reco-mwaa")
    environment.setenv("AIRFLOW__DATAPLATFORM__ACCOUNT_ID", "111122223333")
    environment.setenv("AIRFLOW__DATAPLATFORM__REGION", "eu-west-1")
    environment.setenv("AIRFLOW__DATAPLATFORM__RETRY_DELAY_SECONDS", "300")
    environment.setenv("AIRFLOW__DATAPLATFORM__LAMBDA_SUBNET_IDS", "subnet-0a1b2c3d,subnet-1a2b3c4d")
    assert settings().prefix == "reco-mwaa" and settings().retry_delay_seconds == 300
    assert (settings().lambda_subnet_ids, settings().lambda_security_group_ids) == (
        "subnet-0a1b2c3d,subnet-1a2b3c4d", "")
    environment.setenv("DATAPLATFORM_PREFIX", "reco-explicit")
    settings.cache_clear()
    assert settings().prefix == "reco-explicit"


def test_retry_delay_must_be_whole_seconds(environment) -> None:
    for key, value in VALID.items():
        environment.setenv(key, value)
    environment.setenv("DATAPLATFORM_RETRY_DELAY_SECONDS", "2m")
    with pytest.raises(ConfigurationError, match="retry_delay_seconds must be a whole number"):
        settings()


def test_parse_time_never_raises_and_names_nothing_real(environment) -> None:
    s = parse_time()
    assert s.data_lake_bucket == "unconfigured-data-lake"
    assert s.account_id == config.UNCONFIGURED


def test_templated_names_render_later_and_unknown_names_fail_now() -> None:
    s = templated()
    assert s.data_lake_bucket == "{{ dataplatform.data_lake_bucket }}"
    assert s.glue_role_arn == "{{ dataplatform.glue_role_arn }}"
    assert s.aws_conn_id == "aws_default"  # not a resource name: a plain value
    with pytest.raises(AttributeError, match="no attribute 'data_lake'"):
        _ = s.data_lake
