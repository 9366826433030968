"""The watchdog's thresholds file."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dataplatform.config import Settings
from dataplatform.freshness.watchdog_spec import CloudWatchCheck, NewestObjectCheck, load, parse, spec_path

REQUIRED = {"kinesis_iterator_age": ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "Maximum"),
            "firehose_data_freshness": ("AWS/Firehose", "DeliveryToS3.DataFreshness", "Maximum"),
            "firehose_processing_success": ("AWS/Firehose", "ExecuteProcessing.Success", "Average"),
            "stream_transformation_errors": ("AWS/Lambda", "Errors", "Sum"),
            "stream_transformation_throttles": ("AWS/Lambda", "Throttles", "Sum"),
            "model_inference_errors": ("AWS/Lambda", "Errors", "Sum"),
            "model_inference_throttles": ("AWS/Lambda", "Throttles", "Sum")}


def test_the_issue_s_metrics_are_checked_with_their_statistics() -> None:
    spec = load()
    for name, (namespace, metric, statistic) in REQUIRED.items():
        check = spec.check(name)
        assert isinstance(check, CloudWatchCheck)
        assert (check.namespace, check.metric, check.statistic) == (namespace, metric, statistic)
    assert spec.check("dashboard_freshness").threshold == 3600  # the one-hour SLA


def test_every_check_has_a_runbook_and_names_existing_settings() -> None:
    s = Settings(prefix="reco-test", region="eu-west-1", account_id="123456789012")
    for check in load().checks.values():
        assert len(check.runbook) > 40, check.name
        if isinstance(check, CloudWatchCheck):
            assert all(v.startswith("reco-test-") for v in check.resolved_dimensions(s).values()), check.name
        if isinstance(check, NewestObjectCheck):
            assert getattr(s, check.bucket) == "reco-test-recommendations"


def test_a_check_needs_exactly_one_threshold() -> None:
    text = spec_path().read_text().replace("    breach_above: 3600", "    breach_above: 3600\n    breach_below: 10")
    with pytest.raises(ValidationError, match="exactly one of breach_above, breach_below"):
        parse(text)


def test_an_unknown_source_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse(spec_path().read_text().replace("source: live_model", "source: crystal_ball"))
