"""On tiny random instances, enumerating every whole-case order finds what `optimize` proposes.

The enumeration shares only the stock value Φ (replenishment.value, the model's
definition of expected sales and leftovers) with the optimizer. Everything else is
recomputed here from the rules, in exact decimals: purchase money, tiers and rebates
(suppliers.rebates), the margin floor at the rate the purchase earns (the tier's rate
under retroactive terms, rebate added ÷ purchase under incremental ones — rule 5),
MOQ, budget, category budgets, capacity, supplier minimum order values, one fixed cost
per purchase order, the penalty on committed units left uncovered, and rule 7 (each
supplier option covers its own window; a SKU is bought within one window).

The generator reaches the shapes issue 12 found: thresholds reachable exactly to the
cent with whole cases, committed orders above stock, q10 = q50 = 0, incremental
agreements near a threshold, starting plans that gain nothing, overlapping agreement
scopes, category budgets and capacity together, and a slower second supplier.
"""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.small_instances import brute_force, brute_force_best, exact_objective, plan_cases
from replenishment import optimize
from replenishment.demand import demand_curve
from replenishment.instance import prepare
from replenishment.problem import SupplierTerms
from tests.replenishment.builders import agreement, item, problem, sku

__all__ = ["brute_force", "brute_force_best", "exact_objective", "plan_cases", "tiny_problems"]

EXAMPLES = 500
COVER_DAYS = 56
CENTS = Decimal("0.01")


@st.composite
def tiny_problems(draw):  # type: ignore[no-untyped-def]
    n_skus = draw(st.integers(1, 3))
    skus, items = [], []
    for i in range(n_skus):
        shape = draw(st.sampled_from(["normal", "normal", "intermittent", "known"]))
        median = draw(st.integers(2, 20))
        if shape == "intermittent":  # q10 = q50 = 0: most windows sell nothing
            quantiles = (
                0.0,
                0.0,
                float(draw(st.integers(1, 15))),
                float(draw(st.integers(16, 30))),
                40.0,
                70.0,
            )
        elif shape == "known":
            quantiles = (float(median),) * 6
        else:
            spread = draw(st.integers(0, 8))
            quantiles = tuple(max(float(median + spread * z), 0.0) for z in (-1.3, 0, 0.8, 1.3, 1.6, 2.3))
        price = draw(st.integers(20, 90))
        mode = draw(st.sampled_from(["replenish", "replenish", "prebuild"]))
        on_hand = draw(st.integers(0, 8))
        # committed orders above stock: some customers' units are not on hand yet
        committed = draw(st.sampled_from([0, 0, 0, on_hand + draw(st.integers(1, 12))]))
        # a starting plan that gains nothing: stock already past the order-up-to level
        if draw(st.integers(0, 5)) == 0:
            on_hand += int(2 * median + 20)
        category = draw(st.sampled_from(["basics", "kitchen"]))
        skus.append(
            sku(
                f"S{i}",
                price,
                quantiles,
                on_hand=on_hand,
                committed=committed,
                mode=mode,
                salvage_rate="0.3",
                category=category,
            )
        )
        curve = demand_curve(quantiles)
        position = on_hand - committed
        cap = max(curve.mean / 28 * COVER_DAYS, 2.0 * float(curve.units[-1]) if mode != "replenish" else 0.0)
        room = max(cap - position, -position, 1.0)
        # case packs large enough that at most about three cases fit: the enumeration stays small
        case = max(1, math.ceil(room / 3))
        suppliers = draw(st.sampled_from([["A"], ["B"], ["A", "B"]]))
        for supplier in suppliers:
            cents = draw(st.integers(800, 7500))  # unit cost with cents: ¥8.00 .. ¥75.00
            moq_cases = draw(st.sampled_from([1, 1, 2]))
            # rule 7: supplier B is sometimes four weeks slower (its own, longer window)
            lead = draw(st.sampled_from([14, 14, 42])) if supplier == "B" else 14
            items.append(item(f"S{i}", supplier, cents / 100, case=case, moq=moq_cases * case, lead=lead))
    items = items[:4]
    agreements = []
    for supplier in ("A", "B"):
        if not draw(st.booleans()):
            continue
        base = Decimal(draw(st.integers(0, 300000))) / 100
        supplier_items = [it for it in items if it.supplier == supplier]
        if supplier_items and draw(st.booleans()):
            # a threshold reachable exactly, to the cent, with whole cases of one item
            it = draw(st.sampled_from(supplier_items))
            cases = draw(st.integers(1, 3))
            first = base + it.unit_cost * it.case_pack * cases
        else:
            first = base + Decimal(draw(st.integers(1, 250000))) / 100
        second = first + Decimal(draw(st.integers(1, 250000))) / 100
        rates = sorted(
            draw(st.lists(st.sampled_from([0.03, 0.08, 0.15, 0.25]), min_size=2, max_size=2, unique=True))
        )
        kind = draw(st.sampled_from(["retroactive", "incremental"]))
        agreements.append(agreement(supplier, [(first, rates[0]), (second, rates[1])], base, kind=kind))
        if draw(st.integers(0, 3)) == 0:
            # an overlapping agreement scoped to one SKU of the same supplier
            scoped = draw(
                st.sampled_from(sorted({it.sku for it in items if it.supplier == supplier} or {"S0"}))
            )
            agreements.append(
                agreement(
                    supplier, [(base + 1000, 0.05)], base, code=f"{supplier}-PROMO", skus=(scoped,), kind=kind
                )
            )
    budget = draw(st.one_of(st.none(), st.integers(200, 6000)))
    settings_kw: dict = {"max_cover_days": COVER_DAYS, "mip_gap": 0.0}
    if draw(st.integers(0, 3)) == 0:
        settings_kw["category_budgets"] = {"basics": Decimal(draw(st.integers(100, 3000)))}
        settings_kw["capacity_units"] = draw(st.integers(5, 120))
    if draw(st.integers(0, 4)) == 0:
        settings_kw["fixed_order_cost"] = Decimal(draw(st.integers(1, 300)))
    minimum = draw(st.sampled_from([0, 0, 800]))
    supplier_terms = [SupplierTerms("A", "A", Decimal(minimum)), SupplierTerms("B", "B")]
    p = problem(skus, items, agreements, suppliers=supplier_terms, budget=budget)
    for key, value in settings_kw.items():
        setattr(p, key, value)
    return p


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(tiny_problems())
def test_plan_equals_the_enumerated_optimum(p) -> None:  # type: ignore[no-untyped-def]
    plan = optimize(p)
    best, nothing = brute_force(p)
    value, feasible = exact_objective(p, prepare(p), plan_cases(p, plan))
    assert feasible, plan
    # the proposal is the enumerated optimum (to the solvers' ¥0.01: mip_gap is 0 here) and says so
    assert value >= best - 0.02, (value, best, plan.status, plan.lines)
    assert plan.status in ("optimal", "relaxed"), (plan.status, plan.messages)
    # ordering nothing is a candidate: never worse than it, and never a negative increment
    # unless committed customer orders must be covered at a loss
    assert value >= nothing - 1e-6
    if all(s.position >= 0 for s in prepare(p).skus):
        assert plan.expected_profit >= 0
    assert plan.objective_k is not None and plan.objective_k * 1000 == approx(value)
    if plan.status == "relaxed":
        assert plan.shortfalls and all(s.binding for s in plan.shortfalls)


def approx(value: float):  # type: ignore[no-untyped-def]
    import pytest

    return pytest.approx(value, rel=1e-9, abs=1e-6)
