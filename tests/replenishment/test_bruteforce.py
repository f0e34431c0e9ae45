"""On tiny random instances, enumerating every integer choice finds the MILP's optimum.

The enumeration shares only the demand chords with the optimizer; tiers, margin
floor, MOQ, budget and minimum order values are checked here from the rules
(suppliers.rebates for tier math).
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replenishment import optimize
from replenishment.demand import demand_curve
from replenishment.instance import prepare
from replenishment.problem import SupplierTerms
from suppliers.rebates import rate_reached
from tests.replenishment.builders import agreement, item, problem, sku


@st.composite
def tiny_problems(draw):  # type: ignore[no-untyped-def]
    n_skus = draw(st.integers(1, 4))
    skus, items = [], []
    for i in range(n_skus):
        median = draw(st.integers(2, 20))
        spread = draw(st.integers(0, 8))
        quantiles = tuple(float(median + spread * z) for z in (-1.3, 0, 0.8, 1.3, 1.6, 2.3))
        quantiles = tuple(max(q, 0.0) for q in quantiles)
        price = draw(st.integers(20, 90))
        mode = draw(st.sampled_from(["replenish", "replenish", "prebuild"]))
        on_hand = draw(st.integers(0, 8))
        skus.append(sku(f"S{i}", price, quantiles, on_hand=on_hand, mode=mode, salvage_rate="0.3"))
        top = demand_curve(quantiles).units[-1]
        # case packs large enough that at most three cases fit: the enumeration stays small
        case = max(1, math.ceil((2 * top - on_hand) / 3))
        suppliers = draw(st.sampled_from([["A"], ["B"], ["A", "B"]]))
        for supplier in suppliers:
            cost = draw(st.integers(8, 75))
            moq_cases = draw(st.sampled_from([1, 1, 2]))
            items.append(item(f"S{i}", supplier, cost, case=case, moq=moq_cases * case))
    items = items[:5]
    agreements = []
    for supplier in ("A", "B"):
        if draw(st.booleans()):
            base = draw(st.integers(0, 3000))
            first = base + draw(st.integers(1, 2500))
            second = first + draw(st.integers(1, 2500))
            rates = sorted(
                draw(st.lists(st.sampled_from([0.03, 0.08, 0.15, 0.25]), min_size=2, max_size=2, unique=True))
            )
            kind = draw(st.sampled_from(["retroactive", "retroactive", "incremental"]))
            agreements.append(agreement(supplier, [(first, rates[0]), (second, rates[1])], base, kind=kind))
    budget = draw(st.one_of(st.none(), st.integers(200, 6000)))
    minimum = draw(st.sampled_from([0, 0, 800]))
    supplier_terms = [SupplierTerms("A", "A", Decimal(minimum)), SupplierTerms("B", "B")]
    return problem(skus, items, agreements, suppliers=supplier_terms, budget=budget)


def brute_force_best(p) -> float:  # type: ignore[no-untyped-def]
    """Best objective (CNY, the MILP's: chords for expected sales) over every integer choice."""
    inst = prepare(p)
    lines = inst.lines
    choices = []
    for line in lines:
        if line.max_cases == 0 or line.tier_needed < 0:
            choices.append([0])
        else:
            choices.append([0] + list(range(line.moq_cases, line.max_cases + 1)))
    best = -math.inf
    budget = float(p.budget) if p.budget is not None else math.inf
    for combo in itertools.product(*choices):
        cases = np.array(combo)
        value = float(sum(c * ln.case_value for c, ln in zip(cases, lines, strict=True)))
        if value > budget + 1e-9:
            continue
        by_supplier: dict[str, float] = {}
        for c, ln in zip(cases, lines, strict=True):
            by_supplier[ln.supplier] = by_supplier.get(ln.supplier, 0.0) + c * ln.case_value
        if any(0 < v < inst.min_order_value.get(s, 0.0) for s, v in by_supplier.items()):
            continue
        totals = [0.0] * len(inst.agreements)
        for c, ln in zip(cases, lines, strict=True):
            if ln.agreement >= 0:
                totals[ln.agreement] += c * ln.case_value
        ok = True
        for c, ln in zip(cases, lines, strict=True):
            if c and ln.margin_at_cost < p.margin_floor:
                data = inst.agreements[ln.agreement]
                rate = float(
                    rate_reached(Decimal(str(data.base + totals[ln.agreement])), data.agreement.tiers)
                )
                price = inst.skus[ln.sku].price
                if (price - ln.cost * (1 - rate)) / price < p.margin_floor - 1e-12:
                    ok = False
        if not ok:
            continue
        objective = 0.0
        for i, s in enumerate(inst.skus):
            stock = s.position + sum(c * ln.case for c, ln in zip(cases, lines, strict=True) if ln.sku == i)
            objective += s.sales_weight * s.curve.expected_sales_chord(stock) + s.stock_weight * stock
        objective -= value
        objective += sum(a.rebate_gain(totals[k]) for k, a in enumerate(inst.agreements))
        best = max(best, objective)
    return best


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(tiny_problems())
def test_milp_optimum_equals_brute_force_enumeration(p) -> None:  # type: ignore[no-untyped-def]
    plan = optimize(p)
    assert plan.status == "optimal"
    expected = brute_force_best(p)
    assert plan.objective_k is not None
    assert plan.objective_k * 1000 == pytest_approx(expected)


def pytest_approx(value: float):  # type: ignore[no-untyped-def]
    import pytest

    return pytest.approx(value, rel=1e-6, abs=1e-3)
