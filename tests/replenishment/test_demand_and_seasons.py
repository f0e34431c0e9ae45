"""Demand curves from quantiles, the newsvendor quantity, and the seasonal order-by date."""

from __future__ import annotations

from datetime import date

import pytest

from kernel.seasons import season_window
from replenishment.demand import critical_ratio, demand_curve, newsvendor_quantity
from replenishment.seasons import next_season, order_by_date, seasonal_decision
from restock.settings import load_settings

QUANTILES = (60.0, 100.0, 130.0, 150.0, 170.0, 210.0)


def test_newsvendor_quantity_is_the_demand_quantile_at_the_critical_ratio() -> None:
    # Cu = 100 − 40 = 60; Co = 40 − 10 + 5 = 35 → ratio 60/95
    ratio = critical_ratio(price=100, unit_cost=40, holding=5, salvage=10)
    assert ratio == pytest.approx(60 / 95)
    quantity = newsvendor_quantity(QUANTILES, price=100, unit_cost=40, holding=5, salvage=10)
    # 0.6316 lies between q50 = 100 and q80 = 130 on the linear CDF
    assert quantity == pytest.approx(100 + (60 / 95 - 0.5) / 0.3 * 30)
    assert demand_curve(QUANTILES).cdf_at(quantity) == pytest.approx(ratio)


def test_critical_ratio_of_exactly_080_lands_on_q80() -> None:
    # Cu = 80, Co = 20 → 0.8
    assert newsvendor_quantity(QUANTILES, price=100, unit_cost=20, holding=0, salvage=0) == pytest.approx(130)


def test_expected_sales_is_concave_and_bounded_by_stock_and_mean() -> None:
    curve = demand_curve(QUANTILES)
    values = [curve.expected_sales(y) for y in range(0, 300, 10)]
    steps = [b - a for a, b in zip(values, values[1:], strict=False)]
    assert all(later <= earlier + 1e-9 for earlier, later in zip(steps, steps[1:], strict=False))
    assert all(v <= y + 1e-9 for v, y in zip(values, range(0, 300, 10), strict=True))
    assert values[-1] == pytest.approx(curve.mean)
    # the chords the MILP uses never exceed the exact curve (concavity)
    assert all(curve.expected_sales_chord(y) <= curve.expected_sales(y) + 1e-9 for y in range(0, 300, 7))


def test_down_jacket_order_by_date_from_product_worked_example() -> None:
    assert order_by_date(date(2026, 11, 15), prebuild_days=45, lead_time_days=30) == date(2026, 9, 1)


@pytest.mark.parametrize(
    ("week", "mode"),
    [
        (date(2026, 8, 24), "not_yet"),
        (date(2026, 8, 31), "prebuild"),  # the last Monday that can place it
        (date(2026, 9, 7), "in_season"),  # late: buys only what arrives before season end
        (date(2027, 1, 4), "in_season"),  # across the year boundary, still winter 2026/27
        (date(2027, 2, 1), "too_late"),  # 30-day lead time: would arrive after 28 Feb
    ],
)
def test_down_jacket_decision_by_week_across_the_year_boundary(week: date, mode: str) -> None:
    winter = load_settings().seasons["winter"]
    season = next_season(week, lambda year: season_window(winter, year))
    assert season == (date(2026, 11, 15), date(2027, 2, 28))
    decision = seasonal_decision(week, 7, season, prebuild_days=45, lead_time_days=30)
    assert decision.mode == mode
    assert decision.order_by == date(2026, 9, 1)


def test_after_winter_ends_the_next_winter_is_planned() -> None:
    winter = load_settings().seasons["winter"]
    week = date(2027, 3, 1)
    season = next_season(week, lambda year: season_window(winter, year))
    assert season == (date(2027, 11, 15), date(2028, 2, 29))
    assert seasonal_decision(week, 7, season, 45, 30).mode == "not_yet"


def test_the_pre_build_covers_demand_from_the_proposal_week_to_season_end() -> None:
    # Today's stock also serves the pre-season weeks (on the shelf from 1 Oct, Double 11 on
    # 11 Nov), so the window the order is netted against starts at the proposal, not at 15 Nov.
    decision = seasonal_decision(
        date(2026, 8, 31), 7, (date(2026, 11, 15), date(2027, 2, 28)), prebuild_days=45, lead_time_days=30
    )
    assert (decision.demand_start, decision.demand_end) == (date(2026, 8, 31), date(2027, 2, 28))
