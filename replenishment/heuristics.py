"""The expected-profit evaluation every proposal is scored with, and the order-up-to proposals.

The order-up-to proposal (service-level target, case-pack rounded, budget taken
in priority order) is the bench baseline; its terms-aware variant (margin floor at
the tier already reached, value-per-yuan priority) is the MILP's warm start and
the fallback when the solver fails.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from replenishment.instance import ABC_PRIORITY, Instance, LineData


@dataclass
class Evaluation:
    """Expected outcome of buying `cases` (per line). Money in CNY, units in units.

    expected_profit = Σ Φ(stock) (replenishment.value) − purchase cost − fixed order
    costs (one per supplier ordered from) + rebate gained; `incremental_profit` is that
    minus the same for ordering nothing. `penalty`: the shortfall penalty of committed
    units left uncovered (`uncovered`, units per SKU index); `objective` = expected
    profit − penalty is what plans are compared on. Agreement totals and the rebate are
    exact decimals. `fill_rate` = Σ E[sold] / Σ E[demand].
    """

    expected_profit: float
    incremental_profit: float
    purchase_value: float
    rebate: float
    fill_rate: float
    units: int
    agreement_totals: list[Decimal]
    sku_stock: np.ndarray
    purchase_exact: Decimal = Decimal(0)
    rebate_exact: Decimal = Decimal(0)
    uncovered: dict[int, float] = field(default_factory=dict)
    penalty: float = 0.0

    @property
    def objective(self) -> float:
        return self.expected_profit - self.penalty


def sku_stock(instance: Instance, cases: np.ndarray) -> np.ndarray:
    """Stock per SKU after the order: position + units bought (units)."""
    stock = np.array([s.position for s in instance.skus], dtype=float)
    for index, line in enumerate(instance.lines):
        if cases[index]:
            stock[line.sku] += cases[index] * line.case
    return stock


def agreement_totals(instance: Instance, cases: np.ndarray) -> list[Decimal]:
    """This proposal's purchase per agreement (CNY, exact: whole cases × exact case value)."""
    totals = [Decimal(0)] * len(instance.agreements)
    for index, line in enumerate(instance.lines):
        if cases[index] and line.agreement >= 0:
            totals[line.agreement] += int(cases[index]) * line.case_value_exact
    return totals


def suppliers_ordered(instance: Instance, cases: np.ndarray) -> set[str]:
    return {instance.lines[int(k)].supplier for k in np.flatnonzero(cases)}


def evaluate(instance: Instance, cases: np.ndarray, chord: bool = False) -> Evaluation:
    """Score a proposal with the exact stock value Φ (or the MILP's chords of it)."""
    stock = sku_stock(instance, cases)
    profit = 0.0
    nothing = 0.0
    sold_total = 0.0
    demand_total = 0.0
    penalty = 0.0
    uncovered: dict[int, float] = {}
    for i, sku in enumerate(instance.skus):
        if stock[i] == sku.position:
            # unchanged: the same value with and without the order (cached in prepare)
            here = sku.chord_at_position if chord else sku.value_at_position
            profit += here
            nothing += here
        else:
            value_of = sku.value_chord if chord else sku.value
            profit += value_of(stock[i])
            nothing += value_of(float(sku.position))
        if sku.alternative_of is not None:
            continue  # rule 7: a SKU's sales, demand and cover are counted once, below
        # the window the SKU is bought in (its own unless a slower option's is bought)
        seen = next((j for j in sku.alternatives if stock[j] != instance.skus[j].position), i)
        window = instance.skus[seen]
        if stock[seen] == window.position:
            sold_total += window.sales_at_position
        else:
            sold_total += window.curve.expected_sales(stock[seen])
        demand_total += window.mean_demand
        covered = stock[i] + sum(stock[j] - instance.skus[j].position for j in sku.alternatives)
        if covered < 0:
            uncovered[i] = -float(covered)
            penalty += sku.shortfall_penalty * -float(covered)
    purchase = Decimal(0)
    units = 0
    for index, line in enumerate(instance.lines):
        if cases[index]:
            purchase += int(cases[index]) * line.case_value_exact
            units += int(cases[index]) * line.case
    fixed = float(instance.problem.fixed_order_cost) * len(suppliers_ordered(instance, cases))
    totals = agreement_totals(instance, cases)
    rebate = sum((a.rebate_gain_exact(totals[k]) for k, a in enumerate(instance.agreements)), Decimal(0))
    profit += float(rebate) - float(purchase) - fixed
    return Evaluation(
        expected_profit=profit,
        incremental_profit=profit - nothing,
        purchase_value=float(purchase),
        rebate=float(rebate),
        fill_rate=sold_total / demand_total if demand_total > 0 else 1.0,
        units=units,
        agreement_totals=totals,
        sku_stock=stock,
        purchase_exact=purchase,
        rebate_exact=rebate,
        uncovered=uncovered,
        penalty=penalty,
    )


def violations(instance: Instance, cases: np.ndarray) -> list[str]:
    """Every hard rule the proposal breaks (empty when feasible), money compared exactly:
    whole cases within 0 or MOQ..max, budget, category budgets, capacity, supplier minimum
    order value, and the margin floor at the rebate rate the purchase earns (rule 5)."""
    problem = instance.problem
    out: list[str] = []
    spend = Decimal(0)
    by_category: dict[str, Decimal] = {}
    by_supplier: dict[str, Decimal] = {}
    units = 0
    for k, line in enumerate(instance.lines):
        n = int(cases[k])
        if not n:
            continue
        if n < line.moq_cases or n > line.max_cases or not line.admissible:
            out.append(f"line {k}: {n} cases outside 0 or {line.moq_cases}..{line.max_cases}")
        value = n * line.case_value_exact
        spend += value
        category = instance.skus[line.sku].sku.category
        by_category[category] = by_category.get(category, Decimal(0)) + value
        by_supplier[line.supplier] = by_supplier.get(line.supplier, Decimal(0)) + value
        units += n * line.case
    if problem.budget is not None and spend > problem.budget:
        out.append(f"budget: {spend} > {problem.budget}")
    for category, limit in problem.category_budgets.items():
        if by_category.get(category, Decimal(0)) > limit:
            out.append(f"category {category}: {by_category[category]} > {limit}")
    if problem.capacity_units is not None and units > problem.capacity_units:
        out.append(f"capacity: {units} > {problem.capacity_units}")
    minimums = {s.code: s.min_order_value for s in problem.suppliers}
    for supplier, value in by_supplier.items():
        if 0 < value < minimums.get(supplier, Decimal(0)):
            out.append(f"supplier {supplier}: {value} below minimum order value")
    totals = agreement_totals(instance, cases)
    for k, line in enumerate(instance.lines):
        if cases[k] and line.tier_needed > 0 and not margin_floor_holds(instance, line, totals):
            out.append(f"line {k}: margin floor not met at the rebate it earns")
    for i, sku in enumerate(instance.skus):
        if sku.alternatives:
            windows = [j for j in [i, *sku.alternatives] if any(cases[k] for k in instance.skus[j].lines)]
            if len(windows) > 1:
                out.append(f"SKU {sku.sku.code}: bought from suppliers with different windows (rule 7)")
    return out


def other_window_bought(instance: Instance, stock: np.ndarray, i: int) -> bool:
    """Rule 7: whether SKU index `i`'s SKU is bought in another option's window already
    (`stock` per SKU index, as `sku_stock` gives it)."""
    sku = instance.skus[i]
    primary = i if sku.alternative_of is None else sku.alternative_of
    group = [primary, *instance.skus[primary].alternatives]
    return any(stock[j] != instance.skus[j].position for j in group if j != i)


def margin_floor_holds(instance: Instance, line: LineData, totals: list[Decimal]) -> bool:
    """Whether a line that needs a rebate to clear the floor gets it from this proposal."""
    if line.tier_needed == 0:
        return True
    if line.tier_needed < 0 or line.agreement < 0:
        return False
    data = instance.agreements[line.agreement]
    return data.effective_rate(totals[line.agreement]) >= line.needed_rate


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
    base_tier = [a.tier_of(a.base_exact) for a in instance.agreements]
    wishes: list[tuple[tuple, int, int]] = []
    for primary in instance.skus:
        if primary.alternative_of is not None:
            continue  # rule 7: one order per SKU, from the options of every window
        every = primary.lines + [k for j in primary.alternatives for k in instance.skus[j].lines]
        options = [
            index
            for index in every
            if instance.skus[instance.lines[index].sku].need > 0
            and instance.lines[index].max_cases > 0
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
        sku = instance.skus[line.sku]
        want = max(math.ceil(sku.need / line.case), line.moq_cases)
        want = min(want, line.max_cases) if terms_aware else want
        if want < line.moq_cases:
            continue
        if terms_aware:
            stock_after = sku.position + want * line.case
            gain = sku.value(stock_after) - sku.value(sku.position) - line.cost * want * line.case
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
    return sku.value_chord(stock + units) - sku.value_chord(stock) - line.cost * units


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
    _one_window(instance, cases, lp_cases)
    spend = float(sum(cases[k] * ln.case_value for k, ln in enumerate(instance.lines)))
    totals = agreement_totals(instance, cases)
    for a, tier in sorted((target_tiers or {}).items()):
        data = instance.agreements[a]
        if tier == 0 or data.tier_after(totals[a]) >= tier:
            continue
        deficit = float(data.agreement.tiers[tier - 1].threshold - data.base_exact - totals[a])
        order = sorted(data.lines, key=lambda k: -(lp_cases[k] - cases[k]))
        for k in order:
            line = instance.lines[k]
            if deficit <= 0:
                break
            if not line.admissible or cases[k] >= line.max_cases:
                continue
            windowed = (
                instance.skus[line.sku].alternatives or instance.skus[line.sku].alternative_of is not None
            )
            if (
                not cases[k]
                and windowed
                and other_window_bought(instance, sku_stock(instance, cases), line.sku)
            ):
                continue
            step = max(1, line.moq_cases - cases[k]) if cases[k] < line.moq_cases else 1
            step = max(step, min(line.max_cases - cases[k], math.ceil(deficit / line.case_value)))
            step = min(step, line.max_cases - cases[k])
            if step <= 0 or spend + step * line.case_value > budget:
                continue
            cases[k] += step
            spend += step * line.case_value
            totals[a] += step * line.case_value_exact
            deficit -= step * line.case_value
    for _ in range(5):
        totals = agreement_totals(instance, cases)
        dropped = False
        for k, line in enumerate(instance.lines):
            if cases[k] and not margin_floor_holds(instance, line, totals):
                cases[k] = 0
                dropped = True
        if not dropped:
            break
    stock = sku_stock(instance, cases)
    totals = agreement_totals(instance, cases)
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
            if not margin_floor_holds(instance, line, totals):
                continue
        step = 1 if cases[k] else line.moq_cases
        rate = 0.0
        if line.agreement >= 0:
            data = instance.agreements[line.agreement]
            rate = float(data.effective_rate(totals[line.agreement]))
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
        if not cases[k] and other_window_bought(instance, stock, line.sku):
            continue
        cases[k] += step
        stock[line.sku] += step * line.case
        spend += value
    return cases


def _one_window(instance: Instance, cases: np.ndarray, weight: np.ndarray) -> None:
    """Rule 7: where a SKU is bought in more than one option's window, keep the window with
    the most `weight` (e.g. LP cases × case) and zero the others' lines."""
    for sku in instance.skus:
        if not sku.alternatives or sku.alternative_of is not None:
            continue
        group = [sku, *(instance.skus[j] for j in sku.alternatives)]
        bought = [g for g in group if any(cases[k] for k in g.lines)]
        if len(bought) < 2:
            continue
        keep = max(bought, key=lambda g: sum(float(weight[k]) * instance.lines[k].case for k in g.lines))
        for g in bought:
            if g is not keep:
                cases[g.lines] = 0


def polish(
    instance: Instance, cases: np.ndarray, time_limit_s: float | None = None, max_passes: int | None = None
) -> np.ndarray:
    """Local search on the exact objective (Φ, exact rebate, shortfall penalty): single-line
    moves of one case up or down (0 ↔ MOQ), or to zero, kept while they stay feasible
    (`violations`' rules, checked incrementally) and raise the objective.

    The MILP optimises the chords of Φ; where a SKU's chords are not exact at every
    whole-case level this recovers what the approximation misjudged near the plan.

    At most `max_passes` passes over the lines (a count keeps the result independent of the
    machine's speed) and, if given, `time_limit_s` seconds."""
    problem = instance.problem
    started = time.perf_counter()
    cases = cases.astype(np.int64).copy()
    stock = sku_stock(instance, cases)
    totals = agreement_totals(instance, cases)
    budget = problem.budget
    spend = sum((int(cases[k]) * ln.case_value_exact for k, ln in enumerate(instance.lines)), Decimal(0))
    category: dict[str, Decimal] = {}
    supplier_value: dict[str, Decimal] = {}
    units = 0
    for k, line in enumerate(instance.lines):
        if cases[k]:
            name = instance.skus[line.sku].sku.category
            category[name] = category.get(name, Decimal(0)) + int(cases[k]) * line.case_value_exact
            supplier_value[line.supplier] = (
                supplier_value.get(line.supplier, Decimal(0)) + int(cases[k]) * line.case_value_exact
            )
            units += int(cases[k]) * line.case
    minimums = {s.code: s.min_order_value for s in problem.suppliers}
    fixed = float(problem.fixed_order_cost)

    def value_of(i: int, y: float) -> float:
        sku = instance.skus[i]
        short = sku.shortfall_penalty * max(0.0, -y)
        return sku.value(y) - short

    needy = {
        a: [j for j in data.lines if instance.lines[j].tier_needed > 0]
        for a, data in enumerate(instance.agreements)
    }

    def floor_ok(a: int, total: Decimal, k: int, new: int) -> bool:
        for j in needy[a]:
            n = new if j == k else int(cases[j])
            line = instance.lines[j]
            if n and line.tier_needed > 0 and not _floor_at(instance, line, total):
                return False
        return True

    def delta(k: int, new: int) -> float | None:
        line = instance.lines[k]
        old = int(cases[k])
        d = new - old
        if new and (new < line.moq_cases or new > line.max_cases or not line.admissible):
            return None
        if new and not old and other_window_bought(instance, stock, line.sku):
            return None  # rule 7: one window per SKU
        value = d * line.case_value_exact
        if budget is not None and d > 0 and spend + value > budget:
            return None
        name = instance.skus[line.sku].sku.category
        limit = problem.category_budgets.get(name)
        if limit is not None and d > 0 and category.get(name, Decimal(0)) + value > limit:
            return None
        if problem.capacity_units is not None and d > 0 and units + d * line.case > problem.capacity_units:
            return None
        before_supplier = supplier_value.get(line.supplier, Decimal(0))
        after_supplier = before_supplier + value
        if 0 < after_supplier < minimums.get(line.supplier, Decimal(0)):
            return None
        gain = value_of(line.sku, stock[line.sku] + d * line.case) - value_of(line.sku, stock[line.sku])
        gain -= float(value)
        if before_supplier == 0 and after_supplier > 0:
            gain -= fixed
        elif before_supplier > 0 and after_supplier == 0:
            gain += fixed
        if line.agreement >= 0:
            a = line.agreement
            data = instance.agreements[a]
            total = totals[a] + value
            if not floor_ok(a, total, k, new):
                return None
            gain += float(data.rebate_gain_exact(total) - data.rebate_gain_exact(totals[a]))
        return gain

    improved = True
    passes = 0
    limit = math.inf if time_limit_s is None else time_limit_s
    while improved and time.perf_counter() - started < limit and passes < (max_passes or math.inf):
        improved = False
        passes += 1
        for k, line in enumerate(instance.lines):
            if not line.admissible:
                continue
            old = int(cases[k])
            options = {0, old + 1 if old else line.moq_cases, old - 1 if old - 1 >= line.moq_cases else 0}
            options.discard(old)
            best, best_gain = None, 1e-7
            for new in sorted(options):
                gain = delta(k, new)
                if gain is not None and gain > best_gain:
                    best, best_gain = new, gain
            if best is None:
                continue
            d = best - old
            value = d * line.case_value_exact
            cases[k] = best
            stock[line.sku] += d * line.case
            spend += value
            name = instance.skus[line.sku].sku.category
            category[name] = category.get(name, Decimal(0)) + value
            supplier_value[line.supplier] = supplier_value.get(line.supplier, Decimal(0)) + value
            units += d * line.case
            if line.agreement >= 0:
                totals[line.agreement] += value
            improved = True
            if time.perf_counter() - started > limit:
                break
    return cases


def _floor_at(instance: Instance, line: LineData, total: Decimal) -> bool:
    data = instance.agreements[line.agreement]
    return data.effective_rate(total) >= line.needed_rate


def exchange(instance: Instance, cases: np.ndarray, max_moves: int | None = None) -> np.ndarray:
    """Budget exchanges on the exact objective: the move of one line by one case (0 ↔ MOQ) with
    the most gain per yuan is made while the budget has room; when it has not, the moves with
    the least loss per yuan freed (down a case elsewhere) pay for it, kept only if the
    exchange as a whole raises the exact objective (Φ, exact rebate, shortfall penalty).

    `polish` moves one line at a time, so under a binding budget it cannot shift money from
    a line where the last case earns little to one where the next earns much; this does, the
    way a whole-case greedy would over every line at once. Only the total budget is held
    here: with category budgets, capacity, supplier minimum order values or fixed order
    costs the proposal is returned unchanged (polish handles those). Deterministic: at most
    `max_moves` moves (default 4 × the lines), no clock."""
    problem = instance.problem
    if (
        problem.budget is None
        or problem.category_budgets
        or problem.capacity_units is not None
        or problem.fixed_order_cost
        or any(v > 0 for v in instance.min_order_value.values())
    ):
        return cases

    lines = instance.lines
    limit = 4 * len(lines) if max_moves is None else max_moves
    cases = cases.astype(np.int64).copy()
    stock = sku_stock(instance, cases)
    totals = agreement_totals(instance, cases)
    budget = problem.budget
    spend = sum((int(cases[k]) * ln.case_value_exact for k, ln in enumerate(lines)), Decimal(0))
    needy = {
        a: [j for j in data.lines if lines[j].tier_needed > 0] for a, data in enumerate(instance.agreements)
    }
    group_lines: dict[int, list[int]] = {}
    for k, line in enumerate(lines):
        sku = instance.skus[line.sku]
        primary = line.sku if sku.alternative_of is None else sku.alternative_of
        group_lines.setdefault(primary, []).append(k)
    group_of = {
        k: (ln.sku if instance.skus[ln.sku].alternative_of is None else instance.skus[ln.sku].alternative_of)
        for k, ln in enumerate(lines)
    }

    def value_of(i: int, y: float) -> float:
        sku = instance.skus[i]
        return sku.value(y) - sku.shortfall_penalty * max(0.0, -y)

    def target(k: int, up: bool) -> int | None:
        line, old = lines[k], int(cases[k])
        if up:
            new = old + 1 if old else line.moq_cases
            return new if new <= line.max_cases else None
        if not old:
            return None
        return old - 1 if old - 1 >= line.moq_cases else 0

    def gain_of(k: int, new: int) -> tuple[float, Decimal] | None:
        """Exact objective change of line k going to `new` cases and its money, or None if a
        rule (MOQ, most cases, rule 7, margin floor at the rebate earned) forbids it."""
        line, old = lines[k], int(cases[k])
        if not line.admissible or (new and (new < line.moq_cases or new > line.max_cases)):
            return None
        if new and not old and other_window_bought(instance, stock, line.sku):
            return None
        d = new - old
        value = d * line.case_value_exact
        gain = value_of(line.sku, stock[line.sku] + d * line.case) - value_of(line.sku, stock[line.sku])
        gain -= float(value)
        if line.agreement >= 0:
            a = line.agreement
            data = instance.agreements[a]
            total = totals[a] + value
            for j in needy[a]:
                n = new if j == k else int(cases[j])
                if n and not _floor_at(instance, lines[j], total):
                    return None
            gain += float(data.rebate_gain_exact(total) - data.rebate_gain_exact(totals[a]))
        return gain, value

    def apply(k: int, new: int) -> None:
        nonlocal spend
        line = lines[k]
        d = new - int(cases[k])
        value = d * line.case_value_exact
        cases[k] = new
        stock[line.sku] += d * line.case
        spend += value
        if line.agreement >= 0:
            totals[line.agreement] += value

    up_heap: list[tuple[float, int]] = []
    down_heap: list[tuple[float, int]] = []

    def push(k: int) -> None:
        for up, heap in ((True, up_heap), (False, down_heap)):
            new = target(k, up)
            if new is None:
                continue
            moved = gain_of(k, new)
            if moved is None or moved[1] == 0:
                continue
            gain, value = moved
            # up: gain per yuan spent (largest first); down: loss per yuan freed (smallest first)
            ratio = gain / float(value)
            heapq.heappush(heap, (-ratio if up else ratio, k))

    def pop(
        heap: list[tuple[float, int]], up: bool, skip: set[int]
    ) -> tuple[float, int, int, float, Decimal] | None:
        """The best current move of the heap (re-scored lazily), or None."""
        deferred = []
        found = None
        while heap:
            key, k = heapq.heappop(heap)
            if k in skip:
                deferred.append((key, k))
                continue
            new = target(k, up)
            moved = gain_of(k, new) if new is not None else None
            if moved is None or moved[1] == 0:
                continue
            ratio = moved[0] / float(moved[1])
            fresh = -ratio if up else ratio
            if abs(fresh - key) > 1e-12 * (1 + abs(key)):
                heapq.heappush(heap, (fresh, k))
                continue
            found = (ratio, k, new, moved[0], moved[1])
            break
        for item in deferred:
            heapq.heappush(heap, item)
        return found

    def touched(k: int) -> list[int]:
        return group_lines[group_of[k]]

    moves = 0
    for _pass in range(3):
        up_heap.clear()
        down_heap.clear()
        for k in range(len(lines)):
            push(k)
        before, failures = moves, 0
        while moves < limit and failures < 200:
            best = pop(up_heap, True, set())
            if best is None or best[0] <= 1e-9:
                break
            ratio, k, new, gain, value = best
            if spend + value <= budget:
                apply(k, new)
                moves += 1
                for j in touched(k):
                    push(j)
                continue
            # pay for it with the cheapest cases elsewhere (not the same SKU: its stock moves)
            need = spend + value - budget
            own = set(touched(k))
            taken: list[tuple[float, int, int, float, Decimal]] = []
            freed, loss = Decimal(0), 0.0
            while freed < need:
                down = pop(down_heap, False, own | {t[1] for t in taken})
                if down is None:
                    break
                if down[0] >= ratio or loss - down[3] >= gain:
                    heapq.heappush(down_heap, (down[0], down[1]))
                    break
                taken.append(down)
                freed -= down[4]
                loss -= down[3]
            done = False
            if freed >= need and gain - loss > 1e-7:
                # make the moves in turn, re-scored exactly; undo all unless the whole pays
                made: list[tuple[int, int]] = []
                total_gain = 0.0
                for _r, j, new_j, _g, _v in [*taken, best]:
                    moved = gain_of(j, new_j)
                    if moved is None:
                        break
                    made.append((j, int(cases[j])))
                    apply(j, new_j)
                    total_gain += moved[0]
                else:
                    done = spend <= budget and total_gain > 1e-7
                if not done:
                    for j, old in reversed(made):
                        apply(j, old)
            if done:
                moves += 1 + len(taken)
                failures = 0
                for j in sorted({j for t in [*taken, best] for j in touched(t[1])}):
                    push(j)
            else:
                # left out of this pass (the next one re-scores every line)
                for t in taken:
                    heapq.heappush(down_heap, (t[0], t[1]))
                failures += 1
        if moves == before or moves >= limit:
            break
    return cases
