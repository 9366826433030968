"""The service metrics the local runners publish to CloudWatch (moto), under AWS's own namespaces and names,
so the watchdog reads the same metrics locally as in an account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_DATUMS_PER_CALL = 150
"""PutMetricData takes up to 1,000 metrics per call (and 1 MB); stay well inside."""


@dataclass
class MetricsSink:
    """Collects datapoints and sends them with `flush()` (the runner flushes after each delivery and at the end)."""

    cloudwatch: Any
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, namespace: str, name: str, value: float, unit: str, dimensions: dict[str, str],
            at: datetime | None = None) -> None:
        self.pending.setdefault(namespace, []).append({
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            "Timestamp": at or datetime.now(UTC),
            "Value": float(value),
            "Unit": unit,
        })

    def flush(self) -> int:
        sent = 0
        for namespace, data in self.pending.items():
            for start in range(0, len(data), MAX_DATUMS_PER_CALL):
                chunk = data[start:start + MAX_DATUMS_PER_CALL]
                self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)
                sent += len(chunk)
        self.pending.clear()
        return sent
