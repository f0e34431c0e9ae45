"""Every registered policy on a tiny noisy business: stock and money identities, the same demand
for all, no peeking past the as-of date, determinism."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from simulation.metrics import METRIC_COLUMNS, TOTAL, policy_metrics
from simulation.policies import POLICIES, policy_names
from simulation.replay import replay
from tests.simulation.helpers import config, daily_sales, two_sku_business

SPIKE_DAY = date(2025, 3, 19)  # Wednesday of week 3: seen first by the proposal of 24 Mar


def _sales(spike: bool = False) -> pd.DataFrame:
    sales = daily_sales({"A-1": 10, "B-1": 3}, seed=3)
    if spike:
        hit = (sales["unique_id"] == "A-1") & (sales["ds"] == pd.Timestamp(SPIKE_DAY))
        sales.loc[hit, "units"] = 400.0
    return sales


@pytest.fixture(scope="module")
def every_policy():
    cfg = config(tuple(policy_names()), refit_weeks=2)
    return replay(two_sku_business(_sales()), cfg)


@pytest.fixture(scope="module")
def spiked():
    cfg = config(tuple(policy_names()), refit_weeks=2)
    return replay(two_sku_business(_sales(spike=True)), cfg)


def test_every_registered_policy_ran(every_policy) -> None:
    assert list(every_policy.runs) == policy_names()
    assert {
        "restock",
        "restock_no_rebates",
        "restock_no_margin_floor",
        "min_max",
        "seasonal_naive_out",
        "perfect_foresight",
    } <= set(every_policy.runs)
    assert all(run.orders for run in every_policy.runs.values()), "every policy should buy something"


def test_stock_identity_holds_every_week_for_every_sku(every_policy) -> None:
    for name, run in every_policy.runs.items():
        w = run.weekly
        assert (
            w["start_units"] + w["received_units"] - w["sold_units"] - w["salvaged_units"] == w["end_units"]
        ).all(), name
        assert (
            w["start_value"] + w["received_value"] - w["cogs"] - w["salvage_cost"] == w["end_value"]
        ).all()
        assert (w["sold_units"] + w["lost_units"] == w["demand_units"]).all()
        assert (w["end_units"] >= 0).all()
        for _sku, rows in w.sort_values("week").groupby("sku"):
            assert list(rows["start_units"].iloc[1:]) == list(rows["end_units"].iloc[:-1])
            assert list(rows["start_value"].iloc[1:]) == list(rows["end_value"].iloc[:-1])


def test_cash_and_margin_reconcile_to_the_fen(every_policy) -> None:
    metrics = policy_metrics(every_policy)
    money = [c for c in METRIC_COLUMNS if isinstance(metrics[c].iloc[0], Decimal)]
    for _, row in metrics.iterrows():
        assert row["gross_margin"] == row["revenue"] - row["cogs"] - (
            row["leftover_value"] - row["salvage_proceeds"]
        )
        assert row["gross_profit_after_rebate"] == row["gross_margin"] + row["rebate_earned"]
        assert row["cash"] == (
            row["revenue"] + row["salvage_proceeds"] + row["rebate_earned"] - row["purchase_cost"]
        )
        # profit = cash + stock still held (at cost) − stock held at the start
        assert row["gross_profit_after_rebate"] == (
            row["cash"] + row["closing_value"] + row["in_transit_value"] - row["opening_value"]
        )
        assert row["purchase_cost"] == row["received_cost"] + row["in_transit_value"]
    for _policy, rows in metrics.groupby("policy"):
        parts, total = rows[rows["category"] != TOTAL], rows[rows["category"] == TOTAL].iloc[0]
        for column in money:
            if column in ("avg_inventory_value", "holding_cost"):
                continue  # averages: rounded per row
            assert sum(parts[column], Decimal(0)) == total[column], column


def test_every_policy_sells_against_the_same_demand(every_policy) -> None:
    demands = [run.weekly.set_index(["week", "sku"])["demand_units"] for run in every_policy.runs.values()]
    for other in demands[1:]:
        pd.testing.assert_series_equal(demands[0], other)


def test_a_spike_after_the_cutoff_moves_nothing_decided_before_it(every_policy, spiked) -> None:
    seen_from = date(2025, 3, 24)  # as of Sunday 23 Mar the spike is history

    def decided_before(result, name):  # noqa: ANN001, ANN202
        return [
            (o.placed, o.sku, o.supplier, o.units) for o in result.runs[name].orders if o.placed < seen_from
        ]

    for name in every_policy.runs:
        if POLICIES[name].sees_future:
            # the bound is told the demand to come: the spike reaches it before it happens
            assert decided_before(every_policy, name) != decided_before(spiked, name)
        else:
            assert decided_before(every_policy, name) == decided_before(spiked, name), name
    # the spike is real demand in the replay (so the test could fail): week 3 sold differently
    weekly = every_policy.runs["min_max"].weekly.set_index(["week", "sku"])
    spiked_weekly = spiked.runs["min_max"].weekly.set_index(["week", "sku"])
    week3 = (pd.Timestamp("2025-03-17").date(), "A-1")
    assert spiked_weekly.loc[week3, "demand_units"] > weekly.loc[week3, "demand_units"]


def test_replay_is_deterministic_serial_or_parallel(every_policy) -> None:
    again = replay(two_sku_business(_sales()), replace(every_policy.config, jobs=2))
    for name, run in every_policy.runs.items():
        pd.testing.assert_frame_equal(run.weekly, again.runs[name].weekly)
        assert run.orders == again.runs[name].orders
    pd.testing.assert_frame_equal(policy_metrics(every_policy), policy_metrics(again))
