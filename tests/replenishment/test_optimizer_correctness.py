"""Issue 12: the four defects an independent brute-force check found, and rules 5, 6 and 8.

Each test builds the shape that went wrong and recomputes what is right from the rules
(exact decimals for money, `brute_force` / `exact_objective` of test_bruteforce for optima).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

import replenishment.optimizer as core
from replenishment import optimize
from replenishment.heuristics import evaluate
from replenishment.instance import prepare
from replenishment.milp import MilpResult
from replenishment.problem import SupplierTerms
from tests.replenishment.builders import agreement, item, problem, sku
from tests.replenishment.test_bruteforce import brute_force, exact_objective, plan_cases


def units_of(plan, code: str) -> int:  # type: ignore[no-untyped-def]
    return sum(line.units for line in plan.lines if line.sku == code)


# --- defect 1: a tier reached to the cent --------------------------------------------------


def _to_the_cent():  # type: ignore[no-untyped-def]
    # 59 cases × ¥3,312.80 (40 × ¥82.82) = ¥195,455.20 takes ¥2,970,437.80 exactly to tier 2
    return problem(
        [sku("TEE", 400, 57 * 40)],
        [item("TEE", "A", 82.82, case=40)],
        [agreement("A", [(1_000_000, 0.02), (3_165_893.00, 0.035)], 2_970_437.80)],
        max_cover_days=35,  # 72 whole cases at most: Φ's chords are exact at each
    )


def test_a_tier_reached_exactly_to_the_cent_counts() -> None:
    p = _to_the_cent()
    instance = prepare(p)
    cases = np.array([59])
    scored = evaluate(instance, cases)
    assert scored.agreement_totals == [Decimal("195455.20")]
    assert instance.agreements[0].tier_after(scored.agreement_totals[0]) == 2
    plan = optimize(p)
    (line,) = plan.lines
    assert line.cases == 59
    assert plan.suppliers[0].tier_reached == 2
    # 3.5 % × ¥3,165,893.00 − 2 % × ¥2,970,437.80 = ¥110,806.255 − ¥59,408.756
    assert plan.rebate_gain == Decimal("51397.50")
    assert plan.status == "optimal"
    assert not any("greedy" in m for m in plan.messages)


def test_rebate_math_takes_no_float() -> None:
    data = prepare(_to_the_cent()).agreements[0]
    with pytest.raises(TypeError):
        data.tier_after(195455.2)  # type: ignore[arg-type]


# --- defect 2: committed orders never dropped -----------------------------------------------


def test_committed_orders_are_covered_when_the_greedy_plan_cannot() -> None:
    # The cheap supplier's MOQ (¥5,000) does not fit the ¥2,000 budget, so the greedy plan
    # skips the promised units and spends on RICH; the dearer supplier can cover them.
    skus = [sku("PROMISED", 60, 50, committed=50), sku("RICH", 300, 400)]
    items = [
        item("PROMISED", "A", 10, case=10, moq=500),
        item("PROMISED", "B", 30, case=10),
        item("RICH", "A", 100, case=10),
    ]
    plan = optimize(problem(skus, items, budget=2_000))
    assert units_of(plan, "PROMISED") >= 50
    assert plan.status == "optimal"
    assert plan.shortfalls == []


@pytest.mark.parametrize(
    ("budget", "moq", "binding", "words"),
    [
        (0, 200, ["budget"], "binding: budget ¥0"),  # not one unit fits: MOQ is not what binds
        (3_000, 500, ["moq", "budget"], "binding: MOQ 500 units from supplier A, budget ¥3,000"),
    ],
)
def test_uncovered_committed_units_name_what_binds(budget, moq, binding, words) -> None:  # type: ignore[no-untyped-def]
    plan = optimize(
        problem([sku("TEE", 40, 60, committed=50)], [item("TEE", "A", 10, case=10, moq=moq)], budget=budget)
    )
    assert plan.status == "relaxed"
    (short,) = plan.shortfalls
    assert (short.sku, short.units, short.binding) == ("TEE", 50, binding)
    assert words in short.detail and short.detail in plan.messages


# --- defect 3: "optimal" only when the increment's gap is proven ----------------------------


def _zero_gain_start():  # type: ignore[no-untyped-def]
    # Stock already covers the SKU (the greedy plan buys nothing); ¥1.2M of stock held
    # inflates the objective. Buying ahead to reach tier 1 pays.
    return problem(
        [sku("HELD", 300, 100, on_hand=4_000), sku("TEE", 200, 100, on_hand=100)],
        [item("HELD", "A", 100, case=10), item("TEE", "A", 100, case=10)],
        [agreement("A", [(60_000, 0.05)], 50_000)],
    )


def test_a_zero_gain_start_still_ends_at_the_optimum() -> None:
    p = _zero_gain_start()
    p.mip_gap = 0.01
    best, nothing = brute_force(p)
    plan = optimize(p)
    value, feasible = exact_objective(p, prepare(p), plan_cases(p, plan))
    assert feasible and best > nothing
    assert value >= best - 0.01 * (best - nothing) - 1.0
    assert plan.status == "optimal" and plan.gap is not None and plan.gap <= 0.01


def test_status_is_feasible_when_the_bound_is_far_above_the_increment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = _zero_gain_start()
    instance = prepare(p)
    nothing = evaluate(instance, np.zeros(len(instance.lines), dtype=np.int64)).objective

    def poor(instance, start):  # type: ignore[no-untyped-def]
        # an incumbent gaining ¥0 with a bound ¥10,000 above ordering nothing: the old rule
        # (gap relative to the whole objective, ~¥1.2M) called this optimal
        return MilpResult(
            np.zeros(len(instance.lines), dtype=np.int64), "Optimal", None, (nothing + 10_000) / 1000, 0.1, {}
        )

    monkeypatch.setattr(core, "_solve_phased", poor)
    monkeypatch.setattr(core, "polish", lambda instance, cases, **_: cases)
    plan = optimize(p)
    assert plan.status == "feasible"
    assert plan.gap is None or plan.gap > 0.01


def test_a_negative_increment_is_never_proposed(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    p = problem([sku("SLOW", 50, 2)], [item("SLOW", "A", 40, case=100)])

    def overbuy(instance, start):  # type: ignore[no-untyped-def]
        cases = np.ones(len(instance.lines), dtype=np.int64)
        return MilpResult(cases, "Optimal", None, None, 0.1, {})

    monkeypatch.setattr(core, "_solve_phased", overbuy)
    plan = optimize(p)
    assert plan.lines == [] and plan.expected_profit == 0
    assert any("ordering nothing kept" in m for m in plan.messages)


# --- defect 4: intermittent demand ------------------------------------------------------------


@pytest.mark.parametrize("quantiles", [(0, 0, 20, 40, 60, 100), (0, 0, 3, 9, 20, 55), (0, 0, 0, 5, 12, 30)])
def test_intermittent_demand_buys_the_exact_optimum(quantiles) -> None:  # type: ignore[no-untyped-def]
    p = problem(
        [sku("RARE", 60, tuple(float(q) for q in quantiles), mode="prebuild", salvage_rate="0.1")],
        [item("RARE", "A", 25)],
    )
    instance = prepare(p)
    s, line = instance.skus[0], instance.lines[0]
    gains = [s.value(u) - u * line.cost for u in range(line.max_cases + 1)]
    plan = optimize(p)
    assert units_of(plan, "RARE") == int(np.argmax(gains))
    assert plan.expected_profit >= 0


# --- rule 5: the margin floor at the rate the purchase earns --------------------------------


def test_incremental_agreement_floor_holds_at_the_rate_the_purchase_earns() -> None:
    # cost ¥73 on a ¥100 price: 27 % at list, needs ≥ 4.11 % back to clear 30 %. Tier 1
    # (8 %, incremental) starts ¥2,000 above the period's ¥10,000: a purchase landing on it
    # earns ¥0, one of ¥7,300 earns 8 % × ¥5,300 = ¥424 = 5.8 % of it.
    plan = optimize(
        problem(
            [sku("EDGE", 100, 40.0), sku("FILL", 100, 20)],
            [item("EDGE", "A", 73, case=10), item("FILL", "A", 50, case=1)],
            [agreement("A", [(12_000, 0.08)], 10_000, kind="incremental")],
        )
    )
    for line in plan.lines:
        assert line.margin_pct >= 30.0
    p = problem(
        [sku("EDGE", 100, 40.0), sku("FILL", 100, 20)],
        [item("EDGE", "A", 73, case=10), item("FILL", "A", 50, case=1)],
        [agreement("A", [(12_000, 0.08)], 10_000, kind="incremental")],
    )
    value, feasible = exact_objective(p, prepare(p), plan_cases(p, plan))
    assert feasible
    assert value >= brute_force(p)[0] - 0.01
    # landing exactly on the threshold with EDGE would earn nothing: never admitted
    landing = np.array([0, 0])
    instance = prepare(p)
    landing[0] = 2_000 // 730 + 1
    from replenishment.heuristics import violations

    assert any("margin floor" in v for v in violations(instance, np.array([2, 0])))


# --- rule 6: over-buying --------------------------------------------------------------------


def test_leftovers_age_so_a_rebate_does_not_buy_unbounded_cover() -> None:
    # ~0.7 units a window; a tier ¥3,000 away would pay ¥1,500 if reached with this SKU alone
    p = problem(
        [sku("SLOW", 200, (0.0, 0.0, 1.0, 2.0, 3.0, 5.0))],
        [item("SLOW", "A", 100, case=1)],
        [agreement("A", [(100_000, 0.015)], 97_000)],
    )
    plan = optimize(p)
    for line in plan.lines:
        assert line.days_of_cover is None or line.days_of_cover <= p.max_cover_days
    s = prepare(p).skus[0]
    # beyond two windows of forecast sales a leftover is worth less and less
    slopes = s.stock_value.slope(np.array([5.0, 20.0, 40.0]))
    assert slopes[0] > slopes[1] > slopes[2]


def test_aging_is_the_exact_integral_of_the_leftover_cost() -> None:
    s = prepare(problem([sku("X", 100, (2.0, 5.0, 8.0, 10.0, 12.0, 16.0))], [item("X", "A", 50)])).skus[0]
    value = s.stock_value
    grid = np.linspace(0, 60, 600_001)
    integrand = value.aging_slope * np.maximum(grid - value.aging_start, 0) * value.cdf(grid)
    numeric = float(np.sum((integrand[1:] + integrand[:-1]) / 2 * np.diff(grid)))
    assert value.aging(np.array([60.0]))[0] == pytest.approx(numeric, rel=1e-6)


# --- rule 7: each supplier option has its own window -------------------------------------

# SPP: ¥100, 14-day protection window (fastest lead 7 d + review 7 d), demand over it
# q10..q99 = 8, 11, 14, 17, 19, 24 units. Supplier A: lead 7 d, ¥60. Supplier C: lead 60 d,
# ¥40 — its goods arrive on day 60, so they cover a window 53 days longer: 67 days, the
# demand quantiles × 67 / 14.
SPP_QUANTILES = (8.0, 11.0, 14.0, 17.0, 19.0, 24.0)


def _spp(on_hand: int, *suppliers: tuple[str, float, int]):  # type: ignore[no-untyped-def]
    return problem(
        [sku("SPP", 100, SPP_QUANTILES, on_hand=on_hand, window_days=14)],
        [item("SPP", code, cost, lead=lead) for code, cost, lead in suppliers],
    )


def test_a_slower_option_covers_its_own_longer_window() -> None:
    instance = prepare(_spp(30, ("A", 60, 7), ("C", 40, 60)))
    own, slow = instance.skus
    assert (own.sku.window_days, slow.sku.window_days) == (14, 67)
    assert slow.sku.demand_quantiles == pytest.approx(tuple(q * 67 / 14 for q in SPP_QUANTILES))
    assert (own.alternatives, slow.alternative_of, slow.extra_lead_days) == ([1], 0, 53)
    assert [instance.lines[k].supplier for k in own.lines] == ["A"]
    assert [instance.lines[k].supplier for k in slow.lines] == ["C"]


def test_a_line_from_a_slow_supplier_shows_the_risk_of_its_own_window() -> None:
    # 30 on hand cover the 14-day window (q99 = 24): nothing is at risk there. Over C's 67
    # days the demand is 38 .. 115 units: 30 on hand leave a stockout certain (P = 1).
    p = _spp(30, ("A", 60, 7), ("C", 40, 60))
    plan = optimize(p)
    (line,) = plan.lines
    assert line.supplier == "C"
    slow = prepare(p).skus[1]
    assert line.stockout_probability_without == 1.0
    assert line.stockout_probability_with == round(1 - slow.curve.cdf_at(30 + line.units), 4)
    assert line.stockout_probability_with < 0.1
    assert "its own protection window of 67 d (53 d longer than the fastest option's)" in line.reason
    value, feasible = exact_objective(p, prepare(p), plan_cases(p, plan))
    assert feasible and value >= brute_force(p)[0] - 0.01


def test_a_sku_is_bought_within_one_window() -> None:
    from replenishment.heuristics import violations

    p = _spp(0, ("A", 60, 7), ("C", 40, 60))
    instance = prepare(p)
    both = np.array([10, 40])
    assert any("different windows" in v for v in violations(instance, both))
    assert exact_objective(p, instance, both) == (-np.inf, False)
    plan = optimize(p)
    assert len({line.supplier for line in plan.lines}) == 1
    value, feasible = exact_objective(p, instance, plan_cases(p, plan))
    assert feasible and value >= brute_force(p)[0] - 0.01


def test_options_with_the_same_lead_time_share_the_window() -> None:
    instance = prepare(_spp(0, ("A", 60, 7), ("B", 58, 7)))
    assert len(instance.skus) == 1 and len(instance.skus[0].lines) == 2


# --- rule 8: reporting ----------------------------------------------------------------------


def test_tier_reached_shows_the_periods_tier_when_nothing_is_bought_under_the_agreement() -> None:
    plan = optimize(
        problem(
            [sku("TEE", 200, 100)],
            [item("TEE", "A", 100, case=10)],
            [agreement("A", [(1_000_000, 0.02)], 1_500_000, skus=("OTHER",))],
        )
    )
    (summary,) = plan.suppliers
    assert summary.tier_reached == 1 and summary.rebate_gain == 0


def test_overlapping_scopes_count_a_purchase_toward_the_most_specific_agreement() -> None:
    p = problem(
        [sku("TEE", 200, 100), sku("CAP", 200, 100)],
        [item("TEE", "A", 100, case=10), item("CAP", "A", 100, case=10)],
        [
            agreement("A", [(1_000, 0.02)], 0, code="A-ALL"),
            agreement("A", [(1_000, 0.05)], 0, code="A-TEE", skus=("TEE",)),
        ],
    )
    instance = prepare(p)
    by_code = {instance.agreements[a].agreement.code: a for a in range(2)}
    tee, cap = (next(ln for ln in instance.lines if ln.item.sku == code) for code in ("TEE", "CAP"))
    assert tee.agreement == by_code["A-TEE"] and cap.agreement == by_code["A-ALL"]
    assert any(
        "SKU TEE from supplier A is in the scope of agreements A-TEE, A-ALL" in m for m in instance.messages
    )


def test_the_fixed_order_cost_is_per_purchase_order() -> None:
    p = problem(
        [sku("TEE", 200, 100), sku("CAP", 200, 100)],
        [item("TEE", "A", 100, case=10), item("CAP", "A", 100, case=10)],
        fixed_order_cost=Decimal("500"),
    )
    instance = prepare(p)
    both = evaluate(instance, np.array([10, 10]))
    one = evaluate(instance, np.array([10, 0]))
    alone = evaluate(instance, np.array([0, 10]))
    nothing = evaluate(instance, np.array([0, 0]))
    # one purchase order to supplier A either way: one fixed cost
    assert both.expected_profit - nothing.expected_profit == pytest.approx(
        (one.expected_profit - nothing.expected_profit)
        + (alone.expected_profit - nothing.expected_profit)
        + 500
    )


def test_minimum_order_value_keeps_its_supplier_terms() -> None:
    suppliers = [SupplierTerms("A", "Supplier A", Decimal("50000"))]
    plan = optimize(problem([sku("TEE", 200, 100)], [item("TEE", "A", 100)], suppliers=suppliers))
    assert plan.spend == 0 or plan.spend >= Decimal("50000")


@pytest.mark.parametrize(
    "quantiles", [(2.0, 5.0, 8.0, 10.0, 12.0, 16.0), (0.0, 0.0, 3.0, 9.0, 20.0, 55.0), (7.0,) * 6]
)
def test_scalar_and_vectorised_stock_values_agree(quantiles) -> None:  # type: ignore[no-untyped-def]
    s = prepare(problem([sku("X", 100, quantiles)], [item("X", "A", 50)])).skus[0]
    levels = np.linspace(-5, 120, 251)
    assert [s.stock_value.value(y) for y in levels] == pytest.approx(
        list(s.stock_value.values(levels)), abs=1e-9
    )
