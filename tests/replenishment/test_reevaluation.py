"""Re-evaluation after edits judges the margin floor as the optimizer does (issue 12, rule 5).

Agreement with supplier A: tier 1 from ¥100,000 at 2 %, tier 2 from ¥200,000 at 5 %;
¥150,000 bought so far. SKU P2: price ¥100, cost ¥72.00 from A (28 % at list), cases of 10;
the 30 % floor needs a rebate rate ≥ 1 − 0.70 × 100 / 72 = 2.78 % on it, i.e. tier 2.
A proposal of 700 units (¥50,400) takes the period to ¥200,400 — tier 2.

- retroactive: the purchase earns 5 %: effective cost 72 × 0.95 = ¥68.40, margin 31.60 %;
- incremental: it adds 2 % × ¥50,000 + 5 % × ¥400 = ¥1,020.00, i.e. 1,020 / 50,400 =
  2.0238 % of it: effective cost 72 × (1 − 0.020238) = ¥70.5429, margin 29.46 % — below
  the floor, although the period reaches tier 2.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from replenishment.heuristics import violations
from replenishment.instance import prepare
from replenishment.reevaluation import LineChoice, assess, line_index
from tests.replenishment.builders import agreement, item, problem, sku


def _problem(kind: str):  # type: ignore[no-untyped-def]
    return problem(
        [sku("P2", 100, 800.0)],
        [item("P2", "A", 72.00, case=10, moq=10)],
        [agreement("A", [(100_000, 0.02), (200_000, 0.05)], 150_000, kind=kind)],
    )


@pytest.mark.parametrize(
    ("kind", "effective", "margin", "below", "rebate"),
    [
        ("retroactive", Decimal("68.4000"), Decimal("31.60"), False, Decimal("7020.00")),
        ("incremental", Decimal("70.5429"), Decimal("29.46"), True, Decimal("1020.00")),
    ],
)
def test_the_floor_after_an_edit_holds_at_the_rate_the_purchase_earns(
    kind: str, effective: Decimal, margin: Decimal, below: bool, rebate: Decimal
) -> None:
    p = _problem(kind)
    result = assess(p, [LineChoice("P2", "A", 700)])
    (line,) = result.lines
    assert result.agreements[0].tier_reached == 2
    assert result.agreements[0].rebate_of_proposal == rebate
    assert line.effective_unit_cost == effective
    assert line.margin_pct == margin
    assert line.below_floor is below
    # the optimizer's own feasibility check agrees line by line
    instance = prepare(p)
    cases = np.zeros(len(instance.lines), dtype=np.int64)
    cases[line_index(instance)[("P2", "A")]] = 70
    broken = violations(instance, cases)
    assert any("margin floor" in v for v in broken) is below


def test_a_purchase_far_past_the_threshold_clears_the_floor_under_incremental_terms() -> None:
    # 5,000 units (¥360,000) → period ¥510,000: adds 2 % × 50,000 + 5 % × 310,000 = ¥16,500,
    # 4.583 % of the purchase ≥ 2.78 %: effective 72 × (1 − 0.0458333) = ¥68.7000, margin 31.30 %
    result = assess(_problem("incremental"), [LineChoice("P2", "A", 5_000)])
    (line,) = result.lines
    assert result.agreements[0].rebate_of_proposal == Decimal("16500.00")
    assert line.effective_unit_cost == Decimal("68.7000")
    assert line.margin_pct == Decimal("31.30")
    assert not line.below_floor
