"""The proposal MILP on tiny hand-checked instances (the ¥1.9M → ¥2M rebate example, docs/design-notes.md)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from replenishment import optimize
from replenishment.problem import SupplierTerms
from replenishment.reasons import ReasonCode
from tests.replenishment.builders import agreement, item, problem, sku

SUPPLIER_A_TIERS = [(1_000_000, 0.02), (2_000_000, 0.035)]


def units_of(plan, code: str) -> int:  # type: ignore[no-untyped-def]
    return sum(line.units for line in plan.lines if line.sku == code)


def test_a_few_more_cases_are_bought_because_the_rebate_beats_holding_cost() -> None:
    # 800 units of need = ¥80,000 → period ends at ¥1.98M (tier 1, 2 %). Two more cases
    # (¥20,000) reach ¥2.0M: +¥30,400 rebate against ~¥770 of holding on 200 units.
    plan = optimize(
        problem(
            [sku("TEE", 200, 800)],
            [item("TEE", "A", 100, case=100)],
            [agreement("A", SUPPLIER_A_TIERS, 1_900_000)],
        )
    )
    (line,) = plan.lines
    assert line.units == 1000 and line.cases == 10
    raised = next(r for r in line.reasons if r.code == ReasonCode.RAISED_TO_TIER)
    assert raised.params == {
        "from_units": 800,
        "to_units": 1000,
        "agreement": "A-2026",
        "tier": 2,
        "tier_without": 1,
        "rebate_share": "32000.00",  # the only line: the whole gain of the proposal
    }
    assert plan.rebate_gain == Decimal("32000.00")  # 70,000 at ¥2.0M − 38,000 already earned at ¥1.9M
    (summary,) = plan.agreements
    assert (summary.purchases_before, summary.purchases_after) == (Decimal("1900000"), Decimal("2000000"))
    assert (summary.tier_before, summary.tier_after) == (1, 2)
    assert (summary.period_rebate, summary.gain) == (Decimal("70000.00"), Decimal("32000.00"))
    assert line.rebate_share == Decimal("32000.00")
    assert plan.suppliers[0].tier_reached == 2
    assert line.effective_unit_cost == Decimal("96.5000")


def test_mirror_no_raise_when_the_extra_goods_would_cost_more_than_the_rebate() -> None:
    # A seasonal buy with no salvage: need 300 units (¥30,000 → ¥1.93M). Reaching ¥2.0M
    # needs ¥70,000 more goods that will not sell (lost at season end) for +¥31,400 rebate.
    plan = optimize(
        problem(
            [sku("SCARF", 200, 300, mode="prebuild", salvage_rate="0")],
            [item("SCARF", "A", 100, case=100)],
            [agreement("A", SUPPLIER_A_TIERS, 1_900_000)],
        )
    )
    (line,) = plan.lines
    assert line.units == 300
    assert ReasonCode.RAISED_TO_TIER not in {r.code for r in line.reasons}
    assert plan.suppliers[0].tier_reached == 1
    assert plan.rebate_gain == Decimal("600.00")  # 2 % of ¥30,000


def test_moq_is_all_or_nothing() -> None:
    # need 50 units, MOQ 200 in cases of 10: a non-seasonal SKU carries the extra on,
    # a seasonal one with no salvage would lose 150 × ¥10 for 50 × ¥20 margin: not bought.
    carried = optimize(problem([sku("CUP", 50, 50)], [item("CUP", "A", 10, moq=200, case=10)]))
    assert units_of(carried, "CUP") == 200
    lost = optimize(
        problem(
            [sku("LANTERN", 30, 50, mode="prebuild", salvage_rate="0")],
            [item("LANTERN", "A", 10, moq=200, case=10)],
        )
    )
    assert units_of(lost, "LANTERN") == 0
    (excluded,) = [e for e in lost.exclusions if e.sku == "LANTERN"]
    assert excluded.code == ReasonCode.MOQ_ABOVE_NEED
    assert excluded.params == {"smallest_order": 200, "supplier": "A", "need": "50.0"}


def test_units_are_whole_case_packs() -> None:
    plan = optimize(problem([sku("SOCK", 30, 95)], [item("SOCK", "A", 10, case=12)]))
    (line,) = plan.lines
    assert (line.units, line.cases) == (96, 8)


def test_margin_floor_excludes_exactly_the_skus_below_it_and_admits_one_only_at_tier_two() -> None:
    skus = [
        sku("FINE", 100, 2000),  # cost 60: 40 % margin, always allowed
        sku("POOR", 100, 100),  # cost 75: 27.6 % even with 3.5 % off — never
        sku("EDGE", 100, 100),  # cost 71.5: 28.5 %, 29.9 % at tier 1, 31.0 % at tier 2
    ]
    items = [item("FINE", "A", 60, case=10), item("POOR", "A", 75), item("EDGE", "A", 71.5)]

    near_tier_two = optimize(problem(skus, items, [agreement("A", SUPPLIER_A_TIERS, 1_900_000)]))
    assert {line.sku for line in near_tier_two.lines} == {"FINE", "EDGE"}
    edge = next(line for line in near_tier_two.lines if line.sku == "EDGE")
    admitted = next(r for r in edge.reasons if r.code == ReasonCode.ADMITTED_BY_TIER)
    assert (admitted.params["tier_needed"], admitted.params["tier_reached"]) == (2, 2)
    assert admitted.params["margin_at_list_pct"] == "28.5"
    assert edge.margin_pct == pytest.approx(31.0, abs=0.01)
    reasons = {e.sku: e for e in near_tier_two.exclusions}
    assert set(reasons) == {"POOR"}
    assert reasons["POOR"].code == ReasonCode.BELOW_MARGIN_FLOOR
    # 75 × (1 − 0.035) = 72.375 → margin 27.6 %
    assert reasons["POOR"].params == {
        "floor_pct": "30.0",
        "margin_pct": "27.6",
        "price": "100.00",
        "best_cost": "72.38",
    }

    far_from_tier_two = optimize(problem(skus, items, [agreement("A", SUPPLIER_A_TIERS, 500_000)]))
    assert {line.sku for line in far_from_tier_two.lines} == {"FINE"}
    reasons = {e.sku: e for e in far_from_tier_two.exclusions}
    assert set(reasons) == {"POOR", "EDGE"}
    assert reasons["EDGE"].code == ReasonCode.BELOW_FLOOR_UNLESS_TIER
    assert (reasons["EDGE"].params["tier_needed"], reasons["EDGE"].params["tier_reached"]) == (2, 0)
    for line in far_from_tier_two.lines + near_tier_two.lines:
        assert line.margin_pct >= 30.0


def test_binding_budget_buys_the_more_profitable_sku_and_stays_within_it() -> None:
    skus = [sku("RICH", 300, 100), sku("THIN", 100, 100)]
    items = [item("RICH", "A", 100, case=10), item("THIN", "B", 65, case=10)]
    plan = optimize(problem(skus, items, budget=10_000))
    assert plan.spend <= Decimal("10000")
    assert units_of(plan, "RICH") == 100
    assert units_of(plan, "THIN") == 0
    (excluded,) = [e for e in plan.exclusions if e.sku == "THIN"]
    assert excluded.code == ReasonCode.BUDGET
    assert excluded.params["budget"] == "10000.00"


def test_category_budget_and_capacity_bind() -> None:
    skus = [sku("RICH", 300, 100), sku("THIN", 100, 100, category="kitchen")]
    items = [item("RICH", "A", 100, case=10), item("THIN", "B", 60, case=10)]
    plan = optimize(problem(skus, items, category_budgets={"basics": Decimal("5000")}, capacity_units=120))
    assert units_of(plan, "RICH") == 50
    assert units_of(plan, "THIN") == 70


def test_supplier_minimum_order_value_is_all_or_nothing() -> None:
    suppliers = [SupplierTerms("A", "Supplier A", Decimal("50000"))]
    plan = optimize(problem([sku("TEE", 200, 100)], [item("TEE", "A", 100)], suppliers=suppliers))
    assert plan.spend == 0 or plan.spend >= Decimal("50000")


def test_infeasible_committed_orders_are_diagnosed_and_a_relaxed_proposal_is_produced() -> None:
    # 500 units promised to customers that are not in stock; the budget pays for 100.
    plan = optimize(
        problem(
            [sku("TEE", 200, 600, on_hand=0, committed=500)], [item("TEE", "A", 100, case=10)], budget=10_000
        )
    )
    assert plan.status == "relaxed"
    assert plan.spend == Decimal("10000.00")
    (message,) = [m for m in plan.messages if m.startswith("infeasible")]
    assert "SKU TEE are 400 units short" in message and "budget ¥10,000" in message


def test_bad_input_names_the_sku_supplier_and_field_and_the_rest_still_builds() -> None:
    skus = [
        sku("GOOD", 100, 100),
        sku("FREE", 0, 100),
        sku("NOCOST", 100, 100),
        sku("NOCASE", 100, 100),
        sku("NOFORECAST", 100, 100),
    ]
    skus[4] = replace(skus[4], demand_quantiles=(1.0, 2.0))
    items = [
        item("GOOD", "A", 50),
        item("FREE", "A", 50),
        item("NOCOST", "A", 0),
        item("NOCASE", "A", 50, case=0),
        item("NOFORECAST", "A", 50),
    ]
    broken = agreement("A", [(2_000_000, 0.02), (1_000_000, 0.035)], 0)
    plan = optimize(problem(skus, items, [broken]))
    assert [line.sku for line in plan.lines] == ["GOOD"]
    reasons = {(e.sku, e.supplier): e for e in plan.exclusions}
    fields = {key: (e.code, e.params["field"]) for key, e in reasons.items()}
    assert fields[("FREE", None)] == (ReasonCode.INVALID_INPUT, "price")
    assert fields[("NOCOST", "A")] == (ReasonCode.INVALID_TERMS, "supplier A: unit_cost")
    assert fields[("NOCASE", "A")] == (ReasonCode.INVALID_TERMS, "supplier A: case_pack")
    assert fields[("NOCOST", None)] == (ReasonCode.INVALID_TERMS, "supplier items")
    assert fields[("NOFORECAST", None)] == (ReasonCode.INVALID_INPUT, "demand_quantiles")
    assert any(
        "agreement A-2026: tier 2 threshold: tiers overlap or are unordered" in m for m in plan.messages
    )


def test_solver_failure_falls_back_to_the_greedy_proposal(monkeypatch: pytest.MonkeyPatch) -> None:
    import replenishment.optimizer as core

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(core, "solve_milp", broken)
    plan = optimize(problem([sku("TEE", 200, 95)], [item("TEE", "A", 100, case=10)]))
    assert plan.status == "fallback"
    assert units_of(plan, "TEE") == 100
    assert any("solver highs failed: RuntimeError: solver crashed" in m for m in plan.messages)


def test_cbc_and_highs_agree_on_a_small_instance() -> None:
    p = problem(
        [sku("TEE", 200, 800), sku("EDGE", 100, 300)],
        [item("TEE", "A", 100, case=100), item("EDGE", "A", 71.5, case=10)],
        [agreement("A", SUPPLIER_A_TIERS, 1_900_000)],
    )
    highs, cbc = optimize(p, solver="highs"), optimize(p, solver="cbc")
    assert cbc.solver == "cbc" and highs.solver == "highs"
    assert cbc.expected_profit == highs.expected_profit


def test_each_line_shows_its_own_share_of_the_agreements_gain_never_the_whole_gain() -> None:
    # two SKUs of supplier A worth ¥60,000 and ¥40,000 take the agreement from ¥1.9M to ¥2.0M
    plan = optimize(
        problem(
            [sku("TEE", 200, 600), sku("CAP", 200, 400)],
            [item("TEE", "A", 100, case=100), item("CAP", "A", 100, case=100)],
            [agreement("A", SUPPLIER_A_TIERS, 1_900_000)],
        )
    )
    shares = {line.sku: line.rebate_share for line in plan.lines}
    values = {line.sku: line.value for line in plan.lines}
    (summary,) = plan.agreements
    assert sum(shares.values()) == summary.gain == plan.rebate_gain
    for code, share in shares.items():
        assert abs(share - summary.gain * values[code] / sum(values.values())) <= Decimal("0.01")
        assert share < summary.gain


def test_cut_by_budget_only_where_the_budget_cut_the_line() -> None:
    # LOW: need 70 (order-up-to in cases of 10); without any budget the line buys 60 (the
    # 7th case does not pay). HIGH: 200 units at ¥100. Spend without a budget: ¥23,600.
    skus = [
        sku("LOW", 100, (50, 62, 70, 74, 78, 85), mode="prebuild", salvage_rate="0.3"),
        sku("HIGH", 300, 200),
    ]
    items = [item("LOW", "A", 60, case=10), item("HIGH", "A", 100, case=10)]

    def cuts(budget: int | None) -> tuple[int, list[tuple[ReasonCode, object, object]]]:
        plan = optimize(problem(skus, items, budget=budget))
        low = next(line for line in plan.lines if line.sku == "LOW")
        return low.units, [
            (r.code, r.params["from_units"], r.params["to_units"])
            for r in low.reasons
            if r.code in (ReasonCode.CUT_BY_BUDGET, ReasonCode.CUT_BY_PROFIT)
        ]

    assert cuts(None) == (60, [(ReasonCode.CUT_BY_PROFIT, 70, 60)])
    # ¥23,900 binds (no further case fits) but cuts nothing: still the profit's cut, not the budget's
    assert cuts(23_900) == (60, [(ReasonCode.CUT_BY_PROFIT, 70, 60)])
    # ¥23,000 cuts LOW from the 60 it buys without a budget to 50
    assert cuts(23_000) == (50, [(ReasonCode.CUT_BY_PROFIT, 70, 60), (ReasonCode.CUT_BY_BUDGET, 60, 50)])
