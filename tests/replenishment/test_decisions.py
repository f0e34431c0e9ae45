"""The per-SKU window decision is a pure function of plain data (no database): literal cases."""

from __future__ import annotations

from datetime import date

from replenishment.decisions import Season, SupplierLead, WindowDecision, decide_window, inventory_on_order
from replenishment.reasons import Reason, ReasonCode

WINTER = Season(name="winter", start=date(2026, 11, 15), end=date(2027, 2, 28), prebuild_days=45)
SUP_A = SupplierLead("SUP-A", 30)  # order by 15 Nov − 45 − 30 = 1 Sep
SUP_J = SupplierLead("SUP-J", 21)  # order by 10 Sep


def test_a_sku_without_an_active_supplier_is_left_out() -> None:
    assert decide_window(date(2026, 8, 31), 7, None, []) == Reason(ReasonCode.NO_SUPPLIER)


def test_a_non_seasonal_sku_covers_the_shortest_lead_time_plus_the_review_period() -> None:
    decision = decide_window(date(2026, 8, 31), 7, None, [SupplierLead("A", 14), SupplierLead("B", 7)])
    assert decision == WindowDecision(
        mode="replenish",
        window_id="protection",
        window_start=date(2026, 8, 31),
        window_end=date(2026, 9, 13),  # 7 + 7 days, inclusive
        suppliers=("A", "B"),
    )


def test_the_last_proposal_before_a_suppliers_order_by_date_places_the_prebuild_with_that_supplier() -> None:
    decision = decide_window(date(2026, 8, 31), 7, WINTER, [SUP_A, SUP_J])
    assert isinstance(decision, WindowDecision)
    assert (decision.mode, decision.suppliers, decision.order_by) == (
        "prebuild",
        ("SUP-A",),
        date(2026, 9, 1),
    )
    assert (decision.window_start, decision.window_end) == (date(2026, 8, 31), date(2027, 2, 28))


def test_a_week_later_the_prebuild_goes_to_the_supplier_whose_order_by_date_falls_in_this_week() -> None:
    decision = decide_window(date(2026, 9, 7), 7, WINTER, [SUP_A, SUP_J])
    assert isinstance(decision, WindowDecision)
    assert (decision.mode, decision.suppliers, decision.order_by) == (
        "prebuild",
        ("SUP-J",),
        date(2026, 9, 10),
    )


def test_too_early_the_reason_names_the_first_order_by_date_and_its_supplier() -> None:
    decision = decide_window(date(2026, 8, 24), 7, WINTER, [SUP_A, SUP_J])
    assert decision == Reason(
        ReasonCode.NOT_YET,
        {"season": "winter", "order_by": "2026-09-01", "supplier": "SUP-A", "lead_time_days": 30},
    )


def test_past_every_order_by_date_the_season_is_topped_up_while_deliveries_arrive_in_time() -> None:
    decision = decide_window(date(2026, 12, 7), 7, WINTER, [SUP_A])
    assert isinstance(decision, WindowDecision)
    assert (decision.mode, decision.window_end) == ("in_season", date(2027, 2, 28))


def test_when_no_delivery_arrives_before_the_season_ends_it_is_too_late() -> None:
    decision = decide_window(date(2027, 2, 15), 7, WINTER, [SUP_A, SUP_J])
    assert decision == Reason(
        ReasonCode.TOO_LATE, {"season": "winter", "season_end": "2027-02-28", "lead_time_days": 21}
    )


def test_only_open_order_lines_arriving_within_the_window_protect_it() -> None:
    lines = [(50, 0, date(2026, 9, 5)), (30, 10, date(2026, 9, 13)), (99, 0, date(2026, 9, 14))]
    assert inventory_on_order(lines, date(2026, 9, 13)) == 50 + 20
    assert inventory_on_order([(10, 12, date(2026, 9, 1))], date(2026, 9, 13)) == 0  # over-received
