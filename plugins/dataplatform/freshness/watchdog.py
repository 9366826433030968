"""One watchdog check end to end: measure, judge, alert (deduplicated), record; and the run's summary.

A breach fails the check's task (red in the grid) every run while it lasts, but alerts only when it starts,
every `realert_after_minutes` while it lasts, and once when it recovers (`verdicts.decide`, state from the
verdict table). The alert goes out before the verdict is recorded: a run that dies in between alerts again on
its retry rather than never. The DAG's generic task-failure alert skips `BreachFound` (`is_breach`), which this
module already alerted on; any other failure (CloudWatch unreachable, the table missing) still alerts that way.
Plain Python: clients and connections passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dataplatform.freshness import measurements, sales_table, verdict_store
from dataplatform.freshness.measurements import Measurement
from dataplatform.freshness.models import Verdict
from dataplatform.freshness.verdicts import alert_text, decide, judge, summary_table, with_alert
from dataplatform.freshness.watchdog_spec import (
    CheckSpec,
    CloudWatchCheck,
    DashboardCheck,
    LiveModelCheck,
    NewestObjectCheck,
    WatchdogSpec,
)


class AlreadyAlerted(RuntimeError):
    """A task failure whose alert is already taken care of: no generic task-failure alert for it."""


class BreachFound(AlreadyAlerted):
    """A check is beyond its threshold (its alert, if due, is sent): the task fails so the UI shows it red."""


class ChecksNotPassing(AlreadyAlerted):
    """The summary of a run in which a check breached or could not judge (each already alerted by its own task):
    the run ends red."""


def already_alerted(exception: BaseException | None) -> bool:
    """True for a breach or the summary's failure, also when wrapped (dag_defaults.no_retry_on raises
    AirflowFailException from it)."""
    return isinstance(exception, AlreadyAlerted) or isinstance(getattr(exception, "__cause__", None), AlreadyAlerted)


@dataclass(frozen=True)
class Sources:
    """What the checks read: the platform settings (resource names), CloudWatch, S3 and the PostgreSQL database
    that holds the dashboard, the vector store and the verdicts."""

    settings: Any
    cloudwatch: Any
    s3: Any
    pg: Any


def measure(spec: CheckSpec, sources: Sources, now: datetime) -> Measurement:
    s = sources.settings
    if isinstance(spec, CloudWatchCheck):
        return measurements.metric(sources.cloudwatch, spec, spec.resolved_dimensions(s), spec.statistic, now)
    if isinstance(spec, DashboardCheck):
        return measurements.dashboard_age(*sales_table.dashboard_freshness(sources.pg))
    if isinstance(spec, NewestObjectCheck):
        if spec.active_when is not None:
            activity = measurements.metric(sources.cloudwatch, spec.active_when,
                                           spec.active_when.resolved_dimensions(s), "SampleCount", now)
            if activity.idle:
                return Measurement(None, True, f"nothing flowing ({activity.detail})")
        return measurements.newest_object_age(sources.s3, getattr(s, spec.bucket), now, spec.lookback_hours)
    if isinstance(spec, LiveModelCheck):
        return measurements.live_model_age(sources.pg)
    raise TypeError(f"unknown check source: {spec!r}")


def run_check(spec: CheckSpec, sources: Sources, sns: Any, *, run_id: str, realert_after: timedelta,
              now: datetime | None = None) -> Verdict:
    """Evaluate one check, publish its alert if one is due, record the verdict; returns it (never raises on a
    breach: `raise_on_breach` does, after the caller has what it needs)."""
    now = now or datetime.now(UTC)
    verdict = judge(spec, measure(spec, sources, now), now)
    state = verdict_store.alert_state(sources.pg, spec.name)
    alert = decide(verdict.status, state, now, realert_after)
    verdict = with_alert(verdict, state, alert)
    if alert is not None:
        subject, message = alert_text(alert, verdict, spec, environment=sources.settings.prefix, run_id=run_id,
                                      realert_after=realert_after)
        sns.publish(TopicArn=sources.settings.alerts_topic_arn, Subject=subject, Message=message)
    verdict_store.record(sources.pg, verdict, run_id)
    return verdict


def raise_on_breach(verdict: Verdict) -> Verdict:
    if verdict.status == "breach":
        raise BreachFound(f"{verdict.check}: {verdict.detail}; threshold: {verdict.comparison} {verdict.threshold:g} "
                          f"{verdict.unit} (alert: {verdict.alert or 'already sent for this breach'})")
    return verdict


@dataclass(frozen=True)
class RunSummary:
    verdicts: list[Verdict]
    """this run's verdict of each configured check that judged"""
    unjudged: list[str]
    """checks whose task failed before judging (an error, not a breach)"""
    table: str

    @property
    def breaching(self) -> list[str]:
        return [v.check for v in self.verdicts if v.status == "breach"]

    def raise_unless_passing(self) -> None:
        if self.breaching or self.unjudged:
            raise ChecksNotPassing(f"breaching: {', '.join(self.breaching) or 'none'}; "
                                   f"not judged (task error): {', '.join(self.unjudged) or 'none'}")


def summarize(pg: Any, spec: WatchdogSpec, run_id: str) -> RunSummary:
    """This run's verdicts, one per configured check, and a printable table; a check with no verdict in this run
    is listed with its last known one."""
    latest = {v.check: (rid, v) for rid, v in verdict_store.latest(pg)}
    verdicts = [latest[name][1] for name in spec.checks if name in latest and latest[name][0] == run_id]
    unjudged = [name for name in spec.checks if name not in latest or latest[name][0] != run_id]
    table = summary_table(verdicts)
    for name in unjudged:
        last = latest.get(name)
        known = f"last verdict {last[1].status} at {last[1].evaluated_at:%Y-%m-%d %H:%M}Z" if last else "never judged"
        table += f"\n{name}: not judged in this run (its task failed; see its log); {known}"
    return RunSummary(verdicts, unjudged, table)
