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
    # One LightGBM per category across its SKUs (forecasting.global_model), a candidate in the
    # backtest selection beside the statistical models; false = statistical models only.
    global_model: bool = True

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


class BrushingSettings(BaseModel):
    """`[brushing]`: the thresholds of restock's own brushing (刷单) rules over imported orders.

    An order is flagged when the weights of the rules it broke add up to `flag_score`; weak
    signals (a refund pattern, an odd price) only flag together with another rule.
    """

    model_config = ConfigDict(extra="forbid")

    # ip_burst / address_burst: consecutive orders of one key no more than `burst_gap_minutes`
    # apart form a burst; a burst with this many orders and distinct buyers is brushing.
    burst_gap_minutes: float = Field(30.0, gt=0, le=24 * 60)
    burst_min_orders: int = Field(8, ge=2)
    burst_min_buyers: int = Field(3, ge=1)
    # shared_address: this many distinct buyers shipping to one address within a sliding window of days.
    shared_address_days: float = Field(3.0, gt=0, le=366)
    shared_address_min_buyers: int = Field(5, ge=2)
    # identical_baskets: the same multi-line basket (SKUs and units) this often within the window.
    basket_window_hours: float = Field(24.0, gt=0, le=24 * 366)
    basket_min_repeats: int = Field(5, ge=2)
    # refund_pattern: a buyer with this many cancelled/refunded orders, at least this share of theirs.
    refund_window_days: float = Field(30.0, gt=0, le=366)
    refund_min_orders: int = Field(3, ge=2)
    refund_min_share: float = Field(0.6, gt=0, le=1)
    # price_outlier: paid price this many times away from the SKU's median (either way)
    # and this many robust standard deviations (MAD) away in log price.
    price_ratio: float = Field(2.5, gt=1)
    price_robust_z: float = Field(4.0, gt=0)
    price_min_orders: int = Field(20, ge=3)
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "ip_burst": 1.0,
            "address_burst": 1.0,
            "shared_address": 1.0,
            "identical_baskets": 1.0,
            "refund_pattern": 0.5,
            "price_outlier": 0.5,
        }
    )
    flag_score: float = Field(1.0, gt=0)

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        known = {"ip_burst", "address_burst", "shared_address", "identical_baskets", "refund_pattern",
                 "price_outlier"}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"unknown brushing rules {sorted(unknown)} (expected some of {sorted(known)})")
        if any(weight < 0 for weight in value.values()):
            raise ValueError("rule weights must be >= 0")
        return {name: float(value.get(name, 0.0)) for name in sorted(known)}
