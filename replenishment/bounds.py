"""A Lagrangian upper bound on the proposal MILP that keeps each agreement's tier integral.

Why: the MILP's LP relaxation lets every agreement sit "between" tiers, earning the
convex hull of a retroactive rebate — on the 10k-SKU bench that inflates the bound
by ~10 % of the increment. Here the budget is relaxed into the objective with a
multiplier λ ≥ 0; what is left decomposes per agreement, each agreement's tiers are
enumerated, and within a tier the rebate is linear, so the subproblem is a
continuous concave knapsack solved exactly by sorting.

The relaxation, step by step (every step can only raise the optimum, so the result
is a valid upper bound on the MILP's objective for every λ ≥ 0 and every μ):

1. Integrality is relaxed to each line's own convex hull: a line's value is replaced
   by its concave envelope over the purchases it can really make (0 or whole cases
   from the MOQ up), which is ≥ the value at each of them; the coupling between lines
   is continuous. Dropped as well: category budgets, capacity, supplier minimum order
   values and fixed order costs (costs ≥ 0 dropped from a maximisation only raise it).
2. The budget Σ value ≤ B is moved into the objective as λ·(B − Σ value), λ ≥ 0
   (weak duality). Each agreement's purchase S_a is still capped by B, an implied
   constraint of the original problem.
3. A SKU with one admissible line keeps its concave (chord) sales curve G inside the
   subproblem of that line's agreement — in fact the concave envelope of G over the
   units the line can buy (0 or whole cases from the MOQ up), which contains every
   integer purchase. A SKU with several admissible lines, possibly at different
   agreements, couples them through G(u), u = Σ_k u_k. For any μ let C(μ) =
   max_{0≤v≤U} G(v) − μ·v, attained at y*, and h(u) = C + μ·u for u ≤ y*, G(u) beyond
   (concave, h ≥ G). Then G(Σ_k u_k) ≤ Σ_k h(u_k) − (n − 1)·C: for two lines, if both
   are below y* this is the supporting line C + μ(u1 + u2) ≥ G; if u1 ≥ y*, G's slope
   past u1 is ≤ μ so G(u1 + u2) ≤ G(u1) + μ·u2 ≤ h(u1) + h(u2) − C; if both are past y*,
   G(u1 + u2) − G(u1) ≤ G(y* + u2) − G(y*) ≤ G(u2) − G(y*) + μ·y* (concavity, slopes
   ≤ μ past y*); more lines follow by induction since h has the same properties as G.
   So each line of the SKU gets its own concave h (its envelope over whole cases, as
   in 1) in its agreement's block and the SKU adds the constant C(μ) once.
   Rule 7 (a SKU bought within one of its windows, each window w with its own gain
   G_w and lines): each window gets its own μ_w, y_w* and h_w, all starting at the
   same C = max_w C_w(μ_w) (h_w(u) = C + μ_w·u up to y_w*, then G_w(u) − G_w(y_w*) +
   μ_w·y_w* + C). The three cases above hold for h_w with any C ≥ C_w, and the lines
   of the windows not bought sit at h(0) = C, so Σ_k h(u_k) − (n − 1)·C ≥ G_w(Σ_{k∈w}
   u_k) whichever window w is bought. (An envelope of the windows' largest gain would
   credit a fast supplier's line with the value of a slow one's longer window: on the
   1k-SKU bench that left the bound 4 % above the plan instead of 1 %.)
4. The problem is now separable per agreement (SKUs without an agreement form one
   more block with a single "tier" without rebate). For each agreement the tier is
   enumerated among those it can reach; within tier t the rebate is cum_t + r_t·(T −
   thr_t), linear in the period total T; lines whose margin floor needs a tier above
   t are zero; T is held to the tier's range. The best tier's value is kept: the
   maximum over the agreement's tiers of exact subproblem optima is that block's
   exact relaxed optimum.

The bound is minimised over λ by golden section (the dual function is convex in λ);
μ starts at the LP relaxation's marginal stock values and is then set, per split
SKU, to its cheapest effective price per unit (cost × the margin value per yuan of
the line's agreement − stock weight): with that μ the SKU is bought from its
cheapest line up to where more does not pay, which is exact for those margins.
What one multiplier cannot close — agreements on the fence between two tiers — a
branch and bound over the agreements' tier sets does (`_branch_on_tiers`). Every
λ, μ and node gives a valid bound, so a poor μ or a stopped search only costs
tightness, never validity. `bound_outside` bounds every tier vector but one: the
optimizer bounds that one (the proposal's) by the MILP with each tier held there.
SKUs with a negative position (committed orders uncovered) are not modelled here:
the function returns None for such instances and the MILP's own bound stands.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np

from replenishment.instance import Instance, LineData
from replenishment.milp import K, _cumulative_k, _rebate_at_k, tier_options

GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass
class LagrangianBound:
    """Upper bound (CNY) on the increment over ordering nothing, λ, tier per agreement at λ."""

    increment_bound: float
    multiplier: float
    tiers: dict[int, int] = field(default_factory=dict)
    iterations: int = 0
    model: _Model | None = field(default=None, repr=False)  # kept for tighten_by_tiers
    mu: np.ndarray | None = field(default=None, repr=False)


@dataclass
class _Block:
    """One agreement (or the no-agreement block, index -1): its pieces and its tiers.

    A piece is a stretch of spend (CNY) at a constant value per yuan spent `e`
    (value of sales + stock per unit / unit cost); `need` is the tier a line's
    margin floor needs. The pieces of lines of SKUs with several lines ("split")
    depend on μ and are added per μ (`_Model.tables`).
    """

    index: int
    local_e: np.ndarray
    local_len: np.ndarray
    local_need: np.ndarray
    local_line: np.ndarray  # the line of each piece
    tiers: list[int]
    low: list[float]  # least spend (CNY, this proposal) that keeps the agreement in each tier
    high: list[float]  # most spend in each tier
    rate: list[float]
    constant: list[float]  # rebate gained at zero spend in the tier's linear form


@dataclass
class _Table:
    """A block's pieces usable at one tier, by value per yuan descending."""

    e: np.ndarray
    cum_len: np.ndarray
    cum_val: np.ndarray
    origin: np.ndarray  # line index of each piece


def _sku_gain_points(instance: Instance, i: int, most_units: float) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints u (units bought, 0..most_units) and G(u) = chord Φ(pos + u) − chord Φ(pos) (CNY)."""
    sku = instance.skus[i]
    points, values = sku.value_points, sku.value_values
    pos = float(sku.position)
    inner = points[(points > pos) & (points < pos + most_units)] - pos
    u = np.concatenate(([0.0], inner, [most_units]))
    g = np.interp(pos + u, points, values) - np.interp(pos, points, values)
    return u, g


def _whole_cases_hull(instance: Instance, i: int, line: LineData) -> tuple[np.ndarray, np.ndarray]:
    """The concave envelope of G over the units a single line can really buy: 0 or whole cases
    from the MOQ to the line's maximum. Any purchase is a point of that set, so the envelope
    (tighter than the LP's [0, max] with free MOQ) still bounds it; adding the linear cost and
    rebate terms later commutes with taking the envelope."""
    u, g = _sku_gain_points(instance, i, line.max_cases * float(line.case))
    return _whole_cases_envelope(line, u, lambda x: np.interp(x, u, g))


def _whole_cases_envelope(line: LineData, breakpoints: np.ndarray, value) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Upper concave envelope of a concave piecewise-linear `value` (kinks at `breakpoints`,
    units) over 0 and the line's whole cases from its MOQ to its maximum."""
    case = float(line.case)
    lowest, highest = line.moq_cases, line.max_cases
    if highest < lowest or highest <= 0:
        return np.zeros(1), np.zeros(1)
    # the function is linear between kinks, so whole cases next to each kink suffice
    cases = {0, lowest, highest}
    for b in np.asarray(breakpoints) / case:
        for c in (math.floor(b), math.ceil(b)):
            if lowest <= c <= highest:
                cases.add(int(c))
    grid = np.array(sorted(cases), dtype=float) * case
    values = value(grid)
    hull_u: list[float] = []
    hull_g: list[float] = []
    for x, y in zip(grid, values, strict=True):
        # upper hull (monotone chain): drop the last point while it lies on or below the chord
        while len(hull_u) >= 2 and (hull_g[-1] - hull_g[-2]) * (x - hull_u[-2]) <= (y - hull_g[-2]) * (
            hull_u[-1] - hull_u[-2]
        ):
            hull_u.pop()
            hull_g.pop()
        hull_u.append(float(x))
        hull_g.append(float(y))
    return np.array(hull_u), np.array(hull_g)


def _tier_ranges(instance: Instance, a: int, budget: float) -> tuple[list[int], list[float], list[float]]:
    """The tiers agreement `a` can end in (as the MILP's) and this proposal's spend range in each."""
    data = instance.agreements[a]
    thresholds = [0.0] + data.thresholds
    tiers, low, high = [], [], []
    for t in tier_options(instance, a):
        upper = thresholds[t + 1] - data.base if t + 1 < len(thresholds) else math.inf
        tiers.append(t)
        low.append(max(thresholds[t] - data.base, 0.0))
        high.append(min(upper, budget))
    return tiers, low, high


class _Model:
    """The decomposed relaxation: blocks of pieces, split SKUs' gain curves."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        problem = instance.problem
        self.budget = float(problem.budget) if problem.budget is not None else math.inf
        self.split: list[int] = []  # SKUs with several admissible lines
        # per split SKU, per window with admissible lines: (window's SKU index, its gain
        # points u, G(u), its lines) — rule 7: each line keeps its own window's value
        self.split_windows: list[list[tuple[int, np.ndarray, np.ndarray, list[int]]]] = []
        self.split_lines_of: list[list[int]] = []
        local: dict[int, list[tuple[float, float, int, int]]] = {}
        split_lines: dict[int, list[int]] = {}
        for i, sku in enumerate(instance.skus):
            if sku.alternative_of is not None:
                continue  # rule 7: a SKU's windows are modelled together, with its own (below)
            windows = [i, *sku.alternatives]
            usable = [k for j in windows for k in instance.skus[j].lines if instance.lines[k].admissible]
            if not usable:
                continue
            if len(usable) == 1:
                line = instance.lines[usable[0]]
                u, g = _whole_cases_hull(instance, line.sku, line)
                du = np.diff(u)
                keep = du > 1e-12
                slopes = np.diff(g)[keep] / du[keep]
                for slope, d in zip(slopes, du[keep], strict=True):
                    local.setdefault(line.agreement, []).append(
                        (slope / line.cost, d * line.cost, line.tier_needed, usable[0])
                    )
            else:
                self.split.append(i)
                per_window = []
                for j in windows:
                    its = [k for k in instance.skus[j].lines if instance.lines[k].admissible]
                    if not its:
                        continue
                    most = float(sum(instance.lines[k].max_cases * instance.lines[k].case for k in its))
                    u, g = _sku_gain_points(instance, j, most)
                    per_window.append((j, u, g, its))
                self.split_windows.append(per_window)
                self.split_lines_of.append(usable)
                for k in usable:
                    split_lines.setdefault(instance.lines[k].agreement, []).append(k)
        self.blocks: list[_Block] = []
        for a in sorted(set(local) | set(split_lines)):
            pieces = local.get(a, [])
            if a < 0:
                tiers, low, high, rate, constant = [0], [0.0], [self.budget], [0.0], [0.0]
            else:
                data = instance.agreements[a]
                tiers, low, high = _tier_ranges(instance, a, self.budget)
                rates = [0.0] + data.rates
                thresholds = [0.0] + data.thresholds
                cumulative = [K * c for c in _cumulative_k(data)]
                base_rebate = K * _rebate_at_k(data, data.base_exact)
                rate = [rates[t] for t in tiers]
                # rebate in tier t at period total T = base + S is cum_t + r_t (T − thr_t);
                # only what it adds to the base's rebate is this proposal's
                constant = [
                    cumulative[t] + rates[t] * (data.base - thresholds[t]) - base_rebate for t in tiers
                ]
            self.blocks.append(
                _Block(
                    index=a,
                    local_e=np.array([p[0] for p in pieces], dtype=float),
                    local_len=np.array([p[1] for p in pieces], dtype=float),
                    local_need=np.array([p[2] for p in pieces], dtype=int),
                    local_line=np.array([p[3] for p in pieces], dtype=int),
                    tiers=tiers,
                    low=low,
                    high=high,
                    rate=rate,
                    constant=constant,
                )
            )

    def split_pieces(self, mu: np.ndarray) -> tuple[dict[int, tuple[np.ndarray, ...]], float, np.ndarray]:
        """Per block, the split lines' pieces at μ (e, length CNY, tier needed, line); Σ C_i(μ_i);
        and y_i*, the units at which each C_i is attained.

        Each line k of a split SKU gets h(u_k): slope μ up to y*, then the SKU's own chords;
        Σ_k h(u_k) − (n − 1)·C(μ) ≥ G(Σ_k u_k) (module docstring, step 3), and the
        constant C(μ) is counted once per SKU.
        """
        pieces: dict[int, list[tuple[float, float, int, int]]] = {}
        total = 0.0
        best_units = np.zeros(len(self.split))
        for j, per_window in enumerate(self.split_windows):
            attained = []
            for w, u, g, _its in per_window:
                values = g - mu[w] * u
                at = int(np.argmax(values))
                attained.append((float(values[at]), float(u[at]), float(g[at])))
            # C = the largest window's C_w: every window's h starts there (h_w(0) = C ≥ C_w)
            c_all = max(c for c, _, _ in attained)
            total += c_all
            best_units[j] = max(y for _, y, _ in attained)
            for (w, u, g, its), (_c, y, g_at_y) in zip(per_window, attained, strict=True):
                for k in its:
                    line = self.instance.lines[k]
                    # h_w(u) − C = μ_w·u up to y_w*, then G_w(u) − G_w(y_w*) + μ_w·y_w*, over the
                    # line's whole cases
                    hull_u, hull_h = _whole_cases_envelope(
                        line,
                        np.concatenate(([y], u[u > y])),
                        lambda x, w=w, y=y, g_at_y=g_at_y, u=u, g=g: (
                            mu[w] * np.minimum(x, y) + np.interp(np.maximum(x, y), u, g) - g_at_y
                        ),
                    )
                    du = np.diff(hull_u)
                    keep = du > 1e-12
                    slopes = np.diff(hull_h)[keep] / du[keep]
                    out = pieces.setdefault(line.agreement, [])
                    for slope, d in zip(slopes, du[keep], strict=True):
                        out.append((slope / line.cost, d * line.cost, line.tier_needed, k))
        arrays = {
            a: tuple(np.array([p[n] for p in rows], dtype=float if n < 2 else int) for n in range(4))
            for a, rows in pieces.items()
        }
        return arrays, total, best_units

    def tables(self, mu: np.ndarray) -> tuple[list[list[_Table]], float, np.ndarray]:
        """Each block's sorted pieces per tier at μ, Σ C_i(μ_i), and y_i* per split SKU."""
        split, constant, best_units = self.split_pieces(mu)
        empty = (np.zeros(0), np.zeros(0), np.zeros(0, dtype=int), np.zeros(0, dtype=int))
        out = []
        for b in self.blocks:
            split_e, split_len, split_need, split_line = split.get(b.index, empty)
            per_tier = []
            for t in b.tiers:
                keep = b.local_need <= t
                keep_split = split_need <= t
                e = np.concatenate((b.local_e[keep], split_e[keep_split]))
                length = np.concatenate((b.local_len[keep], split_len[keep_split]))
                origin = np.concatenate((b.local_line[keep], split_line[keep_split]))
                order = np.argsort(-e, kind="stable")
                e, length, origin = e[order], length[order], origin[order]
                per_tier.append(
                    _Table(
                        e,
                        np.concatenate(([0.0], np.cumsum(length))),
                        np.concatenate(([0.0], np.cumsum(e * length))),
                        origin,
                    )
                )
            out.append(per_tier)
        return out, constant, best_units

    def blocks_value(
        self,
        lam: float,
        tables: list[list[_Table]],
        solution: dict[int, float] | None = None,
        margins: dict[int, tuple[int, float]] | None = None,
        allowed: list[np.ndarray] | None = None,
    ) -> tuple[float, dict[int, int]]:
        """Σ over blocks of the best tier's value at λ and the tier chosen per agreement;
        `solution` (when given) receives the spend (CNY) on each line, `margins` each
        block's (tier, value per yuan at the margin of what it buys); `allowed` restricts each
        block's tiers (by position in `block.tiers`)."""
        total = 0.0
        chosen: dict[int, int] = {}
        for b, (block, per_tier) in enumerate(zip(self.blocks, tables, strict=True)):
            best, best_j, best_spend = -math.inf, -1, 0.0
            for j, table in enumerate(per_tier):
                if allowed is not None and not allowed[b][j]:
                    continue
                available = table.cum_len[-1]
                if available < block.low[j] - 1e-9:
                    continue  # the tier cannot be reached with these lines
                theta = 1.0 + lam - block.rate[j]
                # spend on everything worth more than θ per yuan, held to the tier's range
                n_better = int(np.searchsorted(-table.e, -theta, side="left"))
                spend = min(max(table.cum_len[n_better], block.low[j]), block.high[j], available)
                value = (
                    float(np.interp(spend, table.cum_len, table.cum_val)) - theta * spend + block.constant[j]
                )
                if value > best:
                    best, best_j, best_spend = value, j, spend
            if best_j < 0:
                return -math.inf, chosen  # no allowed tier is reachable: nothing is feasible
            total += best
            if block.index >= 0:
                chosen[block.index] = block.tiers[best_j]
            if margins is not None:
                table = per_tier[best_j]
                theta = 1.0 + lam - block.rate[best_j]
                at = int(np.searchsorted(table.cum_len, best_spend, side="right")) - 1
                n_better = int(np.searchsorted(-table.e, -theta, side="left"))
                if abs(best_spend - table.cum_len[n_better]) > 1e-9 and 0 <= at < table.e.size:
                    theta = float(table.e[at])  # held at the tier's range: the piece cut there
                margins[block.index] = (block.tiers[best_j], theta)
            if solution is not None:
                table = per_tier[best_j]
                taken = np.clip(best_spend - table.cum_len[:-1], 0.0, np.diff(table.cum_len))
                for k, amount in zip(table.origin, taken, strict=True):
                    if k >= 0 and amount > 0:
                        solution[int(k)] = solution.get(int(k), 0.0) + float(amount)
        return total, chosen


def lagrangian_bound(
    instance: Instance,
    marginal: dict[int, float] | None = None,
    target: float | None = None,
    iterations: int = 40,
    time_limit_s: float = 5.0,
) -> LagrangianBound | None:
    """The smallest bound found (see the module docstring); None when not applicable.

    `marginal`: a starting μ per SKU (CNY per unit), e.g. the LP relaxation's duals;
    `target`: a known achievable increment (an incumbent), below which the branch and
    bound over tiers prunes; without one it is skipped.
    """
    if any(s.position < 0 for s in instance.skus):
        return None
    started = time.perf_counter()
    model = _Model(instance)
    budget = model.budget
    if marginal is not None:
        mu = np.zeros(len(instance.skus))
        for per_window in model.split_windows:
            for w, _u, _g, _its in per_window:
                # no dual on any chord: the sales variable sits at its upper bound, stock is worth 0
                mu[w] = marginal.get(w, 0.0)
    else:
        # without a start: each window's cheapest line at its list cost (θ = 1: no budget, no rebate)
        mu = _priced_mu(model, {b.index: (max(b.tiers), 1.0) for b in model.blocks})
    best: LagrangianBound | None = None
    best_mu = mu.copy()
    lam = 0.0
    done = 0
    damping = 1.0
    for _ in range(iterations):
        done += 1
        tables, constant, _ = model.tables(mu)

        def dual(x: float, tables: list[list[_Table]] = tables, constant: float = constant) -> float:
            value, _ = model.blocks_value(x, tables)
            return value + constant + (x * budget if budget < math.inf else 0.0)

        if budget < math.inf:
            lam, value = _golden_minimum(dual, tables, lam if best is not None else None)
        else:
            lam, value = 0.0, dual(0.0)
        margins: dict[int, tuple[int, float]] = {}
        _, tiers = model.blocks_value(lam, tables, margins=margins)
        improved = best is None or value < best.increment_bound - 1e-9
        if improved:
            best = LagrangianBound(value, lam, tiers)
            best_mu = mu.copy()
        if not model.split or time.perf_counter() - started > time_limit_s:
            break
        # μ at each split SKU's cheapest effective price given the blocks' margins: exact for
        # those margins (module docstring); a fixed-point step, damped once it cycles
        if not improved:
            if damping <= 0.1:
                break
            damping /= 2
        mu = best_mu + damping * (_priced_mu(model, margins) - best_mu)
    assert best is not None
    best.iterations, best.model, best.mu = done, model, best_mu
    if target is not None:
        tighten_by_tiers(best, target, max(0.5, time_limit_s - (time.perf_counter() - started)))
    return best


def relaxed_cases(bound: LagrangianBound) -> tuple[np.ndarray, dict[int, int]] | None:
    """The relaxation's own solution at the bound's multipliers, as fractional cases per line,
    and its tier per agreement: every piece worth more than its block's θ, each block at its
    best tier, at the least λ (from the bound's up) whose spend fits the budget (a start to
    round, not a proof; None without a model)."""
    model, mu = bound.model, bound.mu
    if model is None or mu is None:
        return None
    tables, _constant, _ = model.tables(mu)
    lines = model.instance.lines
    split_lines = {k for its in model.split_lines_of for k in its}

    def solve_at(lam: float) -> tuple[dict[int, float], dict[int, int]]:
        spend: dict[int, float] = {}
        margins: dict[int, tuple[int, float]] = {}
        _, tiers = model.blocks_value(lam, tables, solution=spend, margins=margins)
        for k in split_lines:
            spend.pop(k, None)
        # a split SKU's h pieces sit at its cheapest line's price (indifferent there): buy
        # it instead in the window where it gains most, from that window's cheapest line
        # at the blocks' margins, up to where one more unit does not pay
        for per_window in model.split_windows:
            best_gain, best_line, best_units = 0.0, -1, 0.0
            for _w, u, g, its in per_window:
                for k in its:
                    line = lines[k]
                    tier, theta = margins.get(line.agreement, (0, math.inf))
                    if line.tier_needed > tier or not math.isfinite(theta):
                        continue
                    reach = u <= line.max_cases * line.case + 1e-9
                    values = g[reach] - line.cost * theta * u[reach]
                    at = int(np.argmax(values))
                    if values[at] > best_gain:
                        best_gain, best_line, best_units = float(values[at]), k, float(u[reach][at])
            if best_line >= 0:
                spend[best_line] = best_units * lines[best_line].cost
        return spend, tiers

    # the least λ ≥ the bound's whose solution fits the budget (bisection: spend falls with λ)
    low, high = bound.multiplier, bound.multiplier + 1e-6
    spend, tiers = solve_at(high)
    for _ in range(40):
        if sum(spend.values()) <= model.budget * (1 - 1e-9):
            break
        low, high = high, high * 1.5 + 1e-3
        spend, tiers = solve_at(high)
    for _ in range(12 if math.isfinite(model.budget) else 0):
        middle = (low + high) / 2
        trial = solve_at(middle)
        if sum(trial[0].values()) <= model.budget * (1 - 1e-9):
            high, (spend, tiers) = middle, trial
        else:
            low = middle
    total = sum(spend.values())
    scale = min(1.0, model.budget / total) if total > 0 else 1.0
    cases = np.zeros(len(lines))
    for k, amount in spend.items():
        cases[k] = min(scale * amount / lines[k].case_value, float(lines[k].max_cases))
    return cases, tiers


def tighten_by_tiers(bound: LagrangianBound, incumbent: float, time_limit_s: float) -> None:
    """Lower `bound.increment_bound` by branching on tiers (`_branch_on_tiers`), pruning below
    `incumbent` (an achievable increment, CNY)."""
    if bound.model is None or bound.mu is None or bound.model.budget == math.inf or incumbent <= 0:
        return
    tiered = _branch_on_tiers(bound.model, bound.mu, incumbent, time_limit_s)
    if tiered is not None and tiered < bound.increment_bound:
        bound.increment_bound = tiered


def _branch_on_tiers(model: _Model, mu: np.ndarray, incumbent: float, time_limit_s: float) -> float | None:
    """Branch and bound over the agreements' tier sets with the Lagrangian bound of each node.

    A node allows each agreement a set of tiers; its bound is the Lagrangian bound with the
    agreement's best allowed tier (valid for every tier vector in the node, for any λ and
    μ). The leaves always cover every tier vector, so the largest bound among open and
    settled nodes (or the incumbent, for nodes pruned below it) bounds the problem.
    Branching splits the tiers of an agreement whose chosen tier flips around the node's
    best λ — the duality gap one multiplier cannot close; μ is re-priced at each node
    for the tiers it holds.
    """
    started = time.perf_counter()

    def evaluate(allowed: list[np.ndarray], mu: np.ndarray, cached=None):  # type: ignore[no-untyped-def]
        tables, constant, _ = cached if cached is not None else model.tables(mu)
        lam, value, margins = _dual_minimum(model, tables, constant, allowed)
        flip = None
        for delta in (1e-3, 3e-3, 1e-2):
            _, below = model.blocks_value(max(0.0, lam - delta), tables, allowed=allowed)
            _, above = model.blocks_value(lam + delta, tables, allowed=allowed)
            differs = [a for a in below if below[a] != above.get(a)]
            if differs:
                a = differs[0]
                flip = (a, min(below[a], above[a]))
                break
        return value, margins, flip, (tables, constant, None)

    root = [np.ones(len(b.tiers), dtype=bool) for b in model.blocks]
    value, margins, flip, cached = evaluate(root, mu)
    heap: list[tuple[float, int, list[np.ndarray], np.ndarray, dict, object, bool]] = [
        (-value, 0, root, mu, margins, flip, False)
    ]
    caches = {0: cached}
    counter = 1
    settled = -math.inf
    position = {b.index: n for n, b in enumerate(model.blocks)}
    while heap and time.perf_counter() - started < time_limit_s:
        top = -heap[0][0]
        if top <= max(incumbent, settled):
            break
        neg, node_id, allowed, node_mu, margins, flip, priced = heapq.heappop(heap)
        cached = caches.pop(node_id, None)
        if not priced and model.split:
            # re-price μ for the tiers this node holds: a lower bound for the node is kept
            new_mu = _priced_mu(model, margins)
            value, new_margins, new_flip, new_cache = evaluate(allowed, new_mu)
            if value < -neg - 1e-9:
                heapq.heappush(heap, (-value, node_id, allowed, new_mu, new_margins, new_flip, False))
                caches[node_id] = new_cache
                continue
            heapq.heappush(heap, (neg, node_id, allowed, node_mu, margins, flip, True))
            if cached is not None:
                caches[node_id] = cached
            continue
        if flip is None:
            settled = max(settled, -neg)
            continue
        a, tier = flip
        b = position[a]
        tiers = np.array(model.blocks[b].tiers)
        for side in (tiers <= tier, tiers > tier):
            child = [m.copy() for m in allowed]
            child[b] &= side
            if not child[b].any():
                continue
            value, child_margins, child_flip, child_cache = evaluate(child, node_mu, cached)
            if value <= incumbent:
                continue  # nothing better than the incumbent in there
            heapq.heappush(heap, (-value, counter, child, node_mu, child_margins, child_flip, False))
            caches[counter] = child_cache
            counter += 1
    open_best = -heap[0][0] if heap else -math.inf
    return max(open_best, settled, incumbent)


def _priced_mu(model: _Model, margins: dict[int, tuple[int, float]]) -> np.ndarray:
    """Per window of a split SKU: the least effective price per unit, cost × θ of the line's
    block, over the window's lines allowed at their block's tier (its first chord slope if none)."""
    instance = model.instance
    mu = np.zeros(len(instance.skus))
    for per_window in model.split_windows:
        for w, u, g, its in per_window:
            prices = []
            for k in its:
                line = instance.lines[k]
                tier, theta = margins.get(line.agreement, (0, math.inf))
                if line.tier_needed <= tier and math.isfinite(theta):
                    prices.append(line.cost * theta)
            first = float(g[1] / u[1]) if len(u) > 1 and u[1] > 0 else 0.0
            mu[w] = min(prices) if prices else first
    return mu


def _dual_minimum(  # type: ignore[no-untyped-def]
    model, tables, constant: float, allowed: list[np.ndarray]
) -> tuple[float, float, dict[int, tuple[int, float]]]:
    """The budget multiplier λ minimising the Lagrangian dual over the `allowed` tiers, the dual's
    value there, and each block's margins at that λ."""
    budget = model.budget

    def dual(x: float) -> float:
        value, _ = model.blocks_value(x, tables, allowed=allowed)
        return value + constant + x * budget

    lam, value = _golden_minimum(dual, tables, None)
    margins: dict[int, tuple[int, float]] = {}
    model.blocks_value(lam, tables, margins=margins, allowed=allowed)
    return lam, value, margins


def golden_section(f, lo: float, hi: float, steps: int) -> tuple[float, float, float, float]:  # type: ignore[no-untyped-def]
    """(x, f(x), lo, hi): the lower of the two last probes of `steps` golden-section steps on
    [lo, hi] (f convex), and the bracket those steps ended with."""
    x1, x2 = hi - GOLDEN * (hi - lo), lo + GOLDEN * (hi - lo)
    f1, f2 = f(x1), f(x2)
    for _ in range(steps):
        if f1 <= f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - GOLDEN * (hi - lo)
            f1 = f(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + GOLDEN * (hi - lo)
            f2 = f(x2)
    x, fx = (x1, f1) if f1 <= f2 else (x2, f2)
    return x, fx, lo, hi


def _golden_minimum(dual, tables, around: float | None) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Minimise the convex dual over λ ≥ 0: golden section on [0, best value per yuan] (or a
    window around the previous λ that is widened when the minimum sits at its edge)."""
    top = max((float(t.e[0]) for per_tier in tables for t in per_tier if t.e.size), default=1.0)
    lo, hi = (0.0, max(top, 1.0)) if around is None else (max(0.0, around - 0.02), around + 0.02)
    x, f, lo, hi = golden_section(dual, lo, hi, 50 if around is None else 25)
    if around is not None and (x - lo < 1e-3 or hi - x < 1e-3):
        return _golden_minimum(dual, tables, None)
    at_zero = dual(0.0)
    return (0.0, at_zero) if at_zero < f else (x, f)


def bound_outside(
    bound: LagrangianBound, tiers: dict[int, int], time_limit_s: float = 10.0, enough: float = -math.inf
) -> float | None:
    """A bound (CNY, increment) on every tier vector other than `tiers`, or None if not reached.

    The tier vectors other than τ = `tiers` are the disjoint union, over the agreements
    a_1, a_2, ... in order, of {τ_b fixed for b before a, τ_a ≠ τ_a}; the largest
    Lagrangian bound over those pieces bounds them all. With a bound on τ itself (e.g.
    the MILP with every tier held at τ) the larger of the two bounds the problem.

    Each piece's bound holds for any μ, so the largest piece is refined, while time is
    left and it is above `enough`, by damped μ steps toward the prices at that piece's own
    tiers (which settle where one μ for every tier vector cycles); each piece keeps the
    smallest bound found.
    """
    model, mu = bound.model, bound.mu
    if model is None or mu is None or model.budget == math.inf:
        return None
    started = time.perf_counter()
    tables, constant, _ = model.tables(mu)

    def piece_bound(
        piece: list[np.ndarray], tables: list[list[_Table]], constant: float
    ) -> tuple[float, dict[int, tuple[int, float]]]:
        _, value, margins = _dual_minimum(model, tables, constant, piece)
        return value, margins

    fixed = [np.ones(len(b.tiers), dtype=bool) for b in model.blocks]
    pieces: list[tuple[float, int, list[np.ndarray], np.ndarray, dict[int, tuple[int, float]]]] = []
    for n, block in enumerate(model.blocks):
        if block.index < 0:
            continue
        held = tiers.get(block.index)
        if held is None or held not in block.tiers:
            return None  # τ does not name this agreement's tier: no partition to build on
        own = np.array([t == held for t in block.tiers])
        if (~own).any():
            piece = [m.copy() for m in fixed]
            piece[n] = ~own
            value, margins = piece_bound(piece, tables, constant)
            heapq.heappush(pieces, (-value, n, piece, mu, margins))
        fixed[n] = own
        if time.perf_counter() - started > time_limit_s:
            return None
    if not pieces:
        return -math.inf
    tries: dict[int, int] = {}
    while time.perf_counter() - started < time_limit_s and -pieces[0][0] > enough:
        neg, n, piece, piece_mu, margins = pieces[0]
        if not model.split or tries.get(n, 0) >= 8:
            break
        tries[n] = tries.get(n, 0) + 1
        stepped = piece_mu + 0.5 * (_priced_mu(model, margins) - piece_mu)
        step_tables, step_constant, _ = model.tables(stepped)
        value, step_margins = piece_bound(piece, step_tables, step_constant)
        heapq.heapreplace(pieces, (max(neg, -value), n, piece, stepped, step_margins))
    return -pieces[0][0]
