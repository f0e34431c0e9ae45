"""The replay's books on a hand-checked case: 2 SKUs over 4 weeks with a literal order schedule."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from simulation.metrics import policy_metrics, totals
from simulation.replay import replay
from tests.simulation.helpers import config, registered, two_sku_business


@pytest.fixture(scope="module")
def fixed_run():
    with registered():
        result = replay(two_sku_business(), config(("fixed_orders",)))
    return result


def test_opening_stock_is_one_protection_interval_of_past_demand(fixed_run) -> None:
    # 10/day × (lead 7 + review 7); B-1: 3/day × (14 + 7)
    assert fixed_run.opening == {"A-1": 140, "B-1": 63}


def test_hand_checked_two_skus_over_four_weeks(fixed_run) -> None:
    weekly = fixed_run.runs["fixed_orders"].weekly.set_index(["sku", "week"])
    a = weekly.loc["A-1"]
    # week 1: 140 − 70; week 2: +100 (ordered 3 Mar, lead 7) − 70; week 3: −70; week 4: +70 (17 Mar + 7) − 70
    assert list(a["start_units"]) == [140, 70, 100, 30]
    assert list(a["received_units"]) == [0, 100, 0, 70]
    assert list(a["sold_units"]) == [70, 70, 70, 70]
    assert list(a["end_units"]) == [70, 100, 30, 30]
    assert a["lost_units"].sum() == 0
    b = weekly.loc["B-1"]
    # week 2 ends with the winter season (16 Mar): 21 units salvaged; the 20 ordered on 3 Mar
    # (lead 14) arrive 17 Mar: 20 of 21 sold, the 7th day short by one; week 4 nothing left
    assert list(b["sold_units"]) == [21, 21, 20, 0]
    assert list(b["salvaged_units"]) == [0, 21, 0, 0]
    assert list(b["lost_units"]) == [0, 0, 1, 21]
    assert list(b["stockout_days"]) == [0, 0, 1, 7]
    assert list(b["end_units"]) == [42, 0, 0, 0]
    row = totals(policy_metrics(fixed_run)).loc["fixed_orders"]
    assert row["revenue"] == Decimal("40400.00")  # 280 × ¥100 + 62 × ¥200
    assert row["cogs"] == Decimal("16811.00")  # 280 × ¥40 + 62 × ¥90.50
    assert row["leftover_value"] == Decimal("1900.50")  # 21 × ¥90.50
    assert row["salvage_proceeds"] == Decimal("760.20")  # 40 %
    assert row["purchase_cost"] == Decimal("8610.00")  # 170 × ¥40 + 20 × ¥90.50
    # S1 bought ¥6,800 this year: tier 2 (from ¥3,000), 2 % of all of it
    assert row["rebate_earned"] == Decimal("136.00")
    assert row["gross_margin"] == Decimal("22448.70")  # 40,400 − 16,811 − (1,900.50 − 760.20)
    assert row["gross_profit_after_rebate"] == Decimal("22584.70")
    assert row["fill_rate"] == round(342 / 364, 4)
    assert row["stockout_days"] == 8
    assert row["lost_sales_value"] == Decimal("4400.00")  # 22 × ¥200
    assert row["closing_value"] == Decimal("1200.00")  # 30 × ¥40
    assert row["opening_value"] == Decimal("11301.50")  # 140 × ¥40 + 63 × ¥90.50


def test_orders_arrive_after_their_suppliers_lead_time(fixed_run) -> None:
    orders = fixed_run.runs["fixed_orders"].orders
    assert [(o.sku, o.placed, o.arrival, o.agreement) for o in orders] == [
        ("A-1", date(2025, 3, 3), date(2025, 3, 10), "AGR-S1"),
        ("B-1", date(2025, 3, 3), date(2025, 3, 17), None),
        ("A-1", date(2025, 3, 17), date(2025, 3, 24), "AGR-S1"),
    ]


def test_rebate_is_shared_among_categories_to_the_fen(fixed_run) -> None:
    metrics = policy_metrics(fixed_run)
    by_category = metrics[metrics["category"] != "(all)"].set_index("category")["rebate_earned"]
    assert by_category.to_dict() == {"basics": Decimal("136.00"), "winter_wear": Decimal("0.00")}
