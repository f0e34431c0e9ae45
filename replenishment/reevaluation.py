"""Re-evaluate a proposal after a merchandiser's edits, with the optimizer's own rules (pure).

`assess(problem, lines)` scores the lines as they stand: the optimizer's `prepare`
decides which agreement each line counts toward and which tier its margin needs
(`tier_needed`), `suppliers.rebates` gives the tier reached and the rebate for the
period (exact CNY), `heuristics.evaluate` the expected profit and fill rate, and the
budget is the problem's. `compare(before, after)` lists what an edit changed as codes
with parameters (a tier lost, SKUs newly below the margin floor, the budget exceeded);
`describe` renders one finding in words. `pin_problem` turns a problem and the pinned
lines into the problem the optimizer re-solves around them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

from kernel.errors import InvalidInput
from replenishment.heuristics import evaluate
from replenishment.instance import Instance, prepare
from replenishment.problem import Problem
from suppliers.rebates import rate_reached, rebate_earned, tier_reached

CENT = Decimal("0.01")
COST_STEP = Decimal("0.0001")


@dataclass(frozen=True)
class LineChoice:
    """A proposal line as it stands: buy `units` of `sku` from `supplier` (or the line is rejected)."""

    sku: str
    supplier: str
    units: int
    rejected: bool = False


@dataclass(frozen=True)
class LineAssessment:
    """One line scored: money in CNY, `margin_pct` = (price − effective cost) / price × 100."""

    sku: str
    supplier: str
    units: int
    cases: int
    case_pack: int
    unit_cost: Decimal
    value: Decimal
    effective_unit_cost: Decimal
    margin_pct: Decimal
    agreement: str | None
    tier_needed: int  # 0 clears the floor at list cost; t needs tier t; -1 never
    below_floor: bool
    rejected: bool


@dataclass(frozen=True)
class AgreementAssessment:
    """An agreement's period: purchases so far (+ expected), this proposal's share, tier, rebate (CNY)."""

    code: str
    supplier: str
    purchases_before: Decimal
    proposal_value: Decimal
    tier_reached: int
    rebate_for_period: Decimal
    rebate_of_proposal: Decimal

    @property
    def period_total(self) -> Decimal:
        return self.purchases_before + self.proposal_value


@dataclass(frozen=True)
class Assessment:
    """A proposal's lines re-evaluated; `spend` and `rebate` over lines not rejected (CNY)."""

    lines: list[LineAssessment]
    agreements: list[AgreementAssessment]
    spend: Decimal
    rebate: Decimal
    budget: Decimal | None
    expected_profit: Decimal
    fill_rate: float
    margin_floor: float

    @property
    def below_floor(self) -> list[LineAssessment]:
        return [ln for ln in self.lines if ln.below_floor and not ln.rejected]

    @property
    def over_budget(self) -> Decimal:
        """CNY above the budget (0 within it)."""
        if self.budget is None:
            return Decimal(0)
        return max(Decimal(0), self.spend - self.budget)

    def line(self, sku: str, supplier: str) -> LineAssessment | None:
        return next((ln for ln in self.lines if ln.sku == sku and ln.supplier == supplier), None)

    def agreement(self, code: str) -> AgreementAssessment | None:
        return next((a for a in self.agreements if a.code == code), None)


@dataclass(frozen=True)
class Finding:
    """One consequence of an edit, as a code and its parameters (rendered by `describe`)."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_index(instance: Instance) -> dict[tuple[str, str], int]:
    """(SKU code, supplier code) → index of the optimizer's line for it."""
    return {(instance.skus[ln.sku].sku.code, ln.supplier): k for k, ln in enumerate(instance.lines)}


def assess(problem: Problem, choices: list[LineChoice], instance: Instance | None = None) -> Assessment:
    """Score the lines with the optimizer's rules; `InvalidInput` names a line it cannot place
    (no such supplier terms for the SKU in this proposal, units not whole cases)."""
    instance = instance or prepare(problem)
    index = line_index(instance)
    cases = np.zeros(len(instance.lines), dtype=np.int64)
    placed: list[tuple[LineChoice, int]] = []
    for choice in choices:
        k = index.get((choice.sku, choice.supplier))
        if k is None:
            raise InvalidInput(
                f"line {choice.sku} · {choice.supplier}: the proposal has no terms for this SKU from this "
                "supplier (not an eligible supplier when the proposal was made)"
            )
        line = instance.lines[k]
        if choice.units <= 0 or choice.units % line.case:
            raise InvalidInput(
                f"line {choice.sku} · {choice.supplier}: units: {choice.units} is not a whole number of "
                f"cases of {line.case}"
            )
        placed.append((choice, k))
        if not choice.rejected:
            cases[k] += choice.units // line.case

    values: dict[int, Decimal] = {}
    for choice, k in placed:
        if not choice.rejected:
            item = instance.lines[k].item
            values[k] = values.get(k, Decimal(0)) + _money(item.unit_cost * choice.units)

    agreements: list[AgreementAssessment] = []
    tier_of_agreement: dict[int, int] = {}
    rate_of_agreement: dict[int, Decimal] = {}
    for a, data in enumerate(instance.agreements):
        ag = data.agreement
        before = ag.purchases_to_date + ag.expected_further_purchases
        share = sum((v for k, v in values.items() if instance.lines[k].agreement == a), Decimal(0))
        total = before + share
        tier_of_agreement[a] = tier_reached(total, ag.tiers)
        # the rate this proposal's purchase earns (issue 12, rule 5): the tier's under
        # retroactive terms, the rebate it adds ÷ the purchase under incremental ones
        rate_of_agreement[a] = data.effective_rate(share) if share > 0 else rate_reached(total, ag.tiers)
        period = _money(rebate_earned(total, ag.tiers, ag.kind))
        agreements.append(
            AgreementAssessment(
                code=ag.code,
                supplier=ag.supplier,
                purchases_before=before,
                proposal_value=share,
                tier_reached=tier_of_agreement[a],
                rebate_for_period=period,
                rebate_of_proposal=period - _money(rebate_earned(before, ag.tiers, ag.kind)),
            )
        )

    lines: list[LineAssessment] = []
    for choice, k in placed:
        line = instance.lines[k]
        sku = instance.skus[line.sku].sku
        a = line.agreement
        rate = rate_of_agreement.get(a, Decimal(0)) if a >= 0 else Decimal(0)
        effective = (line.item.unit_cost * (1 - rate)).quantize(COST_STEP, rounding=ROUND_HALF_UP)
        lines.append(
            LineAssessment(
                sku=choice.sku,
                supplier=choice.supplier,
                units=choice.units,
                cases=choice.units // line.case,
                case_pack=line.case,
                unit_cost=line.item.unit_cost,
                value=_money(line.item.unit_cost * choice.units),
                effective_unit_cost=effective,
                margin_pct=((sku.price - effective) / sku.price * 100).quantize(CENT, rounding=ROUND_HALF_UP),
                agreement=instance.agreements[a].agreement.code if a >= 0 else None,
                tier_needed=line.tier_needed,
                # the optimizer's rule 5: a line is admissible at list cost, or when the rebate
                # rate its purchase earns (AgreementData.effective_rate) reaches the rate its
                # margin needs, never when no tier lifts it over the floor
                below_floor=line.tier_needed < 0 or rate < line.needed_rate,
                rejected=choice.rejected,
            )
        )
    scored = evaluate(instance, cases)
    spend = sum((ln.value for ln in lines if not ln.rejected), Decimal(0))
    return Assessment(
        lines=lines,
        agreements=agreements,
        spend=spend,
        rebate=sum((a.rebate_of_proposal for a in agreements), Decimal(0)),
        budget=problem.budget,
        expected_profit=_money(Decimal(str(scored.incremental_profit))),
        fill_rate=round(scored.fill_rate, 4),
        margin_floor=problem.margin_floor,
    )


def compare(before: Assessment, after: Assessment) -> list[Finding]:
    """What changed from `before` to `after`: tiers lost or gained (with the change in the
    period's rebate), SKUs newly below or back above the margin floor, the budget exceeded,
    and the change in spend, rebate and expected profit."""
    findings: list[Finding] = []
    for new in after.agreements:
        old = before.agreement(new.code)
        if old is None or old.tier_reached == new.tier_reached:
            continue
        findings.append(
            Finding(
                "tier_lost" if new.tier_reached < old.tier_reached else "tier_gained",
                {
                    "supplier": new.supplier,
                    "agreement": new.code,
                    "tier_before": old.tier_reached,
                    "tier_after": new.tier_reached,
                    "rebate_change": str(new.rebate_for_period - old.rebate_for_period),
                    "period_total": str(new.period_total),
                },
            )
        )
    was_below = {(ln.sku, ln.supplier) for ln in before.below_floor}
    now_below = {(ln.sku, ln.supplier) for ln in after.below_floor}
    fallen = [ln for ln in after.below_floor if (ln.sku, ln.supplier) not in was_below]
    if fallen:
        findings.append(
            Finding(
                "below_floor",
                {
                    "skus": [ln.sku for ln in fallen],
                    "margins": [str(ln.margin_pct) for ln in fallen],
                    "floor": after.margin_floor,
                },
            )
        )
    restored = [ln for ln in before.below_floor if (ln.sku, ln.supplier) not in now_below]
    restored = [ln for ln in restored if (after.line(ln.sku, ln.supplier) or ln).rejected is False]
    if restored:
        findings.append(
            Finding("floor_restored", {"skus": [ln.sku for ln in restored], "floor": after.margin_floor})
        )
    if after.over_budget > 0 and after.over_budget > before.over_budget:
        findings.append(
            Finding(
                "over_budget",
                {"spend": str(after.spend), "budget": str(after.budget), "excess": str(after.over_budget)},
            )
        )
    findings.append(
        Finding(
            "totals",
            {
                "spend_change": str(after.spend - before.spend),
                "rebate_change": str(after.rebate - before.rebate),
                "profit_change": str(after.expected_profit - before.expected_profit),
            },
        )
    )
    return findings


def _yuan(value: str | Decimal, signed: bool = False) -> str:
    amount = Decimal(value)
    sign = "−" if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}¥{abs(amount):,.2f}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def describe(finding: Finding, subject: str = "this edit") -> str:
    """One finding in words, every number taken from its parameters; `subject` names the cause
    ("this edit", "re-optimising")."""
    p = finding.params
    if finding.code == "tier_lost":
        return (
            f"{subject} drops {p['supplier']} below tier {p['tier_before']} ({p['agreement']}, now tier "
            f"{p['tier_after']}): {_yuan(p['rebate_change'], signed=True)} rebate for the period"
        )
    if finding.code == "tier_gained":
        return (
            f"{subject} lifts {p['supplier']} to tier {p['tier_after']} ({p['agreement']}): "
            f"{_yuan(p['rebate_change'], signed=True)} rebate for the period"
        )
    if finding.code == "below_floor":
        margins = ", ".join(f"{m} %" for m in p["margins"])
        verb = "falls" if len(p["skus"]) == 1 else "fall"
        return f"{_and(p['skus'])} {verb} below the {p['floor']:.0%} floor (margin {margins})"
    if finding.code == "floor_restored":
        return f"{_and(p['skus'])} clear the {p['floor']:.0%} floor again"
    if finding.code == "over_budget":
        return f"spend {_yuan(p['spend'])} exceeds the budget {_yuan(p['budget'])} by {_yuan(p['excess'])}"
    if finding.code == "totals":
        return (
            f"spend {_yuan(p['spend_change'], signed=True)}, "
            f"rebate {_yuan(p['rebate_change'], signed=True)}, "
            f"expected profit {_yuan(p['profit_change'], signed=True)}"
        )
    raise ValueError(f"unknown finding code {finding.code!r}")


@dataclass(frozen=True)
class Rounding:
    """Units asked → units ordered, whole cases of `case_pack`, at least the MOQ."""

    asked: int
    units: int
    cases: int
    case_pack: int
    moq: int

    def describe(self) -> str:
        if self.asked == self.units:
            return f"{self.units:,} units = {self.cases} case(s) of {self.case_pack}"
        return (
            f"{self.asked:,} → {self.units:,} units (rounded up to {self.cases} case(s) of {self.case_pack})"
        )


def round_to_cases(asked: int, case_pack: int, moq: int, where: str) -> Rounding:
    """Round `asked` units up to whole cases; `InvalidInput` (naming `where`) below the MOQ or ≤ 0."""
    if asked <= 0:
        raise InvalidInput(f"{where}: units: must be > 0, got {asked} (reject the line instead)")
    cases = math.ceil(asked / case_pack)
    units = cases * case_pack
    if units < moq:
        raise InvalidInput(
            f"{where}: units: {asked:,} is below the supplier's MOQ of {moq:,} units "
            f"(cases of {case_pack}); order at least {math.ceil(moq / case_pack) * case_pack:,} "
            "or reject the line"
        )
    return Rounding(asked, units, cases, case_pack, moq)


def pin_problem(
    problem: Problem, pinned: list[LineChoice], pinned_skus: set[str], instance: Instance | None = None
) -> Problem:
    """The problem the optimizer re-solves around pinned lines.

    Every SKU in `pinned_skus` leaves the problem (its lines stand as the user left them,
    rejected ones at zero); the pinned purchases count as expected further purchases of their
    agreement (so tiers, rebates and the margin floor see them), and come off the budget,
    the category budgets, the warehouse capacity and each supplier's minimum order value.
    `instance`: `prepare(problem)` when the caller has it already.
    """
    instance = instance or prepare(problem)
    index = line_index(instance)
    by_agreement: dict[str, Decimal] = {}
    by_supplier: dict[str, Decimal] = {}
    by_category: dict[str, Decimal] = {}
    category = {s.code: s.category for s in problem.skus}
    spend = Decimal(0)
    units = 0
    for choice in pinned:
        if choice.rejected:
            continue
        k = index.get((choice.sku, choice.supplier))
        if k is None:
            raise InvalidInput(
                f"pinned line {choice.sku} · {choice.supplier}: no such terms in this proposal"
            )
        line = instance.lines[k]
        value = _money(line.item.unit_cost * choice.units)
        spend += value
        units += choice.units
        by_supplier[choice.supplier] = by_supplier.get(choice.supplier, Decimal(0)) + value
        cat = category.get(choice.sku)
        if cat is not None:
            by_category[cat] = by_category.get(cat, Decimal(0)) + value
        if line.agreement >= 0:
            code = instance.agreements[line.agreement].agreement.code
            by_agreement[code] = by_agreement.get(code, Decimal(0)) + value
    return replace(
        problem,
        skus=[s for s in problem.skus if s.code not in pinned_skus],
        items=[i for i in problem.items if i.sku not in pinned_skus],
        agreements=[
            replace(a, expected_further_purchases=a.expected_further_purchases + by_agreement.get(a.code, 0))
            for a in problem.agreements
        ],
        suppliers=[
            replace(s, min_order_value=max(Decimal(0), s.min_order_value - by_supplier.get(s.code, 0)))
            for s in problem.suppliers
        ],
        budget=None if problem.budget is None else max(Decimal(0), problem.budget - spend),
        category_budgets={
            c: max(Decimal(0), limit - by_category.get(c, Decimal(0)))
            for c, limit in problem.category_budgets.items()
        },
        capacity_units=None if problem.capacity_units is None else max(0, problem.capacity_units - units),
    )
