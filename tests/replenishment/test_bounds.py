"""The Lagrangian bound is a valid upper bound and no weaker than the LP relaxation's.

On tiny random instances (the brute-force test's generator) it is at least the
enumerated optimum's increment over ordering nothing; started from the LP's duals
it is at most the LP relaxation's bound wherever the instance has no constraint the
bound drops (supplier minimum order values, fixed order costs); and the optimizer's
split — the MILP held to one tier vector, `bound_outside` on every other — still
bounds the optimum. The price bound (replenishment.prices) is valid at its root, at
every point its coordinate steps pass and after its branch and bound over tier sets.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings

from replenishment.bounds import _Model, bound_outside, lagrangian_bound
from replenishment.heuristics import evaluate
from replenishment.instance import prepare
from replenishment.milp import K, lp_tier_choice, solve_milp
from replenishment.prices import PriceDual, branch_and_bound
from tests.replenishment.test_bruteforce import brute_force_best, tiny_problems

TOLERANCE = 1e-6


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(tiny_problems())
def test_lagrangian_bound_between_optimum_and_lp_bound(p) -> None:  # type: ignore[no-untyped-def]
    instance = prepare(p)
    # committed orders above stock are the MILP's to bound (lagrangian_bound returns None)
    assume(all(s.position >= 0 for s in instance.skus))
    nothing = evaluate(instance, np.zeros(len(instance.lines), dtype=np.int64), chord=True).expected_profit
    optimum = brute_force_best(p) - nothing
    marginal: dict[int, float] = {}
    _choice, lp_k, _s = lp_tier_choice(instance, marginal)
    scale = 1.0 + abs(optimum)
    # from scratch, from the LP's duals, and with tier branching pruned by a poor incumbent
    for start, target in ((None, None), (marginal, None), (marginal, 0.5 * optimum if optimum > 0 else None)):
        bound = lagrangian_bound(instance, start, target=target, iterations=15)
        assert bound is not None
        assert bound.increment_bound >= optimum - TOLERANCE * scale
    started = lagrangian_bound(instance, marginal, iterations=15)
    assert started is not None and lp_k is not None
    # the LP also holds rule 5's floor under incremental agreements, which the bound drops
    incremental_floor = any(
        ln.tier_needed > 0 and instance.agreements[ln.agreement].agreement.kind == "incremental"
        for ln in instance.lines
    )
    dropped = p.fixed_order_cost or p.category_budgets or p.capacity_units is not None or incremental_floor
    if all(v == 0 for v in instance.min_order_value.values()) and not dropped:
        assert started.increment_bound <= lp_k * K - nothing + 1e-6 * (1 + abs(lp_k * K))
    # the optimizer's split: the MILP held to one tier vector, the Lagrangian on all others
    if started.tiers and p.budget is not None:
        tiers = {
            a: started.tiers.get(a, instance.agreements[a].tier_of(instance.agreements[a].base_exact))
            for a in range(len(instance.agreements))
        }
        outside = bound_outside(started, tiers)
        held = solve_milp(instance, "highs", 10.0, 1e-9, tier_ranges={a: (t, t) for a, t in tiers.items()})
        if outside is not None:
            inside = held.bound_k * K - nothing if held.bound_k is not None else -math.inf
            assert max(outside, inside) >= optimum - TOLERANCE * scale


def test_lagrangian_bound_tightens_the_lp_bound_between_tiers() -> None:
    """Two agreements on the fence of a retroactive tier under one budget: the LP earns a share
    of both jumps, the Lagrangian bound only what one whole tier pays."""
    from tests.replenishment.builders import agreement, item, problem, sku

    skus = [sku(f"S{i}", 100, 40.0) for i in range(4)]
    items = [item(f"S{i}", "A" if i < 2 else "B", 60, case=10) for i in range(4)]
    agreements = [agreement(s, [(20_000, 0.02)], 15_000) for s in ("A", "B")]
    p = problem(skus, items, agreements, budget=6_000)
    instance = prepare(p)
    nothing = evaluate(instance, np.zeros(len(instance.lines), dtype=np.int64), chord=True).expected_profit
    optimum = brute_force_best(p) - nothing
    _choice, lp_k, _s = lp_tier_choice(instance, {})
    assert lp_k is not None
    bound = lagrangian_bound(instance, None)
    assert bound is not None
    assert optimum - 1e-6 <= bound.increment_bound < lp_k * K - nothing - 1.0


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(tiny_problems())
def test_the_large_instance_path_meets_the_rules_and_proves_only_what_holds(p) -> None:  # type: ignore[no-untyped-def]
    """Above LARGE_INSTANCE_SKUS the optimizer skips the LP relaxation: the Lagrangian bound
    picks the tiers and its own solution (`relaxed_cases`) is rounded into the start. Forced
    on tiny problems: the plan meets every rule, is never worse than ordering nothing, its
    bound is never below the enumerated optimum, and `optimal` is said only when it is."""
    from unittest.mock import patch

    from replenishment.bounds import relaxed_cases
    from replenishment.heuristics import violations
    from replenishment.optimizer import optimize
    from tests.replenishment.test_bruteforce import brute_force, exact_objective, plan_cases

    instance = prepare(p)
    with patch("replenishment.optimizer.LARGE_INSTANCE_SKUS", 0):
        plan = optimize(p)
    cases = plan_cases(p, plan)
    assert not violations(instance, cases), plan.messages
    best, nothing = brute_force(p)
    value, feasible = exact_objective(p, instance, cases)
    assert feasible and value >= nothing - 1e-6
    if plan.bound_k is not None:
        chord_error = sum(s.chord_error for s in instance.skus if s.lines)
        assert plan.bound_k * K + chord_error >= best - TOLERANCE * (1 + abs(best))
    if plan.status == "optimal":
        assert value >= best - p.mip_gap * max(best - nothing, 0.0) - 1.0 - 1e-6
    # the relaxed solution it rounds stays within the budget and each line's most cases
    bound = lagrangian_bound(instance, None, iterations=5)
    if bound is not None:
        relaxed = relaxed_cases(bound)
        assert relaxed is not None
        fractional, _tiers = relaxed
        assert all(0 <= fractional[k] <= ln.max_cases + 1e-9 for k, ln in enumerate(instance.lines))
        if p.budget is not None:
            spend = sum(fractional[k] * ln.case_value for k, ln in enumerate(instance.lines))
            assert spend <= float(p.budget) * (1 + 1e-9)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(tiny_problems())
def test_price_bound_is_never_below_the_enumerated_optimum(p) -> None:  # type: ignore[no-untyped-def]
    instance = prepare(p)
    assume(all(s.position >= 0 for s in instance.skus) and p.budget is not None)
    nothing = evaluate(instance, np.zeros(len(instance.lines), dtype=np.int64), chord=True).expected_profit
    optimum = brute_force_best(p) - nothing
    scale = 1.0 + abs(optimum)
    dual = PriceDual(_Model(instance))
    root = [np.ones(len(b.tiers), dtype=bool) for b in dual.model.blocks]
    # any λ ≥ 0 and δ is a bound: the start, the minimised root, and the branch and bound
    # pruned by a poor incumbent and by the optimum itself
    start = [np.zeros(len(b.tiers)) for b in dual.model.blocks]
    assert dual.value(0.0, start, root) >= optimum - TOLERANCE * scale
    assert dual.value(0.3, [d - 0.2 for d in start], root) >= optimum - TOLERANCE * scale
    assert dual.minimise(root).value >= optimum - TOLERANCE * scale
    for incumbent in (0.5 * optimum if optimum > 0 else -1.0, optimum - 1e-6 * scale):
        bound, _solved, _open = branch_and_bound(dual, incumbent, nodes=40)
        assert bound >= optimum - TOLERANCE * scale
