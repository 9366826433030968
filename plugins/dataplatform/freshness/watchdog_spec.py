"""`include/freshness/watchdog.yaml`: the watchdog's checks and thresholds, validated into typed objects.

Dimension values and bucket names in the file name a platform setting (`dataplatform.config.Settings`
attribute, e.g. `activity_stream`), resolved when a check runs: the file holds no environment's names.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dataplatform.paths import include_dir

Unit = Literal["milliseconds", "seconds", "count", "ratio"]
Statistic = Literal["Maximum", "Minimum", "Sum", "Average", "SampleCount"]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Check(_Spec):
    name: str = ""
    breach_above: float | None = None
    breach_below: float | None = None
    unit: Unit
    runbook: str

    @model_validator(mode="after")
    def _one_threshold(self) -> _Check:
        if (self.breach_above is None) == (self.breach_below is None):
            raise ValueError("give exactly one of breach_above, breach_below")
        return self

    @property
    def threshold(self) -> float:
        return self.breach_above if self.breach_above is not None else self.breach_below  # type: ignore[return-value]

    @property
    def comparison(self) -> Literal["above", "below"]:
        return "above" if self.breach_above is not None else "below"

    def breaches(self, value: float) -> bool:
        return value > self.threshold if self.comparison == "above" else value < self.threshold


class MetricQuery(_Spec):
    namespace: str
    metric: str
    dimensions: dict[str, str]
    """dimension name -> the Settings attribute holding its value"""
    window_minutes: int = Field(gt=0)
    statistic: Statistic = "SampleCount"

    def resolved_dimensions(self, settings: Any) -> dict[str, str]:
        return {name: str(getattr(settings, attribute)) for name, attribute in self.dimensions.items()}


class CloudWatchCheck(_Check, MetricQuery):
    source: Literal["cloudwatch"]
    statistic: Statistic


class DashboardCheck(_Check):
    source: Literal["dashboard"]


class NewestObjectCheck(_Check):
    source: Literal["newest_object"]
    bucket: str
    """the Settings attribute naming the bucket"""
    lookback_hours: int = Field(gt=0)
    active_when: MetricQuery | None = None
    """no datapoint of this metric in its window: the check is idle (nothing flows, so nothing is written)"""


class LiveModelCheck(_Check):
    source: Literal["live_model"]


CheckSpec = Annotated[CloudWatchCheck | DashboardCheck | NewestObjectCheck | LiveModelCheck,
                      Field(discriminator="source")]


class WatchdogSpec(_Spec):
    realert_after_minutes: int = Field(gt=0)
    deadline_minutes: int = Field(gt=0)
    checks: dict[str, CheckSpec]

    @model_validator(mode="after")
    def _named(self) -> WatchdogSpec:
        for name, check in self.checks.items():
            object.__setattr__(check, "name", name)
        return self

    def check(self, name: str) -> CheckSpec:
        return self.checks[name]


def spec_path() -> Path:
    return include_dir() / "freshness" / "watchdog.yaml"


def parse(text: str) -> WatchdogSpec:
    return WatchdogSpec.model_validate(yaml.safe_load(text))


@cache
def load() -> WatchdogSpec:
    return parse(spec_path().read_text())
