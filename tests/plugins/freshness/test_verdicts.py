"""Judging a measurement and deciding when to alert (pure logic), and the alert texts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dataplatform.freshness.measurements import Measurement
from dataplatform.freshness.verdicts import AlertState, alert_text, decide, judge, show, summary_table, with_alert
from dataplatform.freshness.watchdog_spec import load

SPEC = load()
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(("check", "measurement", "status"), [
    ("kinesis_iterator_age", Measurement(300_001, False, ""), "breach"),
    ("kinesis_iterator_age", Measurement(300_000, False, ""), "ok"),       # at the threshold is not beyond it
    ("kinesis_iterator_age", Measurement(None, True, "no datapoints"), "idle"),
    ("firehose_processing_success", Measurement(0.9, False, ""), "breach"),  # breach_below
    ("firehose_processing_success", Measurement(1.0, False, ""), "ok"),
    ("dashboard_freshness", Measurement(None, False, "no data"), "breach"),  # no value where one is required
    ("live_model_age", Measurement(3 * 86_400, False, ""), "ok"),
])
def test_judge(check: str, measurement: Measurement, status: str) -> None:
    verdict = judge(SPEC.check(check), measurement, NOW)
    assert verdict.status == status and verdict.check == check and verdict.threshold == SPEC.check(check).threshold


def test_a_breach_that_starts_alerts() -> None:
    assert decide("breach", AlertState(), NOW, HOUR) == "breach"


def test_a_breach_that_lasts_stays_quiet_until_the_reminder_period() -> None:
    state = AlertState(breaching_since=NOW - timedelta(minutes=30), last_alert_at=NOW - timedelta(minutes=30))
    assert decide("breach", state, NOW, HOUR) is None
    state = AlertState(breaching_since=NOW - timedelta(minutes=90), last_alert_at=NOW - timedelta(minutes=60))
    assert decide("breach", state, NOW, HOUR) == "reminder"


def test_ok_after_a_breach_recovers_once_and_ok_after_ok_says_nothing() -> None:
    assert decide("ok", AlertState(breaching_since=NOW - HOUR, last_alert_at=NOW - HOUR), NOW, HOUR) == "recovery"
    assert decide("ok", AlertState(), NOW, HOUR) is None


def test_idle_neither_alerts_nor_closes_a_breach() -> None:
    open_breach = AlertState(breaching_since=NOW - HOUR, last_alert_at=NOW - 2 * HOUR)
    assert decide("idle", open_breach, NOW, HOUR) is None
    assert decide("idle", AlertState(), NOW, HOUR) is None
    verdict = with_alert(judge(SPEC.check("kinesis_iterator_age"), Measurement(None, True, ""), NOW), open_breach, None)
    assert verdict.breaching_since == open_breach.breaching_since  # the breach is still open in the history


def test_breach_alert_names_check_value_threshold_and_runbook() -> None:
    spec = SPEC.check("kinesis_iterator_age")
    verdict = with_alert(judge(spec, Measurement(412_000, False, "Maximum of 3 one-minute periods"), NOW),
                         AlertState(), "breach")
    subject, message = alert_text("breach", verdict, spec, environment="reco-prod", run_id="r1", realert_after=HOUR)
    assert subject == "[reco-prod] BREACH kinesis_iterator_age: 412 s (6.9 min)"
    assert "Value: 412 s (6.9 min) (Maximum of 3 one-minute periods)" in message
    assert "Threshold: breach above 300 s (5.0 min)" in message
    assert "Runbook: The delivery stream reads the user-activity stream too slowly." in message
    assert "a reminder in 1 h 0 min" in message and "Watchdog run: r1" in message


def test_recovery_alert_says_it_is_back_within_the_threshold() -> None:
    spec = SPEC.check("dashboard_freshness")
    verdict = with_alert(judge(spec, Measurement(120, False, "newest"), NOW), AlertState(NOW - HOUR, NOW - HOUR),
                         "recovery")
    subject, message = alert_text("recovery", verdict, spec, environment="e", run_id="r", realert_after=HOUR)
    assert subject == "[e] RECOVERED dashboard_freshness: 120 s (2.0 min)"
    assert "back within its threshold" in message and "reminder" not in message


def test_subject_fits_sns_limit() -> None:
    spec = SPEC.check("stream_transformation_throttles")
    verdict = judge(spec, Measurement(123456789.0, False, "x"), NOW)
    subject, _ = alert_text("breach", verdict, spec, environment="a-very-long-environment-prefix-" * 3, run_id="r",
                            realert_after=HOUR)
    assert len(subject) <= 100 and subject.isascii()


def test_values_read_like_people_read_them() -> None:
    assert show(90_000, "milliseconds") == "90 s (1.5 min)"
    assert show(777_600, "seconds") == "777,600 s (9.0 days)"
    assert show(0.9512, "ratio") == "0.951"
    assert show(3, "count") == "3"
    assert show(None, "count") == "no value"


def test_summary_table_has_one_line_per_verdict() -> None:
    verdicts = [judge(SPEC.check("dashboard_freshness"), Measurement(7200, False, ""), NOW),
                judge(SPEC.check("model_inference_errors"), Measurement(None, True, ""), NOW)]
    table = summary_table(verdicts).splitlines()
    assert table[0].split() == ["check", "status", "value", "threshold", "alert"]
    assert table[1].startswith("dashboard_freshness") and "BREACH" in table[1]
    assert "idle" in table[2]
