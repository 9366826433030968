"""Judging a measurement and deciding whether to alert (pure logic), and the alert texts.

Statuses: **breach** (value beyond the threshold, or no value where one is required), **ok**, **idle** (no
datapoints: nothing flowed, so there is nothing to judge; never a breach).

Alerts, per check, from its history (`verdict_store.AlertState`):
- a breach that starts (the last decisive verdict was ok, or there is none): **breach** alert;
- a breach that goes on: nothing, unless the last breach/reminder alert is `realert_after` old: **reminder**;
- ok after a breach: **recovery** alert, once;
- idle changes nothing: an open breach stays open (the metric may have stopped because the consumer did), so
  the next ok still sends the recovery and the next breach is still the same episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dataplatform.freshness.measurements import Measurement
from dataplatform.freshness.models import AlertKind, Status, Verdict
from dataplatform.freshness.watchdog_spec import CheckSpec

SUBJECT_LIMIT = 100  # SNS Subject: at most 100 printable ASCII characters


@dataclass(frozen=True)
class AlertState:
    """What a check's history says: since when its open breach lasts (None: not breaching), and when the last
    breach or reminder alert of that breach went out."""

    breaching_since: datetime | None = None
    last_alert_at: datetime | None = None


def judge(spec: CheckSpec, measurement: Measurement, now: datetime) -> Verdict:
    if measurement.idle:
        status: Status = "idle"
    elif measurement.value is None or spec.breaches(measurement.value):
        status = "breach"
    else:
        status = "ok"
    return Verdict(check=spec.name, status=status, value=measurement.value, threshold=spec.threshold,
                   comparison=spec.comparison, unit=spec.unit, detail=measurement.detail, evaluated_at=now)


def decide(status: Status, state: AlertState, now: datetime, realert_after: timedelta) -> AlertKind | None:
    if status == "breach":
        if state.breaching_since is None:
            return "breach"
        if state.last_alert_at is None or now - state.last_alert_at >= realert_after:
            return "reminder"
        return None
    if status == "ok" and state.breaching_since is not None:
        return "recovery"
    return None


def with_alert(verdict: Verdict, state: AlertState, alert: AlertKind | None) -> Verdict:
    """The verdict as recorded: its alert, and the start of the breach it belongs to."""
    since = None
    if verdict.status == "breach":
        since = state.breaching_since or verdict.evaluated_at
    elif verdict.status == "idle":
        since = state.breaching_since
    return verdict.model_copy(update={"alert": alert, "breaching_since": since})


def show(value: float | None, unit: str) -> str:
    """A value as people read it: `412 s (6.9 min)`, `0.82`, `3`."""
    if value is None:
        return "no value"
    if unit in ("milliseconds", "seconds"):
        seconds = value / 1000 if unit == "milliseconds" else value
        if seconds >= 86_400:
            return f"{seconds:,.0f} s ({seconds / 86_400:.1f} days)"
        return f"{seconds:,.0f} s ({seconds / 60:.1f} min)"
    if unit == "ratio":
        return f"{value:.3f}"
    return f"{value:g}"


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def alert_text(kind: AlertKind, verdict: Verdict, spec: CheckSpec, *, environment: str, run_id: str,
               realert_after: timedelta) -> tuple[str, str]:
    """(subject, message) of an SNS alert: the check, its value, the threshold and the runbook step."""
    value = show(verdict.value, verdict.unit)
    threshold = f"breach {verdict.comparison} {show(verdict.threshold, verdict.unit)}"
    since = verdict.breaching_since
    heading = {"breach": "BREACH", "reminder": "STILL BREACHING", "recovery": "RECOVERED"}[kind]
    subject = f"[{environment}] {heading} {verdict.check}: {value}"
    lines = [f"{heading}: {verdict.check} ({environment})",
             f"Value: {value} ({verdict.detail})",
             f"Threshold: {threshold}"]
    if kind == "recovery":
        lines[0] = f"{heading}: {verdict.check} ({environment}) is back within its threshold"
    elif since is not None:
        lines.append(f"Breaching since: {since:%Y-%m-%d %H:%M}Z ({_duration(verdict.evaluated_at - since)})")
    lines.append(f"Runbook: {' '.join(spec.runbook.split())}")
    if kind != "recovery":
        lines.append(f"Next alert: when it recovers, or a reminder in {_duration(realert_after)} if it lasts.")
    lines.append(f"Watchdog run: {run_id}; thresholds: include/freshness/watchdog.yaml")
    return _ascii(subject)[:SUBJECT_LIMIT], "\n".join(lines)


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode().replace("\n", " ")


def summary_table(verdicts: list[Verdict]) -> str:
    """The run's verdicts as a fixed-width table (the summary task's log)."""
    rows = [("check", "status", "value", "threshold", "alert")]
    rows += [(v.check, v.status.upper() if v.status == "breach" else v.status, show(v.value, v.unit),
              f"{v.comparison} {show(v.threshold, v.unit)}", v.alert or "") for v in verdicts]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)
