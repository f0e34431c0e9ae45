"""What a forecast run reads from the configuration: `[forecasting]`, `[calendar]` and the seasons.

The shell (`restock.settings`) reads and validates the file and hands a `ForecastSettings` to the
services; nothing in forecasting reads the whole settings object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from forecasting.columns import QUANTILE_LEVELS
from kernel.seasons import SeasonSettings


class ForecastingSettings(BaseModel):
    """`[forecasting]`: horizon, backtest, selection metric, stored quantiles, executor."""

    model_config = ConfigDict(extra="forbid")

    horizon_days: int = Field(182, ge=7, le=731)
    backtest_origins: int = Field(3, ge=1, le=20)
    selection_metric: Literal["mase", "wape", "rmsse"] = "mase"
    quantiles: list[float] = Field(default_factory=lambda: list(QUANTILE_LEVELS))
    executor: Literal["serial", "process", "dask"] = "process"
    chunk_size: int = Field(500, ge=1)
    returns_as_demand: bool = False

    @field_validator("quantiles")
    @classmethod
    def _quantiles(cls, value: list[float]) -> list[float]:
        if any(not 0 < q < 1 for q in value) or sorted(set(value)) != value:
            raise ValueError(f"quantiles must be strictly increasing in (0, 1), got {value}")
        return value


class CalendarSettings(BaseModel):
    """`[calendar]`: which events (and the promotions table) the forecast models."""

    model_config = ConfigDict(extra="forbid")

    spring_festival: bool = True
    qingming: bool = True
    labour_day: bool = True
    dragon_boat: bool = True
    mid_autumn: bool = True
    national_day: bool = True
    e618: bool = True
    double_11: bool = True
    double_12: bool = True
    member_day: bool = True
    promotions: bool = True


@dataclass(frozen=True, kw_only=True)
class ForecastSettings:
    """The sections a forecast run reads; `seasons` gives festival categories their anchor."""

    forecasting: ForecastingSettings = field(default_factory=ForecastingSettings)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    seasons: Mapping[str, SeasonSettings] = field(default_factory=dict)
