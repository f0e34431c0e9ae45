"""Tiny random proposal problems and their enumerated optimum, recomputed exactly from the rules.

`python -m bench.small_instances [--n 500]` (also part of `bench.propose`): the share of
random small instances on which `optimize` is within 1 % of the best increment + ¥1.
The enumeration shares only the stock value Φ (replenishment.value) with the optimizer;
purchase money, tiers and rebates (suppliers.rebates), the margin floor at the rate the
purchase earns (rule 5), MOQ, budget, category budgets, capacity, supplier minimum order
values, one fixed cost per purchase order, the penalty on uncovered committed units and
rule 7 (each supplier option's own window; one window per SKU) are recomputed here in
exact decimals. tests/replenishment/test_bruteforce.py uses the
same enumeration with a hypothesis generator of the same shapes.
"""

from __future__ import annotations

import itertools
import math
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from replenishment.demand import demand_curve
from replenishment.instance import prepare
from replenishment.optimizer import optimize
from replenishment.problem import Agreement, Problem, SkuProblem, SupplierItemTerms, SupplierTerms
from suppliers.rebates import Tier, rebate_earned, tier_reached

WEEK = date(2026, 8, 31)
COVER_DAYS = 56


def _covering_agreement(p: Problem, sku_code: str, supplier: str) -> Agreement | None:
    """The one agreement a purchase counts toward: the most specific scope, then the lowest code."""
    scoped = [a for a in p.agreements if a.supplier == supplier and (a.skus is None or sku_code in a.skus)]
    return min(scoped, key=lambda a: (a.skus is None, a.code)) if scoped else None


def exact_objective(p: Problem, inst: Any, cases: np.ndarray) -> tuple[float, bool]:
    """(objective CNY, feasible) of buying `cases` per line, recomputed from the rules."""
    lines = inst.lines
    floor = Decimal(str(p.margin_floor))
    # rule 7: each option covers its own window — the SKU's, longer by the lead time beyond the
    # SKU's fastest option's — and a SKU is bought within one window at most
    fastest: dict[str, int] = {}
    for it in p.items:
        fastest[it.sku] = min(fastest.get(it.sku, it.lead_time_days), it.lead_time_days)
    own_days = {s.code: s.window_days for s in p.skus}
    windows: dict[str, set[int]] = {}
    for c, ln in zip(cases, lines, strict=True):
        s = inst.skus[ln.sku].sku
        extra = ln.item.lead_time_days - fastest[s.code] if s.mode == "replenish" else 0
        assert s.window_days == own_days[s.code] + extra, (s.code, ln.supplier, s.window_days)
        if c:
            windows.setdefault(s.code, set()).add(s.window_days)
    if any(len(days) > 1 for days in windows.values()):
        return -math.inf, False
    spend = Decimal(0)
    by_supplier: dict[str, Decimal] = {}
    by_category: dict[str, Decimal] = {}
    by_agreement: dict[str, Decimal] = {}
    units = 0
    for c, ln in zip(cases, lines, strict=True):
        if not c:
            continue
        if c < ln.moq_cases or c > ln.max_cases:
            return -math.inf, False
        value = int(c) * ln.item.unit_cost * ln.item.case_pack
        spend += value
        units += int(c) * ln.item.case_pack
        by_supplier[ln.supplier] = by_supplier.get(ln.supplier, Decimal(0)) + value
        category = inst.skus[ln.sku].sku.category
        by_category[category] = by_category.get(category, Decimal(0)) + value
        ag = _covering_agreement(p, ln.item.sku, ln.supplier)
        if ag is not None:
            by_agreement[ag.code] = by_agreement.get(ag.code, Decimal(0)) + value
    if p.budget is not None and spend > p.budget:
        return -math.inf, False
    if any(by_category.get(c, Decimal(0)) > limit for c, limit in p.category_budgets.items()):
        return -math.inf, False
    if p.capacity_units is not None and units > p.capacity_units:
        return -math.inf, False
    minimums = {s.code: s.min_order_value for s in p.suppliers}
    if any(0 < v < minimums[s] for s, v in by_supplier.items()):
        return -math.inf, False
    gains: dict[str, Decimal] = {}
    for ag in p.agreements:
        bought = by_agreement.get(ag.code, Decimal(0))
        before = ag.purchases_to_date + ag.expected_further_purchases
        gains[ag.code] = rebate_earned(before + bought, ag.tiers, ag.kind) - rebate_earned(
            before, ag.tiers, ag.kind
        )
    for c, ln in zip(cases, lines, strict=True):
        if not c:
            continue
        price, cost = inst.skus[ln.sku].sku.price, ln.item.unit_cost
        if price - cost >= floor * price:
            continue
        ag = _covering_agreement(p, ln.item.sku, ln.supplier)
        if ag is None:
            return -math.inf, False
        bought = by_agreement[ag.code]
        if ag.kind == "incremental":
            rate = gains[ag.code] / bought
        else:
            reached = tier_reached(ag.purchases_to_date + ag.expected_further_purchases + bought, ag.tiers)
            rate = ag.tiers[reached - 1].rate if reached else Decimal(0)
        if price - cost * (1 - rate) < floor * price:
            return -math.inf, False
    objective = 0.0
    bought_units: dict[str, int] = {}
    penalty: dict[str, float] = {}
    for i, s in enumerate(inst.skus):
        units = sum(int(c) * ln.case for c, ln in zip(cases, lines, strict=True) if ln.sku == i)
        objective += s.value(s.position + units)
        bought_units[s.sku.code] = bought_units.get(s.sku.code, 0) + units
        penalty.setdefault(s.sku.code, s.shortfall_penalty)  # the SKU's own window's
    for s in p.skus:
        if s.code in penalty:
            objective -= penalty[s.code] * max(0, -(s.position + bought_units[s.code]))
    objective += float(sum(gains.values(), Decimal(0)) - spend)
    objective -= float(p.fixed_order_cost) * len(by_supplier)
    return objective, True


def brute_force(p: Problem) -> tuple[float, float]:
    """(best objective, objective of ordering nothing) over every whole-case order vector."""
    inst = prepare(p)
    choices = [
        [0]
        if line.max_cases == 0 or line.tier_needed < 0
        else [0, *range(line.moq_cases, line.max_cases + 1)]
        for line in inst.lines
    ]
    best = -math.inf
    for combo in itertools.product(*choices):
        value, ok = exact_objective(p, inst, np.array(combo))
        if ok:
            best = max(best, value)
    nothing, _ = exact_objective(p, inst, np.zeros(len(inst.lines), dtype=np.int64))
    return best, nothing


def brute_force_best(p: Problem) -> float:
    return brute_force(p)[0]


def plan_cases(p: Problem, plan: Any) -> np.ndarray:
    inst = prepare(p)
    bought = {(ln.sku, ln.supplier): ln.cases for ln in plan.lines}
    return np.array([bought.get((ln.item.sku, ln.supplier), 0) for ln in inst.lines])


def random_problem(rng: np.random.Generator) -> Problem:
    """A tiny problem with the shapes issue 12 found (thresholds reachable to the cent with
    whole cases, committed orders above stock, q10 = q50 = 0, incremental agreements near a
    threshold, stock past the target, overlapping scopes, category budget with capacity)."""
    skus: list[SkuProblem] = []
    items: list[SupplierItemTerms] = []
    for i in range(int(rng.integers(1, 4))):
        shape = rng.choice(["normal", "normal", "intermittent", "known"])
        median = int(rng.integers(2, 21))
        if shape == "intermittent":
            quantiles = (0.0, 0.0, float(rng.integers(1, 16)), float(rng.integers(16, 31)), 40.0, 70.0)
        elif shape == "known":
            quantiles = (float(median),) * 6
        else:
            spread = int(rng.integers(0, 9))
            quantiles = tuple(max(float(median + spread * z), 0.0) for z in (-1.3, 0, 0.8, 1.3, 1.6, 2.3))
        mode = str(rng.choice(["replenish", "replenish", "prebuild"]))
        on_hand = int(rng.integers(0, 9))
        committed = on_hand + int(rng.integers(1, 13)) if rng.random() < 0.25 else 0
        if rng.random() < 1 / 6:
            on_hand += 2 * median + 20
        skus.append(
            SkuProblem(
                code=f"S{i}",
                name=f"S{i}",
                category=str(rng.choice(["basics", "kitchen"])),
                price=Decimal(int(rng.integers(20, 91))),
                abc_class="B",
                service_level=0.95,
                on_hand=on_hand,
                committed=committed,
                on_order=0,
                window_start=WEEK,
                window_end=WEEK + timedelta(days=27),
                demand_quantiles=quantiles,
                mode=mode,
                salvage_rate=Decimal("0.3"),
            )
        )
        curve = demand_curve(quantiles)
        cap = max(curve.mean / 28 * COVER_DAYS, 2.0 * float(curve.units[-1]) if mode != "replenish" else 0.0)
        case = max(1, math.ceil(max(cap - (on_hand - committed), committed - on_hand, 1.0) / 3))
        for supplier in rng.choice(np.array([["A", ""], ["B", ""], ["A", "B"]]), axis=0):
            if not supplier:
                continue
            cost = Decimal(int(rng.integers(800, 7501))) / 100
            moq_cases = int(rng.choice([1, 1, 2]))
            # rule 7: supplier B is sometimes four weeks slower (its own, longer window)
            lead = 42 if supplier == "B" and rng.random() < 0.35 else 14
            items.append(SupplierItemTerms(f"S{i}", str(supplier), cost, moq_cases * case, case, lead))
    items = items[:4]
    agreements: list[Agreement] = []
    for supplier in ("A", "B"):
        if rng.random() < 0.5:
            continue
        base = Decimal(int(rng.integers(0, 300001))) / 100
        own = [it for it in items if it.supplier == supplier]
        if own and rng.random() < 0.5:
            it = own[int(rng.integers(0, len(own)))]
            first = base + it.unit_cost * it.case_pack * int(rng.integers(1, 4))
        else:
            first = base + Decimal(int(rng.integers(1, 250001))) / 100
        second = first + Decimal(int(rng.integers(1, 250001))) / 100
        rates = sorted(rng.choice(["0.03", "0.08", "0.15", "0.25"], size=2, replace=False))
        kind = str(rng.choice(["retroactive", "incremental"]))
        tiers = (Tier(1, first, Decimal(rates[0])), Tier(2, second, Decimal(rates[1])))
        agreements.append(Agreement(f"{supplier}-2026", supplier, kind, tiers, base))
        if own and rng.random() < 0.25:
            scoped = own[int(rng.integers(0, len(own)))].sku
            promo = (Tier(1, base + 1000, Decimal("0.05")),)
            agreements.append(Agreement(f"{supplier}-PROMO", supplier, kind, promo, base, skus=(scoped,)))
    problem = Problem(
        week=WEEK,
        skus=skus,
        suppliers=[SupplierTerms("A", "A", Decimal(int(rng.choice([0, 0, 800])))), SupplierTerms("B", "B")],
        items=items,
        agreements=agreements,
        budget=Decimal(int(rng.integers(200, 6001))) if rng.random() < 0.5 else None,
        max_cover_days=COVER_DAYS,
        time_limit_s=20,
        mip_gap=0.0,
    )
    if rng.random() < 0.25:
        problem.category_budgets = {"basics": Decimal(int(rng.integers(100, 3001)))}
        problem.capacity_units = int(rng.integers(5, 121))
    if rng.random() < 0.2:
        problem.fixed_order_cost = Decimal(int(rng.integers(1, 301)))
    return problem


def match_share(n: int = 500, seed: int = 12) -> dict[str, Any]:
    """Solve `n` random small problems (mip_gap 0); the share whose plan is within 1 % of the
    enumerated best increment + ¥1, the share proven optimal, the worst shortfall (CNY)."""
    rng = np.random.default_rng(seed)
    matched = proven = 0
    worst = 0.0
    solve_s = []
    misses: list[str] = []
    for index in range(n):
        problem = random_problem(rng)
        started = time.perf_counter()
        plan = optimize(problem)
        solve_s.append(time.perf_counter() - started)
        best, nothing = brute_force(problem)
        value, feasible = exact_objective(problem, prepare(problem), plan_cases(problem, plan))
        tolerance = 0.01 * max(best - nothing, 0.0) + 1.0
        shortfall = best - value if feasible else math.inf
        worst = max(worst, shortfall)
        if feasible and shortfall <= tolerance:
            matched += 1
        elif len(misses) < 10:
            misses.append(f"instance {index}: plan {value:.2f} vs best {best:.2f} ({plan.status})")
        proven += plan.status in ("optimal", "relaxed")
    return {
        "instances": n,
        "seed": seed,
        "match_share": round(matched / n, 4),
        "proven_share": round(proven / n, 4),
        "worst_shortfall_cny": round(worst, 2),
        "mean_solve_s": round(float(np.mean(solve_s)), 3),
        "misses": misses,
    }


if __name__ == "__main__":
    import json
    import sys

    count = int(sys.argv[sys.argv.index("--n") + 1]) if "--n" in sys.argv else 500
    print(json.dumps(match_share(count), indent=1))
