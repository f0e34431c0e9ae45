"""The proposal MILP in PuLP: integer case packs, MOQ and tier binaries, budget, margin floor.

Money inside the model is in thousands of CNY (k¥): coefficients near 4e7 CNY kept
HiGHS from finding any solution (docs/design-notes.md#libraries). HiGHS runs through
`pulp.HiGHS` (in-process, no binary needed) with a starting solution; CBC is the
bundled fallback. Expressions are built from lists (`LpAffineExpression`).
Retroactive/incremental tiers use the disaggregated (convex-hull) form: one binary
per reachable tier and a period-total variable per tier, clipped to what the
period can end at.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pulp

from replenishment.heuristics import agreement_totals, evaluate
from replenishment.instance import AgreementData, Instance
from suppliers.rebates import rebate_earned

K = 1000.0


@dataclass
class MilpModel:
    """The PuLP model and handles to the variables the plan is read from."""

    lp: pulp.LpProblem
    cases: list[pulp.LpVariable | None]
    shortfall: dict[int, pulp.LpVariable]
    tier_choice: dict[int, dict[int, pulp.LpVariable]]
    objective_constant_k: float
    all_vars: dict[str, pulp.LpVariable] = field(default_factory=dict)


@dataclass
class MilpResult:
    """Cases per line, solver status, incumbent objective and proven bound (k¥, incl. constants)."""

    cases: np.ndarray | None
    status: str
    objective_k: float | None
    bound_k: float | None
    solve_s: float
    shortfall_units: dict[int, float]
    build_s: float = 0.0


def tier_options(instance: Instance, a: int) -> list[int]:
    """Tiers (0 = none) agreement `a` can end the period in, given its base and the most the
    proposal could buy from it."""
    data = instance.agreements[a]
    reach = data.base + sum(
        instance.lines[k].max_cases * instance.lines[k].case_value
        for k in data.lines
        if instance.lines[k].admissible
    )
    if instance.problem.budget is not None:
        reach = min(reach, data.base + float(instance.problem.budget))
    thresholds = [0.0] + data.thresholds
    options = []
    for t, low in enumerate(thresholds):
        high = thresholds[t + 1] if t + 1 < len(thresholds) else float("inf")
        if low <= reach and high >= data.base:
            options.append(t)
    return options


def build_milp(instance: Instance, relax: bool = False) -> MilpModel:
    """Build the MILP (or its LP relaxation). Objective (k¥) = Σ Φ(stock) by its concave chords
    (replenishment.value) − purchase cost + rebate gained − fixed cost per purchase order
    − the shortfall penalty on committed units left uncovered."""
    problem = instance.problem
    lp = pulp.LpProblem("weekly_proposal", pulp.LpMaximize)
    cat_int = pulp.LpContinuous if relax else pulp.LpInteger
    cat_bin = pulp.LpContinuous if relax else pulp.LpBinary
    objective: list[tuple[pulp.LpVariable, float]] = []
    constant = 0.0
    all_vars: dict[str, pulp.LpVariable] = {}

    def var(name: str, low: float | None, up: float | None, cat: str) -> pulp.LpVariable:
        v = pulp.LpVariable(name, lowBound=low, upBound=up, cat=cat)
        all_vars[name] = v
        return v

    tier_usable: dict[int, list[int]] = {
        a: tier_options(instance, a) for a in range(len(instance.agreements))
    }
    cases: list[pulp.LpVariable | None] = [None] * len(instance.lines)
    placed: dict[int, pulp.LpVariable] = {}
    incremental_floor = {
        k
        for k, line in enumerate(instance.lines)
        if line.tier_needed > 0
        and line.agreement >= 0
        and instance.agreements[line.agreement].agreement.kind == "incremental"
    }
    for index, line in enumerate(instance.lines):
        if not line.admissible:
            continue
        if (
            line.agreement >= 0
            and line.tier_needed > 0
            and not any(t >= line.tier_needed for t in tier_usable[line.agreement])
        ):
            continue
        n = var(f"n_{index}", 0, line.max_cases, cat_int)
        cases[index] = n
        objective.append((n, -line.cost * line.case / K))
        if line.moq_cases > 1 or index in incremental_floor:
            b = var(f"b_{index}", 0, 1, cat_bin)
            placed[index] = b
            lp += pulp.LpAffineExpression([(n, 1.0), (b, -line.moq_cases)]) >= 0, f"moq_{index}"
            lp += pulp.LpAffineExpression([(n, 1.0), (b, -line.max_cases)]) <= 0, f"placed_{index}"

    # rule 7: one binary per window of a SKU bought in more than one option's window
    window_var: dict[int, pulp.LpVariable] = {}
    for i, sku in enumerate(instance.skus):
        if not sku.alternatives:
            continue
        usable = [
            j for j in [i, *sku.alternatives] if any(cases[k] is not None for k in instance.skus[j].lines)
        ]
        if len(usable) > 1:
            for j in usable:
                window_var[j] = var(f"x_{j}", 0, 1, cat_bin)
            lp += pulp.LpAffineExpression([(window_var[j], 1.0) for j in usable]) <= 1, f"one_window_{i}"

    shortfall: dict[int, pulp.LpVariable] = {}
    for i, sku in enumerate(instance.skus):
        bought = [(cases[k], float(instance.lines[k].case)) for k in sku.lines if cases[k] is not None]
        constant += sku.value_chord(float(sku.position)) / K
        if bought:
            # Φ's concave piecewise-linear model (k¥) in segment form: the units bought fill
            # the segments between breakpoints above the position, each at its chord's slope;
            # Φ is concave, so a maximum fills them in order. One row per SKU (the chords as
            # rows made the 10k-SKU model ~30 rows per SKU).
            fill: list[tuple[pulp.LpVariable, float]] = []
            x = window_var.get(i)
            for k, (low, high, slope) in enumerate(segments(sku)):
                d = var(f"d_{i}_{k}", 0, high - low, pulp.LpContinuous)
                objective.append((d, slope / K))
                fill.append((d, 1.0))
                if x is not None:
                    # the perspective of the window's value: its segments open only with the
                    # window, so a relaxation cannot take the best first units of every window
                    lp += pulp.LpAffineExpression([(d, 1.0), (x, -(high - low))]) <= 0, f"window_{i}_{k}"
            lp += (
                pulp.LpAffineExpression(fill + [(n, -c) for n, c in bought]) == 0,
                f"stock_{i}",
            )
        # committed units are covered by a purchase in any option's window (rule 7)
        covering = bought + [
            (cases[k], float(instance.lines[k].case))
            for j in sku.alternatives
            for k in instance.skus[j].lines
            if cases[k] is not None
        ]
        if sku.position < 0 and sku.alternative_of is None and not covering:
            constant -= sku.shortfall_penalty / K * -sku.position
        elif sku.position < 0 and sku.alternative_of is None:
            short = var(f"short_{i}", 0, -sku.position, pulp.LpContinuous)
            shortfall[i] = short
            objective.append((short, -sku.shortfall_penalty / K))
            lp += (
                pulp.LpAffineExpression([(n, c) for n, c in covering] + [(short, 1.0)]) >= -sku.position,
                f"cover_committed_{i}",
            )
        if i in window_var:
            # rule 7: the SKU's lines in this window are bought only when the window is chosen
            its = [k for k in sku.lines if cases[k] is not None]
            most = float(sum(instance.lines[k].max_cases for k in its))
            lp += (
                pulp.LpAffineExpression([(cases[k], 1.0) for k in its] + [(window_var[i], -most)]) <= 0,
                f"window_{i}",
            )

    tier_choice: dict[int, dict[int, pulp.LpVariable]] = {}
    for a, data in enumerate(instance.agreements):
        bought = [(cases[k], instance.lines[k].case_value / K) for k in data.lines if cases[k] is not None]
        if not bought:
            continue
        options = tier_usable[a]
        thresholds = [0.0] + [t / K for t in data.thresholds]
        rates = [0.0] + data.rates
        base_k = data.base / K
        reach_k = base_k + sum(
            c * instance.lines[k].max_cases
            for k, (_, c) in zip([k for k in data.lines if cases[k] is not None], bought, strict=True)
        )
        if problem.budget is not None:
            reach_k = min(reach_k, base_k + float(problem.budget) / K)
        # the model's rebate term is the period's whole rebate; only the gain is this proposal's
        constant -= _rebate_at_k(data, data.base_exact)
        cumulative = _cumulative_k(data)
        z: dict[int, pulp.LpVariable] = {}
        w: dict[int, pulp.LpVariable] = {}
        for t in options:
            z[t] = var(f"z_{a}_{t}", 0, 1, cat_bin)
            w[t] = var(f"w_{a}_{t}", 0, None, pulp.LpContinuous)
            # Each tier's range clipped to what the period can end at (base .. base + reach):
            # the disaggregated form is then the convex hull of the rebate's graph there.
            low = max(thresholds[t], base_k)
            high = min(thresholds[t + 1] if t + 1 < len(thresholds) else reach_k, reach_k)
            lp += pulp.LpAffineExpression([(w[t], 1.0), (z[t], -low)]) >= 0, f"tier_low_{a}_{t}"
            lp += pulp.LpAffineExpression([(w[t], 1.0), (z[t], -high)]) <= 0, f"tier_high_{a}_{t}"
            if data.agreement.kind == "retroactive":
                objective.append((w[t], rates[t]))
            else:
                objective.append((w[t], rates[t]))
                objective.append((z[t], cumulative[t] - rates[t] * thresholds[t]))
        lp += pulp.LpAffineExpression([(z[t], 1.0) for t in options]) == 1, f"one_tier_{a}"
        lp += (
            pulp.LpAffineExpression([(w[t], 1.0) for t in options] + [(n, -c) for n, c in bought]) == base_k,
            f"period_total_{a}",
        )
        tier_choice[a] = z
        if data.agreement.kind == "incremental":
            # Rule 5: a line that needs a rebate clears the floor only if the rebate this
            # proposal's purchase earns under the agreement, ÷ that purchase, reaches the
            # rate it needs: gain − ρ × purchase ≥ 0 whenever the line is placed.
            gain = [(w[t], rates[t]) for t in options] + [
                (z[t], cumulative[t] - rates[t] * thresholds[t]) for t in options
            ]
            gain_constant = -_rebate_at_k(data, data.base_exact)
            for k in data.lines:
                if k not in incremental_floor or cases[k] is None:
                    continue
                rho = float(instance.lines[k].needed_rate)
                big = rho * (reach_k - base_k) + abs(gain_constant) + 1.0
                lp += (
                    pulp.LpAffineExpression(gain + [(n, -rho * c) for n, c in bought] + [(placed[k], -big)])
                    >= -big - gain_constant,
                    f"incremental_floor_{k}",
                )
        for k in data.lines:
            line = instance.lines[k]
            n = cases[k]
            if n is None or line.tier_needed <= 0:
                continue
            if all(t >= line.tier_needed for t in options):
                continue
            allowed = [(z[t], -float(line.max_cases)) for t in options if t >= line.tier_needed]
            lp += pulp.LpAffineExpression([(n, 1.0)] + allowed) <= 0, f"margin_floor_{k}"

    value_terms = [
        (cases[k], line.case_value / K) for k, line in enumerate(instance.lines) if cases[k] is not None
    ]
    if problem.budget is not None:
        lp += pulp.LpAffineExpression(value_terms) <= float(problem.budget) / K, "budget"
    for category, limit in sorted(problem.category_budgets.items()):
        terms = [
            (cases[k], line.case_value / K)
            for k, line in enumerate(instance.lines)
            if cases[k] is not None and instance.skus[line.sku].sku.category == category
        ]
        if terms:
            lp += pulp.LpAffineExpression(terms) <= float(limit) / K, f"budget_category_{category}"
    if problem.capacity_units is not None:
        terms = [
            (cases[k], float(line.case)) for k, line in enumerate(instance.lines) if cases[k] is not None
        ]
        if terms:
            lp += pulp.LpAffineExpression(terms) <= problem.capacity_units, "capacity"
    fixed_cost_k = float(problem.fixed_order_cost) / K
    for s_index, (supplier, indexes) in enumerate(sorted(instance.lines_of_supplier().items())):
        minimum = instance.min_order_value.get(supplier, 0.0) / K
        terms = [(cases[k], instance.lines[k].case_value / K) for k in indexes if cases[k] is not None]
        if (minimum <= 0 and fixed_cost_k <= 0) or not terms:
            continue
        most = sum(
            instance.lines[k].max_cases * instance.lines[k].case_value / K
            for k in indexes
            if cases[k] is not None
        )
        if most < minimum:
            for k in indexes:
                if cases[k] is not None:
                    cases[k].upBound = 0
            continue
        # one purchase order per supplier: its minimum value and its fixed cost
        ordered = var(f"o_{s_index}", 0, 1, cat_bin)
        if minimum > 0:
            lp += pulp.LpAffineExpression(terms + [(ordered, -minimum)]) >= 0, f"min_order_value_{s_index}"
        lp += pulp.LpAffineExpression(terms + [(ordered, -most)]) <= 0, f"ordered_{s_index}"
        if fixed_cost_k > 0:
            objective.append((ordered, -fixed_cost_k))

    lp += pulp.LpAffineExpression(objective)
    return MilpModel(lp, cases, shortfall, tier_choice, constant, all_vars)


def segments(sku) -> list[tuple[float, float, float]]:  # type: ignore[no-untyped-def]
    """(low, high, slope CNY per unit) of each chord of Φ above the SKU's position."""
    points, values = sku.value_points, sku.value_values
    out = []
    for k in range(len(points) - 1):
        low, high = max(float(points[k]), float(sku.position)), float(points[k + 1])
        if high <= low:
            continue
        slope = float(values[k + 1] - values[k]) / float(points[k + 1] - points[k])
        out.append((low, high, slope))
    return out


def _rebate_at_k(data: AgreementData, total: Decimal) -> float:
    """Rebate (k¥) a period total of `total` CNY (exact) earns under the agreement."""
    return float(rebate_earned(total, data.agreement.tiers, data.agreement.kind)) / K


def _cumulative_k(data: AgreementData) -> list[float]:
    """Rebate (k¥) earned exactly at each threshold, tier 0 (nothing) first."""
    return [_rebate_at_k(data, t) for t in [Decimal(0)] + [tier.threshold for tier in data.agreement.tiers]]


def start_values(model: MilpModel, instance: Instance, cases: np.ndarray) -> dict[str, float]:
    """A complete starting solution (every variable) from cases per line."""
    values: dict[str, float] = {}
    stock = np.array([s.position for s in instance.skus], dtype=float)
    for k, n in enumerate(model.cases):
        if n is None:
            continue
        count = float(cases[k])
        values[n.name] = count
        stock[instance.lines[k].sku] += count * instance.lines[k].case
        b = model.all_vars.get(f"b_{k}")
        if b is not None:
            values[b.name] = 1.0 if count > 0 else 0.0
    for i, sku in enumerate(instance.skus):
        if f"d_{i}_0" in model.all_vars:
            left = stock[i] - sku.position
            for k, (low, high, _slope) in enumerate(segments(sku)):
                values[f"d_{i}_{k}"] = min(max(left, 0.0), high - low)
                left -= high - low
        short = model.shortfall.get(i)
        if short is not None:
            covered = stock[i] + sum(stock[j] - instance.skus[j].position for j in sku.alternatives)
            values[short.name] = max(0.0, -covered)
        x = model.all_vars.get(f"x_{i}")
        if x is not None:
            values[x.name] = 1.0 if stock[i] != sku.position else 0.0
    exact_totals = agreement_totals(instance, cases)
    for a, z in model.tier_choice.items():
        data = instance.agreements[a]
        total_k = float(data.base_exact + exact_totals[a]) / K
        reached = data.tier_after(exact_totals[a])
        chosen = max(t for t in z if t <= reached) if any(t <= reached for t in z) else min(z)
        for t in z:
            values[z[t].name] = 1.0 if t == chosen else 0.0
            values[f"w_{a}_{t}"] = total_k if t == chosen else 0.0
    by_supplier = instance.lines_of_supplier()
    names = sorted(by_supplier)
    for name, v in model.all_vars.items():
        if name.startswith("o_"):
            supplier = names[int(name.split("_")[1])]
            values[v.name] = 1.0 if sum(cases[k] for k in by_supplier[supplier]) > 0 else 0.0
    return values


class _HighsWithStart(pulp.HiGHS):  # type: ignore[misc,valid-type]
    """pulp.HiGHS that hands HiGHS a starting solution and keeps its proven bound."""

    def __init__(self, start: dict[str, float] | None = None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.start = start
        self.bound: float | None = None
        self.model_status: str = ""
        self.restarted = False
        self.replacement: list[float] | None = None

    @staticmethod
    def _matching_solution(highs, improving: list[tuple[float, list[float]]]) -> list[float] | None:  # type: ignore[no-untyped-def]
        if not improving:
            return None
        reported = highs.getInfo().objective_function_value
        lp = highs.getLp()
        objective, values = improving[-1]
        recomputed = float(np.dot(np.asarray(lp.col_cost_), np.asarray(values))) + lp.offset_
        # the callback's continuous columns can be a little off; its integers are what we keep
        if abs(recomputed - reported) <= 1e-5 * (1 + abs(reported)) and len(values) == lp.num_col_:
            return values
        return None

    @staticmethod
    def _solution_matches_objective(highs) -> bool:  # type: ignore[no-untyped-def]
        solution = highs.getSolution()
        if not solution.value_valid:
            return True
        lp = highs.getLp()
        value = float(np.dot(np.asarray(lp.col_cost_), np.asarray(solution.col_value))) + lp.offset_
        reported = highs.getInfo().objective_function_value
        return abs(value - reported) <= 1e-7 * (1 + abs(reported))

    def callSolver(self, lp) -> None:  # type: ignore[no-untyped-def]  # noqa: N802 - PuLP's name
        import highspy

        if self.start:
            variables = lp.variables()
            col = [0.0] * len(variables)
            for v in variables:
                col[v.index] = float(self.start.get(v.name, 0.0))
            solution = highspy.HighsSolution()
            solution.col_value = col
            solution.value_valid = True
            lp.solverModel.setSolution(solution)
        improving: list[tuple[float, list[float]]] = []

        def keep_improving(_kind, _message, data_out, _data_in, _user) -> None:  # type: ignore[no-untyped-def]
            improving.append((data_out.objective_function_value, list(data_out.mip_solution)))

        lp.solverModel.setCallback(keep_improving, None)
        lp.solverModel.startCallback(highspy.cb.HighsCallbackType.kCallbackMipImprovingSolution)
        lp.solverModel.run()
        if self.start and not self._solution_matches_objective(lp.solverModel):
            # HiGHS 1.16 with presolve can report an improved objective while handing back the
            # start's column values; the improving-solution callback saw the real ones.
            self.replacement = self._matching_solution(lp.solverModel, improving)
            if self.replacement is None:
                self.restarted = True
                lp.solverModel.setOptionValue("presolve", "off")
                lp.solverModel.setOptionValue("time_limit", max(1.0, float(self.timeLimit or 60) / 4))
                lp.solverModel.run()
        info = lp.solverModel.getInfo()
        self.model_status = lp.solverModel.modelStatusToString(lp.solverModel.getModelStatus())
        bound = getattr(info, "mip_dual_bound", None)
        if bound is not None and abs(bound) < 1e30:
            # PuLP hands HiGHS the negated (minimisation) objective
            self.bound = -bound


def solve_milp(
    instance: Instance,
    solver: str,
    time_limit_s: float,
    mip_gap: float,
    start_cases: np.ndarray | None = None,
    tier_ranges: dict[int, tuple[int, int]] | None = None,
    absolute_gap_k: float | None = None,
) -> MilpResult:
    """Build and solve; returns cases per line (None when no solution), status and bound.

    `tier_ranges` (agreement index → (lowest, highest) tier) restricts the listed
    agreements; the bound is then only valid for that restriction.
    """
    build_started = time.perf_counter()
    model = build_milp(instance)
    for a, (lowest, highest) in (tier_ranges or {}).items():
        for t, z in model.tier_choice.get(a, {}).items():
            if not lowest <= t <= highest:
                z.upBound = 0
    start = start_values(model, instance, start_cases) if start_cases is not None else None
    started = time.perf_counter()
    build_s = started - build_started
    bound: float | None = None
    if solver == "highs":
        if absolute_gap_k is not None:
            engine = _HighsWithStart(
                start=start,
                msg=False,
                timeLimit=time_limit_s,
                gapAbs=absolute_gap_k,
                gapRel=1e-6,
                threads=1,
            )
        else:
            engine = _HighsWithStart(
                start=start, msg=False, timeLimit=time_limit_s, gapRel=mip_gap, threads=1
            )
        model.lp.solve(engine)
        status = engine.model_status
        if engine.replacement is not None:
            for v in model.lp.variables():
                v.varValue = engine.replacement[v.index]
        if engine.bound is not None:
            bound = engine.bound + model.objective_constant_k
    elif solver == "cbc":
        if start:
            for name, v in model.all_vars.items():
                v.setInitialValue(start.get(name, 0.0))
        engine = pulp.PULP_CBC_CMD(
            msg=False, timeLimit=time_limit_s, gapRel=mip_gap, warmStart=start is not None
        )
        model.lp.solve(engine)
        status = pulp.LpStatus[model.lp.status]
    else:
        raise ValueError(f"unknown solver {solver!r}")
    elapsed = time.perf_counter() - started
    if model.lp.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        return MilpResult(None, status or "no solution", None, bound, elapsed, {}, build_s)
    cases = np.zeros(len(instance.lines), dtype=np.int64)
    for k, n in enumerate(model.cases):
        if n is not None and n.varValue is not None:
            cases[k] = int(round(n.varValue))
    # the objective of the cases themselves (the model's own value when it is consistent)
    objective_k = evaluate(instance, cases, chord=True).objective / K
    if solver == "highs" and status == "Optimal" and bound is None:
        bound = objective_k
    shortfall = {
        i: float(v.varValue or 0.0) for i, v in model.shortfall.items() if (v.varValue or 0.0) > 1e-6
    }
    return MilpResult(cases, status, objective_k, bound, elapsed, shortfall, build_s)


def lp_tier_choice(
    instance: Instance, marginal: dict[int, float] | None = None, time_limit_s: float | None = None
) -> tuple[dict[int, int], float | None, float]:
    """Solve the LP relaxation and read a tier per agreement: the tier its LP purchases reach.

    Returns (agreement index → tier, LP objective in k¥ incl. constants, seconds). When
    `marginal` is given it is filled with each SKU's LP value of one more unit of stock
    (CNY per unit, from the duals of its sales chords): the Lagrangian bound starts there.
    """
    started = time.perf_counter()
    model = build_milp(instance, relax=True)
    engine = _HighsWithStart(msg=False, threads=1, timeLimit=time_limit_s)
    model.lp.solve(engine)
    if model.lp.sol_status != pulp.LpSolutionOptimal:
        return {}, None, time.perf_counter() - started
    choice: dict[int, int] = {}
    for a, z in model.tier_choice.items():
        data = instance.agreements[a]
        total = data.base + sum(
            (model.cases[k].varValue or 0.0) * instance.lines[k].case_value
            for k in data.lines
            if model.cases[k] is not None
        )
        reached = data.tier_of(Decimal(repr(total)))
        leaning = max(z, key=lambda t: (z[t].varValue or 0.0, t))
        choice[a] = max(leaning, max((t for t in z if t <= reached), default=min(z)))
    if marginal is not None:
        _chord_marginals(instance, model, marginal)
    objective = (pulp.value(model.lp.objective) or 0.0) + model.objective_constant_k
    return choice, objective, time.perf_counter() - started


def _chord_marginals(instance: Instance, model: MilpModel, marginal: dict[int, float]) -> None:
    """The LP's marginal value of each SKU's stock (CNY per unit): the dual of its stock row
    × K (its sign follows the solver's convention; a marginal value below 0 is taken as 0)."""
    constraints = model.lp.constraints
    for i in range(len(instance.skus)):
        row = constraints.get(f"stock_{i}")
        if row is None or row.pi is None:
            continue
        marginal[i] = abs(row.pi) * K


def fixed_tier_lp(
    instance: Instance, tiers: dict[int, int], time_limit_s: float | None = None
) -> np.ndarray | None:
    """Cases per line (fractional) of the LP relaxation with each agreement held to `tiers`
    (None when it is not solved to optimality within `time_limit_s`)."""
    model = build_milp(instance, relax=True)
    for a, tier in tiers.items():
        for t, z in model.tier_choice.get(a, {}).items():
            z.lowBound = z.upBound = 1 if t == tier else 0
    model.lp.solve(_HighsWithStart(msg=False, threads=1, timeLimit=time_limit_s))
    if model.lp.sol_status != pulp.LpSolutionOptimal:
        return None
    return np.array([0.0 if n is None else float(n.varValue or 0.0) for n in model.cases])
