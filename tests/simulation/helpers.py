"""Tiny literal businesses for replay tests (no database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import ClassVar

import numpy as np
import pandas as pd

from forecasting.engine import EngineConfig
from replenishment.problem import SupplierItemTerms, SupplierTerms
from simulation.data import AgreementSpec, CategoryInfo, ReplayConfig, ReplayData, SeasonSpec
from simulation.policies import POLICIES, OrderLine, WeekView
from suppliers.rebates import Tier

START = date(2025, 3, 3)  # a Monday
END = date(2025, 3, 30)  # a Sunday: 4 weeks
FIRST_DAY = date(2024, 1, 1)


def daily_sales(
    per_day: dict[str, float | np.ndarray], first: date = FIRST_DAY, last: date = END, seed: int | None = None
) -> pd.DataFrame:
    """Recorded daily sales: constant units per day (or an array per day; Poisson when `seed`)."""
    days = pd.date_range(first, last)
    rng = np.random.default_rng(seed) if seed is not None else None
    frames = []
    for sku, units in per_day.items():
        values = np.broadcast_to(np.asarray(units, dtype=float), (len(days),)).copy()
        if rng is not None:
            values = rng.poisson(values).astype(float)
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": sku,
                    "ds": days,
                    "units": values,
                    "returned_units": 0.0,
                    "fraud_units": 0.0,
                    "stockout": False,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def two_sku_business(sales: pd.DataFrame | None = None) -> ReplayData:
    """A-1: basics, ¥100, from S1 at ¥40 (case 10, lead 7 d). B-1: winter goods, ¥200, from S2
    at ¥90.50 (lead 14 d), winter ends Sunday 16 Mar 2025, salvage 40 %. S1 pays 1 % from ¥1,000
    and 2 % from ¥3,000 of a calendar year's purchases, retroactive."""
    winter = SeasonSpec("winter", 45, {y: (date(y, 11, 15), date(y + 1, 3, 16)) for y in range(2021, 2028)})
    return ReplayData(
        sales=sales if sales is not None else daily_sales({"A-1": 10, "B-1": 3}),
        skus=pd.DataFrame(
            {
                "unique_id": ["A-1", "B-1"],
                "sku_id": [1, 2],
                "group": ["basics", "winter_wear"],
                "name": ["Basic", "Coat"],
                "price": [Decimal("100.00"), Decimal("200.00")],
                "abc_class": ["A", "B"],
                "launch_date": [None, None],
            }
        ),
        categories={
            "basics": CategoryInfo("basics"),
            "winter_wear": CategoryInfo("winter_wear", "winter", None, Decimal("0.40")),
        },
        seasons={"winter": winter},
        items=[
            SupplierItemTerms("A-1", "S1", Decimal("40.0000"), 10, 10, 7),
            SupplierItemTerms("B-1", "S2", Decimal("90.5000"), 1, 1, 14),
        ],
        suppliers=[SupplierTerms("S1", "Supplier one"), SupplierTerms("S2", "Supplier two")],
        agreements=[
            AgreementSpec(
                "AGR-S1",
                "S1",
                "retroactive",
                (Tier(1, Decimal("1000"), Decimal("0.01")), Tier(2, Decimal("3000"), Decimal("0.02"))),
                date(2025, 1, 1),
                date(2025, 12, 31),
            )
        ],
    )


def config(policies: tuple[str, ...], **overrides: object) -> ReplayConfig:
    engine = EngineConfig(
        horizon=182,
        backtest_origins=2,
        events=(),
        smooth_models=("seasonal_naive", "window_average"),
        intermittent_models=("window_average", "sba"),
    )
    values: dict[str, object] = dict(
        start=START,
        end=END,
        policies=policies,
        engine=engine,
        budget=Decimal("100000"),
        time_limit_s=5.0,
        use_promotions=False,
    )
    values.update(overrides)
    return ReplayConfig(**values)  # type: ignore[arg-type]


@dataclass
class FixedOrders:
    """Test policy: places the orders listed per Monday in `SCHEDULE`."""

    name: ClassVar[str] = "fixed_orders"
    label: ClassVar[str] = "fixed"
    description: ClassVar[str] = "the orders of a literal schedule"
    sees_future: ClassVar[bool] = False
    needs_forecast: ClassVar[bool] = False
    SCHEDULE: ClassVar[dict[date, list[OrderLine]]] = {
        START: [OrderLine("A-1", "S1", 100), OrderLine("B-1", "S2", 20)],
        START + timedelta(days=14): [OrderLine("A-1", "S1", 70)],
    }

    def decide(self, view: WeekView) -> list[OrderLine]:
        return list(self.SCHEDULE.get(view.week, []))


class registered:
    """Context manager: `FixedOrders` in the policy registry for the duration."""

    def __enter__(self) -> None:
        POLICIES[FixedOrders.name] = FixedOrders

    def __exit__(self, *exc: object) -> None:
        POLICIES.pop(FixedOrders.name, None)
