"""What the watchdog reads, one function per kind of source. Plain Python: clients and connections passed in.

- CloudWatch through `GetMetricData` (the AWS hook's client; the Amazon provider has no metrics hook): plain
  metric queries only, one-minute periods over the window, reduced here (moto answers these but not metric math,
  and an account's alarms-free setup should not depend on it either). `Average` is computed as the sum of the
  periods' Sum over the sum of their SampleCount, which is exact; averaging per-minute averages would not be.
- S3: the newest object under the delivery stream's hourly partitions (`yyyy/MM/dd/HH/`) of the last hours,
  listed per hour prefix, never the whole bucket.
- PostgreSQL: the dashboard's newest order time; the live model version's `went_live_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dataplatform.freshness.watchdog_spec import MetricQuery
from dataplatform.paths import sql_path

PERIOD_SECONDS = 60


@dataclass(frozen=True)
class Measurement:
    """A value in the check's unit; `idle`: nothing to judge (no datapoints: nothing flowed)."""

    value: float | None
    idle: bool
    detail: str


def _window(now: datetime, minutes: int) -> tuple[datetime, datetime]:
    """[start, end) of whole minutes ending with the current minute (included: a datapoint just put counts)."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return end - timedelta(minutes=minutes), end


def metric_values(cloudwatch: Any, query: MetricQuery, dimensions: dict[str, str], statistic: str,
                  now: datetime) -> list[float]:
    """The per-minute values of one statistic over the query's window (empty: no datapoints)."""
    start, end = _window(now, query.window_minutes)
    request: dict[str, Any] = {
        "MetricDataQueries": [{
            "Id": "m",
            "MetricStat": {
                "Metric": {"Namespace": query.namespace, "MetricName": query.metric,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]},
                "Period": PERIOD_SECONDS,
                "Stat": statistic,
            },
            "ReturnData": True,
        }],
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampDescending",
    }
    values: list[float] = []
    while True:
        page = cloudwatch.get_metric_data(**request)
        for result in page["MetricDataResults"]:
            values += [float(v) for v in result.get("Values", [])]
        if not page.get("NextToken"):
            return values
        request["NextToken"] = page["NextToken"]


def metric(cloudwatch: Any, query: MetricQuery, dimensions: dict[str, str], statistic: str,
           now: datetime) -> Measurement:
    """The statistic over the whole window; idle when the metric has no datapoint in it."""
    where = f"{query.namespace} {query.metric} {dimensions} over the last {query.window_minutes} min"
    if statistic == "Average":
        sums = metric_values(cloudwatch, query, dimensions, "Sum", now)
        counts = metric_values(cloudwatch, query, dimensions, "SampleCount", now)
        if not counts or sum(counts) == 0:
            return Measurement(None, True, f"no datapoints: {where}")
        return Measurement(sum(sums) / sum(counts), False,
                           f"Average of {int(sum(counts))} datapoints: {where}")
    values = metric_values(cloudwatch, query, dimensions, statistic, now)
    if not values:
        return Measurement(None, True, f"no datapoints: {where}")
    reduce = {"Maximum": max, "Minimum": min, "Sum": sum, "SampleCount": sum}[statistic]
    return Measurement(float(reduce(values)), False, f"{statistic} of {len(values)} one-minute periods: {where}")


def hour_prefixes(now: datetime, hours: int) -> list[str]:
    """`yyyy/MM/dd/HH/` of the current hour and the `hours - 1` before it, newest first."""
    top = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [(top - timedelta(hours=h)).strftime("%Y/%m/%d/%H/") for h in range(hours)]


def newest_object_age(s3: Any, bucket: str, now: datetime, lookback_hours: int) -> Measurement:
    """Seconds since the newest object of the last `lookback_hours` hourly partitions was written; no value when
    there is none. Error outputs (`processing-failed/`, ...) are other prefixes and never counted."""
    newest: datetime | None = None
    for prefix in hour_prefixes(now, lookback_hours):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if newest is None or item["LastModified"] > newest:
                    newest = item["LastModified"]
    where = f"s3://{bucket}/ partitions of the last {lookback_hours} h"
    if newest is None:
        return Measurement(None, False, f"no object in {where}")
    return Measurement(max(0.0, (now - newest).total_seconds()), False,
                       f"newest object {newest:%Y-%m-%d %H:%M:%S}Z in {where}")


def dashboard_age(newest: datetime | None, now: datetime) -> Measurement:
    """Now minus the dashboard's newest aggregated order time (`sales_table.dashboard_freshness`)."""
    if newest is None:
        return Measurement(None, False, "analytics.sales_hourly has no data")
    return Measurement(max(0.0, (now - newest).total_seconds()), False,
                       f"newest aggregated order at {newest.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z")


def live_model_age(pg: Any) -> Measurement:
    """Now minus `went_live_at` of the live model version; no value when none is live (or no vector store yet)."""
    if pg.execute("SELECT to_regclass('model_versions') IS NULL").fetchone()[0]:
        return Measurement(None, False, "no vector store yet (model_versions missing)")
    row = pg.execute(sql_path("select_live_model_age.sql").read_text()).fetchone()
    if row is None:
        return Measurement(None, False, "no live model version")
    version, went_live_at, age = row
    return Measurement(float(age), False, f"live version {version}, live since {went_live_at:%Y-%m-%d %H:%M}Z")
