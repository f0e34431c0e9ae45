"""What a replay reads: the stored business as frames and dataclasses, and the replay's parameters.

Money is CNY as `Decimal`; dates are business dates. Nothing here touches a
database: `simulation.services` fills these from one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from forecasting.engine import EngineConfig
from replenishment.problem import SupplierItemTerms, SupplierTerms
from replenishment.seasons import next_season
from suppliers.rebates import Tier

# Columns of `ReplayData.sales` (daily, as recorded) and `ReplayData.skus`.
SALES_COLUMNS = ("unique_id", "ds", "units", "returned_units", "fraud_units", "stockout")
SKU_COLUMNS = ("unique_id", "sku_id", "group", "name", "price", "abc_class", "launch_date")


@dataclass(frozen=True)
class SeasonSpec:
    """A selling season: its window (inclusive start, end) by the year it starts in, and pre-build days."""

    name: str
    prebuild_days: int
    windows: Mapping[int, tuple[date, date]]

    def window_of_year(self, year: int) -> tuple[date, date]:
        """The season starting in `year`; `ValueError` when that year was not given."""
        try:
            return self.windows[year]
        except KeyError:
            raise ValueError(f"season {self.name}: no window known for {year}") from None

    def next_window(self, day: date) -> tuple[date, date]:
        """The first season window that has not ended before `day`."""
        return next_season(day, self.window_of_year)

    def ends_in(self, first: date, last: date) -> list[date]:
        """Season end dates falling in [first, last]."""
        return sorted(end for _start, end in self.windows.values() if first <= end <= last)


@dataclass(frozen=True)
class CategoryInfo:
    """A category's season (None = sold all year), pre-build override and salvage rate (× unit cost)."""

    code: str
    season: str | None = None
    prebuild_days: int | None = None
    salvage_rate: Decimal = Decimal("0.5")


@dataclass(frozen=True)
class AgreementSpec:
    """A stored volume-rebate agreement; the replay rolls its period by whole years.

    `purchases_to_date` (CNY) were made from `period_start` to `purchases_as_of`;
    `skus` is its scope (None = every item of the supplier).
    """

    code: str
    supplier: str
    kind: str
    tiers: tuple[Tier, ...]
    period_start: date
    period_end: date
    purchases_to_date: Decimal = Decimal("0")
    purchases_as_of: date | None = None
    skus: tuple[str, ...] | None = None

    def covers(self, sku: str, supplier: str) -> bool:
        return supplier == self.supplier and (self.skus is None or sku in self.skus)


@dataclass
class ReplayData:
    """The business a replay runs on.

    `sales`: daily sales as recorded (`SALES_COLUMNS`; days without a row sold 0).
    `skus`: the SKUs to replay (`SKU_COLUMNS`; `price` Decimal CNY, `group` = category code).
    `items`: active supplier terms; `promotions`: start_date, end_date, sku_id, group (the
    forecasting package's promotion frame).
    """

    sales: pd.DataFrame
    skus: pd.DataFrame
    categories: dict[str, CategoryInfo]
    seasons: dict[str, SeasonSpec]
    items: list[SupplierItemTerms]
    suppliers: list[SupplierTerms]
    agreements: list[AgreementSpec] = field(default_factory=list)
    promotions: pd.DataFrame | None = None

    @property
    def last_day(self) -> date:
        return pd.Timestamp(self.sales["ds"].max()).date()


@dataclass(frozen=True)
class ReplayConfig:
    """A replay's parameters. Dates inclusive; money CNY.

    `refit_weeks`: forecast models are refitted (backtest selection, quantile
    calibration) every `refit_weeks` weeks; in the weeks between, each SKU's level
    is updated from the demand seen since the refit (see `simulation.inputs`).
    1 = a full forecast every week, as the nightly run would. `season_totals`: the
    forecast blends each seasonal SKU's season total as the nightly run does.
    """

    start: date
    end: date
    policies: tuple[str, ...]
    engine: EngineConfig
    margin_floor: float = 0.30
    service_levels: Mapping[str, float] = field(default_factory=lambda: {"A": 0.98, "B": 0.95, "C": 0.90})
    holding_cost_rate_per_year: float = 0.25
    review_period_days: int = 7
    budget: Decimal | None = None
    solver: str = "highs"
    time_limit_s: float = 20.0
    mip_gap: float = 0.01
    refit_weeks: int = 1
    jobs: int = 1
    # per-SKU season totals in the forecast (`forecasting.seasons`), as the nightly run makes them
    season_totals: bool = True
    returns_as_demand: bool = False
    use_promotions: bool = True
    # min/max rule: statistics over the trailing days; max = min + cycle days of demand
    minmax_history_days: int = 56
    minmax_cycle_days: int = 14
    # order-up-to on seasonal naive: trend from the trailing weeks against the same weeks a year back
    naive_trend_weeks: int = 8

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"replay ends ({self.end}) before it starts ({self.start})")
        if self.refit_weeks < 1:
            raise ValueError(f"refit_weeks must be at least 1, got {self.refit_weeks}")
        if not self.policies:
            raise ValueError("a replay needs at least one policy")

    def weeks(self) -> list[date]:
        """Proposal Mondays: the first Monday on or after `start`, then weekly while ≤ `end`."""
        first = self.start + timedelta(days=(7 - self.start.weekday()) % 7)
        out = []
        week = first
        while week <= self.end:
            out.append(week)
            week += timedelta(days=7)
        return out

    def service_level(self, abc_class: str) -> float:
        return float(self.service_levels.get(abc_class, 0.95))
