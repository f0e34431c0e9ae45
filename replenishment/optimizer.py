"""`optimize(problem) -> Plan`: solve the weekly proposal and explain every line in words (pure).

Strategy (HiGHS): the terms-aware order-up-to proposal first (warm start, fallback);
the LP relaxation picks a rebate tier per agreement; the LP with those tiers fixed
is rounded into a feasible proposal; the full MILP starts from the better of the
two, improves it and proves a bound within the time limit; the Lagrangian bound on the
budget with each agreement's tier enumerated (replenishment.bounds) tightens the
proven bound where the LP's tier relaxation is weak. CBC solves the full
MILP directly. A solver failure falls back to the greedy proposal, never an exception.
"""

from __future__ import annotations

import math
import time
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from replenishment.bounds import bound_outside, lagrangian_bound, tighten_by_tiers
from replenishment.explain import agreement_outcomes, left_out_reason, line_reasons
from replenishment.heuristics import evaluate, order_up_to_cases, rounded_lp_cases
from replenishment.instance import Instance, prepare
from replenishment.milp import K, MilpResult, fixed_tier_lp, lp_tier_choice, solve_milp
from replenishment.plan import AgreementSummary, Plan, PlanLine, SupplierSummary
from replenishment.problem import Exclusion, Problem
from replenishment.reasons import render_all
from suppliers.rebates import rate_reached

CENT = Decimal("0.01")
# Share of the time limit (and most seconds) the Lagrangian bound may take from the MILP.
LAGRANGIAN_SHARE = 0.2
LAGRANGIAN_MAX_S = 8.0
# Time share and relative gap (of the increment) for the MILP with every tier held fixed.
FIXED_TIER_MILP_SHARE = 0.3
FIXED_TIER_MILP_GAP = 0.002


def optimize(problem: Problem, solver: str | None = None) -> Plan:
    """Solve `problem` and return the plan (lines with reasons, exclusions, supplier summary).

    `solver` ("highs" | "cbc") overrides `problem.solver`. Money in the plan is CNY.
    """
    build_started = time.perf_counter()
    instance = prepare(problem)
    start_cases = order_up_to_cases(instance, terms_aware=True)
    build_s = time.perf_counter() - build_started
    chosen = solver or problem.solver
    messages = list(instance.messages)
    cases: np.ndarray | None = None
    status = "fallback"
    bound_k = objective_k = None
    solve_s = 0.0
    shortfall: dict[int, float] = {}
    for attempt in (chosen, "cbc" if chosen == "highs" else None):
        if attempt is None:
            break
        try:
            if attempt == "highs":
                result = _solve_phased(instance, start_cases)
            else:
                result = solve_milp(instance, attempt, problem.time_limit_s, problem.mip_gap, start_cases)
        except Exception as exc:  # noqa: BLE001 - a solver failure must not stop the weekly run
            messages.append(f"solver {attempt} failed: {type(exc).__name__}: {exc}")
            continue
        solve_s += result.solve_s
        build_s += result.build_s
        if result.cases is None:
            messages.append(f"solver {attempt} found no solution ({result.status})")
            continue
        cases, chosen = result.cases, attempt
        bound_k, objective_k, shortfall = result.bound_k, result.objective_k, result.shortfall_units
        status = "optimal" if result.status == "Optimal" else "feasible"
        break
    if cases is None:
        cases = start_cases
        messages.append("fallback: the greedy order-up-to proposal is shown instead of the optimum")
    else:
        greedy_value = evaluate(instance, start_cases, chord=True).incremental_profit
        milp_value = evaluate(instance, cases, chord=True).incremental_profit
        if milp_value < greedy_value - 1e-6 and not shortfall:
            # a time-limited incumbent worse than the start cannot be kept
            cases, status = start_cases, "fallback"
            messages.append("the solver's incumbent was worse than the greedy proposal; greedy kept")
    if shortfall:
        status = "relaxed"
        messages.extend(_diagnose_shortfall(instance, cases, shortfall))
    return _make_plan(instance, cases, status, chosen, bound_k, objective_k, solve_s, build_s, messages)


def _solve_phased(instance: Instance, greedy_cases: np.ndarray) -> MilpResult:
    """HiGHS in steps within the time limit: (1) the LP relaxation and the Lagrangian bound
    each pick a tier per agreement; the LP with each choice fixed is rounded into a
    proposal; (2) if neither beat the greedy one, a MILP restricted to the LP's tier or the
    next finds a good proposal fast; (3) branching on tiers tightens the Lagrangian bound;
    (4) the full MILP, started from the best proposal, improves it and proves its bound.
    The smaller of the two proven bounds is reported."""
    problem = instance.problem
    started = time.perf_counter()
    limit = problem.time_limit_s
    best = greedy_cases
    build_s = 0.0
    marginal: dict[int, float] = {}
    choice, _lp_bound, _lp_s = lp_tier_choice(instance, marginal)
    # The LP bound is weak where agreements sit between tiers; the Lagrangian bound keeps
    # tiers integral (replenishment.bounds) and its tier choice is often better than the
    # LP's: both tier vectors are tried. Its time comes out of the MILP's.
    budget_s = min(LAGRANGIAN_SHARE * limit, LAGRANGIAN_MAX_S)
    lagrangian = lagrangian_bound(instance, marginal, time_limit_s=budget_s / 2)
    candidates = [choice] if choice else []
    if lagrangian is not None and lagrangian.tiers and lagrangian.tiers != choice:
        candidates.insert(0, lagrangian.tiers)
    best_value = evaluate(instance, best, chord=True).expected_profit
    for n, tiers in enumerate(candidates):
        if n and time.perf_counter() - started > 0.35 * limit:
            break  # the polishing MILP below needs the time more than a second rounding
        fractional = fixed_tier_lp(instance, tiers)
        if fractional is None:
            continue
        rounded = rounded_lp_cases(instance, fractional, tiers)
        value = evaluate(instance, rounded, chord=True).expected_profit
        if value > best_value:
            best, best_value = rounded, value
    if choice and best is greedy_cases and time.perf_counter() - started < 0.2 * limit:
        restricted = solve_milp(
            instance,
            "highs",
            max(1.0, 0.3 * limit),
            problem.mip_gap,
            None,
            tier_ranges={a: (t, t + 1) for a, t in choice.items()},
        )
        build_s += restricted.build_s
        if restricted.cases is not None and (
            evaluate(instance, restricted.cases, chord=True).expected_profit
            > evaluate(instance, best, chord=True).expected_profit
        ):
            best = restricted.cases
    # The MIP gap is asked of the increment over ordering nothing, not of an objective
    # inflated by the value of stock already held: pass it to HiGHS as an absolute gap.
    nothing = evaluate(instance, np.zeros(len(instance.lines), dtype=np.int64), chord=True)
    increment_k = (evaluate(instance, best, chord=True).expected_profit - nothing.expected_profit) / K
    if best is not greedy_cases and instance.agreements and time.perf_counter() - started < 0.6 * limit:
        # Rounding the fixed-tier LP loses up to ~1 % of the increment; with every tier held
        # where the proposal reaches, the MILP has no tier binaries left and closes most of it.
        scored = evaluate(instance, best, chord=True)
        totals, best_value = scored.agreement_totals, scored.expected_profit
        reached = {a: data.tier_of(data.base + totals[a]) for a, data in enumerate(instance.agreements)}
        polished = solve_milp(
            instance,
            "highs",
            max(1.0, FIXED_TIER_MILP_SHARE * limit),
            problem.mip_gap,
            best,
            tier_ranges={a: (t, t) for a, t in reached.items()},
            absolute_gap_k=FIXED_TIER_MILP_GAP * increment_k if increment_k > 0 else None,
        )
        build_s += polished.build_s
        if lagrangian is not None and polished.bound_k is not None:
            # The MILP's bound holds for the tier vector it was held to; the Lagrangian bounds
            # every other vector (bound_outside): the larger of the two bounds the problem.
            outside = bound_outside(lagrangian, reached, time_limit_s=budget_s / 2)
            if outside is not None:
                held = polished.bound_k * K - nothing.expected_profit
                lagrangian.increment_bound = min(lagrangian.increment_bound, max(outside, held))
        if polished.cases is not None:
            value = evaluate(instance, polished.cases, chord=True).expected_profit
            if value > best_value:
                best, best_value = polished.cases, value
                increment_k = (value - nothing.expected_profit) / K
    if lagrangian is not None and increment_k > 0:
        tighten_by_tiers(lagrangian, increment_k * K, budget_s / 2)
    remaining = max(1.0, limit - (time.perf_counter() - started))
    result = solve_milp(
        instance,
        "highs",
        remaining,
        problem.mip_gap,
        best,
        absolute_gap_k=problem.mip_gap * increment_k if increment_k > 0 else None,
    )
    result.build_s += build_s
    result.solve_s = time.perf_counter() - started - result.build_s
    if lagrangian is not None and math.isfinite(lagrangian.increment_bound):
        # both bounds are valid for the same MILP objective: the smaller one is kept; one below
        # a feasible proposal's value would be a defect, never a proof, and is not used
        lagrangian_k = nothing.expected_profit / K + lagrangian.increment_bound / K
        incumbent_k = evaluate(instance, result.cases if result.cases is not None else best, chord=True)
        if lagrangian_k >= incumbent_k.expected_profit / K - 1e-6:
            result.bound_k = lagrangian_k if result.bound_k is None else min(result.bound_k, lagrangian_k)
    if result.cases is None:
        # no solution better than its start within the time: the start stands, the bound holds
        result.cases, result.status = best, "Time limit reached"
        result.objective_k = evaluate(instance, best, chord=True).expected_profit / K
    return result


def _increment_gap(instance: Instance, objective_k: float | None, bound_k: float | None) -> float | None:
    """(bound − incumbent) / (incumbent − objective of ordering nothing), on the MILP's objective."""
    if objective_k is None or bound_k is None:
        return None
    nothing = evaluate(instance, np.zeros(len(instance.lines), dtype=np.int64), chord=True)
    # evaluate() has the same constants as the model; ordering nothing is its zero increment
    nothing_k = nothing.expected_profit / K
    increment = objective_k - nothing_k
    if increment <= 1e-9:
        return 0.0 if bound_k - objective_k <= 1e-6 else None
    return max(0.0, (bound_k - objective_k) / increment)


def _diagnose_shortfall(instance: Instance, cases: np.ndarray, shortfall: dict[int, float]) -> list[str]:
    problem = instance.problem
    spend = float(sum(cases[k] * line.case_value for k, line in enumerate(instance.lines)))
    units = int(sum(cases[k] * line.case for k, line in enumerate(instance.lines)))
    out = []
    for i, short in sorted(shortfall.items()):
        sku = instance.skus[i]
        usable = [instance.lines[k] for k in sku.lines if instance.lines[k].admissible]
        cheapest_order = min((ln.moq_cases * ln.case_value for ln in usable), default=math.inf)
        causes = []
        if problem.budget is not None and spend + cheapest_order > float(problem.budget) + 0.005:
            causes.append(f"budget ¥{problem.budget:,} (¥{spend:,.0f} used)")
        limit = problem.category_budgets.get(sku.sku.category)
        if limit is not None:
            causes.append(f"category {sku.sku.category} budget ¥{limit:,}")
        if (
            problem.capacity_units is not None
            and units + min((ln.moq_cases * ln.case for ln in usable), default=0) > problem.capacity_units
        ):
            causes.append(f"warehouse capacity {problem.capacity_units:,} units")
        if usable and min(ln.moq_cases * ln.case for ln in usable) > -sku.position:
            causes.append(f"MOQ {min(ln.moq_cases * ln.case for ln in usable):,} units")
        if not usable:
            causes.append("no admissible supplier line (margin floor or terms)")
        out.append(
            f"infeasible as asked: committed orders for SKU {sku.sku.code} are {short:,.0f} units short "
            f"of cover; binding: {', '.join(causes) or 'unknown'}. Relaxed proposal: the shortfall is "
            "left uncovered and everything else is optimised within the limits"
        )
    return out


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _make_plan(
    instance: Instance,
    cases: np.ndarray,
    status: str,
    solver: str,
    bound_k: float | None,
    objective_k: float | None,
    solve_s: float,
    build_s: float,
    messages: list[str],
) -> Plan:
    problem = instance.problem
    result = evaluate(instance, cases)
    totals = result.agreement_totals
    budget_binding = False
    if problem.budget is not None:
        cheapest_case = min((ln.case_value for ln in instance.lines if ln.admissible), default=0.0)
        budget_binding = result.purchase_value + cheapest_case > float(problem.budget)

    outcomes = agreement_outcomes(instance, cases)
    lines: list[PlanLine] = []
    for k in np.flatnonzero(cases):
        k = int(k)
        line = instance.lines[k]
        sku = instance.skus[line.sku]
        units = int(cases[k]) * line.case
        agreement = instance.agreements[line.agreement] if line.agreement >= 0 else None
        rate = (
            float(rate_reached(_money(agreement.base + totals[line.agreement]), agreement.agreement.tiers))
            if agreement
            else 0.0
        )
        effective = line.cost * (1 - rate)
        stock_after = result.sku_stock[line.sku]
        reasons = line_reasons(instance, k, cases, outcomes, budget_binding)
        lines.append(
            PlanLine(
                sku=sku.sku.code,
                supplier=line.supplier,
                units=units,
                cases=int(cases[k]),
                unit_cost=line.item.unit_cost,
                effective_unit_cost=Decimal(str(effective)).quantize(Decimal("0.0001")),
                value=_money(units * line.cost),
                margin_pct=round((sku.price - effective) / sku.price * 100, 2),
                days_of_cover=round(stock_after / sku.daily_demand, 1) if sku.daily_demand > 0 else None,
                stockout_probability_without=round(1 - sku.curve.cdf_at(sku.position), 4),
                stockout_probability_with=round(1 - sku.curve.cdf_at(stock_after), 4),
                reason=render_all(reasons),
                reasons=reasons,
                rebate_share=outcomes[line.agreement].line_shares.get(k, Decimal(0))
                if line.agreement >= 0
                else Decimal(0),
            )
        )
    lines.sort(key=lambda ln: (ln.supplier, ln.sku))

    exclusions = list(instance.exclusions)
    excluded = {e.sku for e in exclusions if e.supplier is None}
    bought_skus = {instance.lines[int(k)].sku for k in np.flatnonzero(cases)}
    for i, sku in enumerate(instance.skus):
        if i in bought_skus or sku.sku.code in excluded:
            continue
        exclusions.append(Exclusion.of(sku.sku.code, left_out_reason(instance, i, budget_binding, outcomes)))

    summaries: list[SupplierSummary] = []
    by_supplier: dict[str, list[PlanLine]] = {}
    for pl in lines:
        by_supplier.setdefault(pl.supplier, []).append(pl)
    price_of = {s.sku.code: s.sku.price for s in instance.skus}
    for supplier, its_lines in sorted(by_supplier.items()):
        agreements = [
            (a, data) for a, data in enumerate(instance.agreements) if data.agreement.supplier == supplier
        ]
        tier = 0
        rebate = 0.0
        code = None
        for a, data in agreements:
            if totals[a] > 0 or code is None:
                code = data.agreement.code
            tier = max(tier, data.tier_of(data.base + totals[a])) if totals[a] > 0 else tier
            rebate += data.rebate_gain(totals[a])
        revenue = sum(float(price_of[pl.sku]) * pl.units for pl in its_lines)
        cost = sum(float(pl.effective_unit_cost) * pl.units for pl in its_lines)
        summaries.append(
            SupplierSummary(
                supplier=supplier,
                value=_money(sum(pl.value for pl in its_lines)),
                lines=len(its_lines),
                agreement=code,
                tier_reached=tier,
                rebate_earned=_money(rebate),
                margin_pct=round((revenue - cost) / revenue * 100, 2) if revenue else 0.0,
            )
        )
    return Plan(
        week=problem.week,
        lines=lines,
        exclusions=exclusions,
        suppliers=summaries,
        status=status,
        solver=solver,
        gap=_increment_gap(instance, objective_k, bound_k) if status in ("optimal", "feasible") else None,
        solve_s=round(solve_s, 3),
        build_s=round(build_s, 3),
        spend=_money(result.purchase_value),
        rebate=_money(result.rebate),
        expected_profit=_money(result.incremental_profit),
        fill_rate=round(result.fill_rate, 4),
        messages=messages,
        objective_k=objective_k,
        bound_k=bound_k,
        agreements=[
            AgreementSummary(
                agreement=o.agreement,
                supplier=o.supplier,
                purchases_before=o.purchases_before,
                purchases_after=o.purchases_after,
                tier_before=o.tier_before,
                tier_after=o.tier_after,
                period_rebate=o.rebate_after,
                gain=o.gain,
            )
            for o in outcomes
            if o.purchases_after != o.purchases_before
        ],
    )
