"""Each brushing rule on a literal case, just at and just below its threshold; scores, clusters, evidence."""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting.brushing import detect_brushing
from forecasting.settings import BrushingSettings

SETTINGS = BrushingSettings()


def _orders(rows: list[dict]) -> pd.DataFrame:
    defaults = {"sku": "S-1", "units": 1, "unit_price": 100.0, "ip": None, "address": None, "status": "paid"}
    frame = pd.DataFrame([{**defaults, **row} for row in rows])
    frame["order_row"] = range(1, len(frame) + 1)
    if "order_id" not in frame:
        frame["order_id"] = [f"O-{i}" for i in frame["order_row"]]
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
    return frame


def _at(minutes: float, day: str = "2026-10-21") -> str:
    return str(pd.Timestamp(f"{day}T06:00:00Z") + pd.Timedelta(minutes=minutes))


def _rules_of(result, order_row: int) -> list[str]:  # type: ignore[no-untyped-def]
    match = result.flags[result.flags["order_row"] == order_row]
    return [] if match.empty else list(match.iloc[0]["rules"])


def test_ip_burst_flags_eight_orders_by_eight_buyers_thirty_minutes_apart_at_most() -> None:
    rows = [{"ordered_at": _at(30 * i), "buyer": f"b{i}", "ip": "ip-1"} for i in range(8)]
    result = detect_brushing(_orders(rows), SETTINGS)
    assert len(result.flags) == 8
    assert all(rules == ["ip_burst"] for rules in result.flags["rules"])
    cluster = result.clusters.iloc[0]
    assert (cluster["orders"], cluster["units"], cluster["rules"]) == (8, 8, {"ip_burst": 8})
    assert cluster["evidence"][0].startswith(
        "ip_burst: 8 orders (8 units) by 8 buyers from IP #ip-1 within 210 min")


def test_ip_burst_needs_the_eighth_order_and_consecutive_gaps_within_the_limit() -> None:
    seven = [{"ordered_at": _at(30 * i), "buyer": f"b{i}", "ip": "ip-1"} for i in range(7)]
    assert detect_brushing(_orders(seven), SETTINGS).flags.empty
    gap_too_long = [{"ordered_at": _at(30 * i + (1 if i >= 4 else 0)), "buyer": f"b{i}", "ip": "ip-1"}
                    for i in range(8)]
    assert detect_brushing(_orders(gap_too_long), SETTINGS).flags.empty


def test_ip_burst_needs_three_distinct_buyers() -> None:
    rows = [{"ordered_at": _at(i), "buyer": f"b{i % 2}", "ip": "ip-1"} for i in range(10)]
    assert detect_brushing(_orders(rows), SETTINGS).flags.empty
    rows[0]["buyer"] = "b9"
    assert len(detect_brushing(_orders(rows), SETTINGS).flags) == 10


def test_address_burst_flags_a_burst_to_one_address() -> None:
    rows = [{"ordered_at": _at(5 * i), "buyer": f"b{i}", "ip": f"ip-{i}", "address": "addr-1"}
            for i in range(8)]
    result = detect_brushing(_orders(rows), SETTINGS)
    assert set(result.flags["rules"].map(tuple)) == {("address_burst", "shared_address")}


def test_shared_address_flags_five_buyers_within_three_days_but_not_four() -> None:
    rows = [{"ordered_at": _at(17 * 60 * i), "buyer": f"b{i}", "ip": f"ip-{i}", "address": "a"}
            for i in range(5)]  # 68 hours from first to last
    result = detect_brushing(_orders(rows), SETTINGS)
    assert len(result.flags) == 5 and all(r == ["shared_address"] for r in result.flags["rules"])
    assert result.clusters.iloc[0]["evidence"][0].startswith(
        "shared_address: 5 distinct buyers shipped 5 orders (5 units) to address #a")
    assert detect_brushing(_orders(rows[:4]), SETTINGS).flags.empty


def test_shared_address_counts_buyers_in_a_sliding_window_not_a_chain_of_orders() -> None:
    # one buyer a day for a week: never five within three days, however long the chain
    rows = [{"ordered_at": _at(0, f"2026-10-{10 + i}"), "buyer": f"b{i}", "address": "a"} for i in range(7)]
    assert detect_brushing(_orders(rows), SETTINGS).flags.empty
    just_over = [dict(row, ordered_at=_at(18 * 60 * i)) for i, row in enumerate(rows[:5])]  # 72 h
    assert len(detect_brushing(_orders(just_over), SETTINGS).flags) == 5
    too_slow = [dict(row, ordered_at=_at(18 * 60 * i + i)) for i, row in enumerate(rows[:5])]  # 72 h 4 min
    assert detect_brushing(_orders(too_slow), SETTINGS).flags.empty


def test_identical_multi_line_baskets_repeated_five_times_are_flagged() -> None:
    rows = []
    for i in range(5):
        for sku in ("S-1", "S-2"):
            rows.append({"order_id": f"B-{i}", "ordered_at": _at(60 * i), "buyer": f"b{i}", "sku": sku})
    result = detect_brushing(_orders(rows), SETTINGS)
    assert len(result.flags) == 10
    assert result.clusters.iloc[0]["orders"] == 5 and result.clusters.iloc[0]["units"] == 10
    assert "basket S-1×1+S-2×1 ordered 5 times by 5 buyers" in result.clusters.iloc[0]["evidence"][0]
    # four repeats, or single-line baskets however many, are not brushing by themselves
    assert detect_brushing(_orders(rows[:8]), SETTINGS).flags.empty
    singles = [{"ordered_at": _at(i), "buyer": f"b{i}"} for i in range(30)]
    assert detect_brushing(_orders(singles), SETTINGS).flags.empty


def test_a_refund_pattern_or_an_odd_price_alone_flags_nothing_but_together_they_do() -> None:
    usual = [{"ordered_at": _at(600 * i), "buyer": f"u{i}", "unit_price": 100.0} for i in range(25)]
    refunds = [{"ordered_at": _at(700 * i + 1), "buyer": "r", "status": "refunded", "unit_price": 100.0}
               for i in range(3)]
    result = detect_brushing(_orders(usual + refunds), SETTINGS)
    assert result.flags.empty  # refund_pattern weighs 0.5
    cheap = [dict(row, unit_price=39.0) for row in refunds]  # 100 / 39 = 2.56 ≥ 2.5
    result = detect_brushing(_orders(usual + cheap), SETTINGS)
    assert len(result.flags) == 3
    assert all(rules == ["refund_pattern", "price_outlier"] for rules in result.flags["rules"])
    assert set(result.flags["score"]) == {1.0}
    just_inside = [dict(row, unit_price=41.0) for row in refunds]  # 100 / 41 = 2.44 < 2.5
    assert detect_brushing(_orders(usual + just_inside), SETTINGS).flags.empty


def test_refund_pattern_needs_sixty_percent_of_the_buyers_orders() -> None:
    settings = BrushingSettings(weights={**SETTINGS.weights, "refund_pattern": 1.0})
    bad = [{"ordered_at": _at(10 * i), "buyer": "r", "status": "cancelled"} for i in range(3)]
    good = [{"ordered_at": _at(10 * i + 5), "buyer": "r"} for i in range(2)]
    assert len(detect_brushing(_orders(bad + good), settings).flags) == 3  # 3 of 5 = 60 %
    assert detect_brushing(_orders(bad + good + good[:1]), settings).flags.empty  # 3 of 6


def test_groups_sharing_an_order_are_one_cluster_and_names_do_not_depend_on_row_order() -> None:
    ring = [{"ordered_at": _at(i), "buyer": f"b{i}", "ip": "ip-1", "address": "a" if i < 4 else "z"}
            for i in range(8)]
    drip = [{"ordered_at": _at(2000 + 60 * i), "buyer": f"c{i}", "ip": f"x{i}", "address": "a"}
            for i in range(2)]
    frame = _orders(ring + drip)
    result = detect_brushing(frame, SETTINGS)
    assert result.flags["cluster"].nunique() == 1
    shuffled = detect_brushing(frame.sample(frac=1.0, random_state=3), SETTINGS)
    pd.testing.assert_frame_equal(result.flags, shuffled.flags)


@pytest.mark.parametrize("rows", [[], [{"ordered_at": _at(0), "buyer": "b", "ip": "i", "address": "a"}]])
def test_empty_and_single_order_inputs_flag_nothing(rows: list[dict]) -> None:
    frame = _orders(rows) if rows else pd.DataFrame(
        columns=["order_row", "order_id", "sku", "ordered_at", "units", "unit_price", "buyer", "ip",
                 "address", "status"])
    result = detect_brushing(frame, SETTINGS)
    assert result.flags.empty and result.clusters.empty
