"""`include/freshness/dashboard.yaml`: the dashboard refresh's schedule, late-data window, slice size, deadline."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from dataplatform.paths import include_dir


class DashboardSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schedule: str
    late_data_hours: int = Field(gt=0)
    slice_days: int = Field(gt=0)
    deadline_minutes: int = Field(gt=0)


def spec_path() -> Path:
    return include_dir() / "freshness" / "dashboard.yaml"


@cache
def load() -> DashboardSpec:
    return DashboardSpec.model_validate(yaml.safe_load(spec_path().read_text()))
