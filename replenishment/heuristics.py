"""The expected-profit evaluation every proposal is scored with, and the order-up-to proposals.

The order-up-to proposal (service-level target, case-pack rounded, budget taken
in priority order) is the bench baseline; its terms-aware variant (margin floor at
the tier already reached, value-per-yuan priority) is the MILP's warm start and
the fallback when the solver fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from replenishment.instance import ABC_PRIORITY, Instance


@dataclass
class Evaluation:
    """Expected outcome of buying `cases` (per line). Money in CNY, units in units.

    expected_profit = Σ price × E[sold] + (carry value − holding) × E[left over]
    − purchase cost − fixed order costs + rebate gained; `incremental_profit` is that
    minus the same for ordering nothing. `fill_rate` = Σ E[sold] / Σ E[demand].
    """

    expected_profit: float
    incremental_profit: float
    purchase_value: float
    rebate: float
    fill_rate: float
    units: int
    agreement_totals: list[float]
    sku_stock: np.ndarray


def sku_stock(instance: Instance, cases: np.ndarray) -> np.ndarray:
    """Stock per SKU after the order: position + units bought (units)."""
    stock = np.array([s.position for s in instance.skus], dtype=float)
    for index, line in enumerate(instance.lines):
        if cases[index]:
            stock[line.sku] += cases[index] * line.case
    return stock


def evaluate(instance: Instance, cases: np.ndarray, chord: bool = False) -> Evaluation:
    """Score a proposal with the exact expected-sales curve (or the MILP's chords)."""
    stock = sku_stock(instance, cases)
    profit = 0.0
    nothing = 0.0
    sold_total = 0.0
    demand_total = 0.0
    for i, sku in enumerate(instance.skus):
        sales_of = sku.curve.expected_sales_chord if chord else sku.curve.expected_sales
        sold = sales_of(stock[i])
        sold0 = sales_of(sku.position)
        profit += sku.sales_weight * sold + sku.stock_weight * stock[i]
        nothing += sku.sales_weight * sold0 + sku.stock_weight * sku.position
        sold_total += max(sold, 0.0)
        demand_total += sku.curve.mean
    purchase = 0.0
    units = 0
    for index, line in enumerate(instance.lines):
        if cases[index]:
            purchase += cases[index] * line.case_value
            units += int(cases[index]) * line.case
    fixed = float(instance.problem.fixed_order_cost) * int(np.count_nonzero(cases))
    totals = [0.0] * len(instance.agreements)
    for index, line in enumerate(instance.lines):
        if cases[index] and line.agreement >= 0:
            totals[line.agreement] += cases[index] * line.case_value
    rebate = sum(a.rebate_gain(totals[k]) for k, a in enumerate(instance.agreements))
    profit += rebate - purchase - fixed
    return Evaluation(
        expected_profit=profit,
        incremental_profit=profit - nothing,
        purchase_value=purchase,
        rebate=rebate,
        fill_rate=sold_total / demand_total if demand_total > 0 else 1.0,
        units=units,
        agreement_totals=totals,
        sku_stock=stock,
    )


def order_up_to_cases(instance: Instance, terms_aware: bool) -> np.ndarray:
    """Cases per line: each SKU short of its target orders up to it from its cheapest supplier,
    case-pack rounded and at least the MOQ, while the budget lasts.

    Baseline (`terms_aware=False`): no margin-floor or rebate awareness, priority by
    committed backorders, ABC class, then fewest days of cover. Terms-aware: only
    lines whose margin holds at the tier the agreement already reaches, priority by
    expected gain per yuan; the result satisfies every MILP constraint.
    """
    problem = instance.problem
    cases = np.zeros(len(instance.lines), dtype=np.int64)
    base_tier = [a.tier_of(a.base) for a in instance.agreements]
    wishes: list[tuple[tuple, int, int]] = []
    for sku in instance.skus:
        if sku.need <= 0:
            continue
        options = [
            index
            for index in sku.lines
            if instance.lines[index].max_cases > 0
            and (
                not terms_aware
                or (
                    instance.lines[index].tier_needed >= 0
                    and (
                        instance.lines[index].tier_needed == 0
                        or instance.lines[index].tier_needed <= base_tier[instance.lines[index].agreement]
                    )
                )
            )
        ]
        if not options:
            continue
        best = min(options, key=lambda k: (instance.lines[k].cost, instance.lines[k].item.lead_time_days))
        line = instance.lines[best]
        want = max(math.ceil(sku.need / line.case), line.moq_cases)
        want = min(want, line.max_cases) if terms_aware else want
        if want < line.moq_cases:
            continue
        if terms_aware:
            stock_after = sku.position + want * line.case
            gain = (
                sku.sales_weight
                * (sku.curve.expected_sales(stock_after) - sku.curve.expected_sales(sku.position))
                + (sku.stock_weight - line.cost) * want * line.case
            )
            if gain <= 0:
                continue
            priority: tuple = (sku.position >= 0, -gain / (want * line.case_value))
        else:
            cover = sku.position / sku.daily_demand if sku.daily_demand > 0 else math.inf
            priority = (sku.position >= 0, ABC_PRIORITY.get(sku.sku.abc_class, 3), cover, sku.sku.code)
        wishes.append((priority, best, want))
    wishes.sort(key=lambda w: w[0])
    budget = float(problem.budget) if problem.budget is not None else math.inf
    category_left = {c: float(v) for c, v in problem.category_budgets.items()}
    capacity = problem.capacity_units if problem.capacity_units is not None else math.inf
    for _priority, index, want in wishes:
        line = instance.lines[index]
        category = instance.skus[line.sku].sku.category
        room_money = min(budget, category_left.get(category, math.inf))
        fit = want
        if room_money < math.inf:
            fit = min(fit, int(room_money // line.case_value))
        if capacity < math.inf:
            fit = min(fit, int(capacity // line.case))
        if fit < line.moq_cases or fit <= 0:
            continue
        cases[index] = fit
        value = fit * line.case_value
        budget -= value
        if category in category_left:
            category_left[category] -= value
        capacity -= fit * line.case
    # an order below the supplier's minimum value cannot be placed
    for supplier, indexes in instance.lines_of_supplier().items():
        minimum = instance.min_order_value.get(supplier, 0.0)
        if minimum > 0 and sum(cases[k] * instance.lines[k].case_value for k in indexes) < minimum:
            cases[indexes] = 0
    return cases


def _line_gain(instance: Instance, k: int, stock: float, extra_cases: int) -> float:
    """Expected-profit change (CNY, chords, before rebate) of adding cases to line k."""
    line = instance.lines[k]
    sku = instance.skus[line.sku]
    units = extra_cases * line.case
    sold = sku.curve.expected_sales_chord(stock + units) - sku.curve.expected_sales_chord(stock)
    return sku.sales_weight * sold + (sku.stock_weight - line.cost) * units


def rounded_lp_cases(
    instance: Instance, lp_cases: np.ndarray, target_tiers: dict[int, int] | None = None
) -> np.ndarray:
    """A feasible proposal from fractional LP cases: round down (below the MOQ → 0); round up
    again, largest fractions first, where an agreement fell below the tier the LP held it at;
    drop lines whose margin needs a tier no longer reached; then spend what the budget has
    left on single-case additions with the most expected profit per yuan."""
    problem = instance.problem
    budget = float(problem.budget) if problem.budget is not None else math.inf
    cases = np.floor(lp_cases + 1e-6).astype(np.int64)
    for k, line in enumerate(instance.lines):
        if 0 < cases[k] < line.moq_cases:
            cases[k] = 0
    spend = float(sum(cases[k] * ln.case_value for k, ln in enumerate(instance.lines)))
    totals = _agreement_totals(instance, cases)
    for a, tier in sorted((target_tiers or {}).items()):
        data = instance.agreements[a]
        if tier == 0 or data.tier_of(data.base + totals[a]) >= tier:
            continue
        deficit = data.thresholds[tier - 1] - data.base - totals[a]
        order = sorted(data.lines, key=lambda k: -(lp_cases[k] - cases[k]))
        for k in order:
            line = instance.lines[k]
            if deficit <= 0:
                break
            if not line.admissible or cases[k] >= line.max_cases:
                continue
            step = max(1, line.moq_cases - cases[k]) if cases[k] < line.moq_cases else 1
            step = max(step, min(line.max_cases - cases[k], math.ceil(deficit / line.case_value)))
            step = min(step, line.max_cases - cases[k])
            if step <= 0 or spend + step * line.case_value > budget:
                continue
            cases[k] += step
            spend += step * line.case_value
            totals[a] += step * line.case_value
            deficit -= step * line.case_value
    for _ in range(5):
        totals = _agreement_totals(instance, cases)
        dropped = False
        for k, line in enumerate(instance.lines):
            if cases[k] and line.tier_needed != 0:
                data = instance.agreements[line.agreement] if line.agreement >= 0 else None
                if (
                    data is None
                    or line.tier_needed < 0
                    or data.tier_of(data.base + totals[line.agreement]) < line.tier_needed
                ):
                    cases[k] = 0
                    dropped = True
        if not dropped:
            break
    stock = sku_stock(instance, cases)
    totals = _agreement_totals(instance, cases)
    spend = float(sum(cases[k] * ln.case_value for k, ln in enumerate(instance.lines)))
    if (
        problem.category_budgets
        or problem.capacity_units is not None
        or any(v > 0 for v in instance.min_order_value.values())
    ):
        return cases  # the fill below only knows the total budget
    candidates = []
    for k, line in enumerate(instance.lines):
        if not line.admissible or cases[k] >= line.max_cases:
            continue
        if line.tier_needed > 0:
            data = instance.agreements[line.agreement]
            if data.tier_of(data.base + totals[line.agreement]) < line.tier_needed:
                continue
        step = 1 if cases[k] else line.moq_cases
        rate = 0.0
        if line.agreement >= 0:
            data = instance.agreements[line.agreement]
            reached = data.tier_of(data.base + totals[line.agreement])
            rate = data.rates[reached - 1] if reached else 0.0
        gain = _line_gain(instance, k, stock[line.sku], step) + rate * step * line.case_value
        if gain > 0:
            candidates.append((-gain / (step * line.case_value), k, step))
    candidates.sort()
    for _ratio, k, step in candidates:
        line = instance.lines[k]
        value = step * line.case_value
        if spend + value > budget:
            continue
        # re-check with the stock as it is now: earlier additions may have covered the SKU
        if _line_gain(instance, k, stock[line.sku], step) <= 0:
            continue
        cases[k] += step
        stock[line.sku] += step * line.case
        spend += value
    return cases


def _agreement_totals(instance: Instance, cases: np.ndarray) -> list[float]:
    totals = [0.0] * len(instance.agreements)
    for k, line in enumerate(instance.lines):
        if cases[k] and line.agreement >= 0:
            totals[line.agreement] += cases[k] * line.case_value
    return totals
