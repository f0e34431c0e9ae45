"""`optimize(problem, start=...)`: the warm start of a re-optimisation (issue 13, point 3).

The start is the previous solution (units per SKU and supplier); it must reach the same
optimum as a cold solve, be repaired (lines dropped, named) when it breaks a rule, and be
ignored when it does not fit the problem at all.
"""

from __future__ import annotations

import numpy as np

from replenishment.heuristics import evaluate
from replenishment.instance import prepare
from replenishment.optimizer import optimize
from tests.replenishment.builders import agreement, item, problem, sku


def _problem(budget: float | None = None):  # type: ignore[no-untyped-def]
    return problem(
        [sku("TEE", 100, (20.0, 30.0, 40.0, 50.0, 60.0, 80.0)), sku("MUG", 50, 30.0), sku("CAP", 80, 12.0)],
        [
            item("TEE", "A", 50, case=10),
            item("MUG", "A", 25, case=6, moq=12),
            item("CAP", "B", 40, case=4),
            item("CAP", "A", 42, case=1),
        ],
        [agreement("A", [(10_000, 0.03)], 8_000)],
        budget=budget,
    )


def _objective(p, plan) -> float:  # type: ignore[no-untyped-def]
    instance = prepare(p)
    index = {(instance.skus[ln.sku].sku.code, ln.supplier): k for k, ln in enumerate(instance.lines)}
    cases = np.zeros(len(instance.lines), dtype=np.int64)
    for line in plan.lines:
        cases[index[(line.sku, line.supplier)]] = line.cases
    return evaluate(instance, cases).objective


def test_a_warm_start_from_the_optimum_keeps_it_and_says_so() -> None:
    p = _problem()
    cold = optimize(p)
    start = {(ln.sku, ln.supplier): ln.units for ln in cold.lines}
    warm = optimize(p, start=start)
    assert warm.status == "optimal"
    assert abs(_objective(p, warm) - _objective(p, cold)) <= 0.01
    assert any(
        m.startswith(f"warm start: the solve started from {len(start)} of {len(start)}")
        for m in warm.messages
    )


def test_a_poor_warm_start_still_reaches_the_optimum() -> None:
    p = _problem()
    cold = optimize(p)
    warm = optimize(p, start={("CAP", "B"): 4})
    assert warm.status == "optimal"
    assert _objective(p, warm) >= _objective(p, cold) - 0.01


def test_a_start_over_the_budget_is_repaired_by_dropping_named_lines() -> None:
    p = _problem(budget=1_500)
    start = {("TEE", "A"): 50, ("MUG", "A"): 36, ("CAP", "B"): 12}  # ¥2,500 + ¥900 + ¥480
    plan = optimize(p, start=start)
    (warm,) = [m for m in plan.messages if m.startswith("warm start")]
    assert "dropped to meet the rules" in warm and "budget" in warm
    assert plan.spend <= 1_500
    assert _objective(p, plan) >= _objective(p, optimize(p)) - 0.01


def test_a_start_that_is_not_whole_cases_or_not_a_line_is_ignored() -> None:
    p = _problem()
    for start in ({("TEE", "A"): 15}, {("TEE", "B"): 10}):
        plan = optimize(p, start=start)
        assert any(m.startswith("warm start ignored") for m in plan.messages)
        assert plan.status == "optimal"
