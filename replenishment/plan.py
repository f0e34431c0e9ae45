"""The optimizer's output (`Plan`): proposal lines with reasons, left-out SKUs, supplier summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from kernel.jsonable import to_jsonable
from replenishment.problem import Exclusion
from replenishment.reasons import Reason


@dataclass
class PlanLine:
    """Buy `units` (= `cases` × case pack) of `sku` from `supplier`.

    Money in CNY. `effective_unit_cost` is after the rebate rate this proposal
    reaches; `margin_pct` = (price − effective cost) / price × 100. Probabilities of
    a stockout are over the SKU's window (until the next delivery), without and
    with this order. `reasons` are the codes and numbers (replenishment.reasons);
    `reason` is their words.
    """

    sku: str
    supplier: str
    units: int
    cases: int
    unit_cost: Decimal
    effective_unit_cost: Decimal
    value: Decimal
    margin_pct: float
    days_of_cover: float | None
    stockout_probability_without: float
    stockout_probability_with: float
    reason: str
    reasons: list[Reason] = field(default_factory=list)
    # this line's share of its agreement's gain from this proposal (CNY), pro rata by value
    rebate_share: Decimal = Decimal("0")


@dataclass
class SupplierSummary:
    """One supplier's share of the proposal: value (CNY), the tier the period reaches with it
    (purchases so far + expected + this proposal — shown even when the proposal buys
    nothing under the agreement), and `rebate_gain`: the rebate this proposal adds (CNY),
    including the retroactive uplift on the period's earlier purchases."""

    supplier: str
    value: Decimal
    lines: int
    agreement: str | None
    tier_reached: int
    rebate_gain: Decimal
    margin_pct: float


@dataclass
class Shortfall:
    """Committed customer units the proposal leaves uncovered, what binds (codes: budget,
    category_budget, capacity, moq, min_order_value, most, margin_floor), and the words."""

    sku: str
    units: int
    binding: list[str]
    detail: str


@dataclass
class AgreementSummary:
    """One rebate agreement in this proposal (CNY): period purchases and tier before and after
    it, the period's rebate at the tier reached, and this proposal's gain (after − before)."""

    agreement: str
    supplier: str
    purchases_before: Decimal
    purchases_after: Decimal
    tier_before: int
    tier_after: int
    period_rebate: Decimal
    gain: Decimal


@dataclass
class Plan:
    """A weekly proposal as `optimize` returns it.

    `status`: optimal | feasible (time limit or gap) | relaxed (a hard constraint could
    not be met; `messages` says which) | fallback (the solver failed; greedy proposal).
    `gap` is the proven relative gap on the incremental expected profit (vs ordering
    nothing), None when no bound is known; `optimal` means it is within the problem's
    mip_gap (+ ¥1). `rebate_gain`: the rebate this proposal adds over all agreements
    (CNY), including retroactive uplift on earlier purchases; `expected_profit` is the
    increment over ordering nothing (never negative: ordering nothing is a candidate).
    `shortfalls`: committed units left uncovered, with what binds. Money in CNY.
    """

    week: date
    lines: list[PlanLine]
    exclusions: list[Exclusion]
    suppliers: list[SupplierSummary]
    status: str
    solver: str
    gap: float | None
    solve_s: float
    build_s: float
    spend: Decimal
    rebate_gain: Decimal
    expected_profit: Decimal
    fill_rate: float
    messages: list[str] = field(default_factory=list)
    objective_k: float | None = None
    bound_k: float | None = None
    shortfalls: list[Shortfall] = field(default_factory=list)
    agreements: list[AgreementSummary] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (Decimal → string, dates → ISO)."""
        return to_jsonable(self)
