"""Reasons for a solved proposal (pure): one list of reasons per line, one reason per SKU left out.

Every number a reason quotes is computed here from the same fields the line
stores (units, cases, supplier, unit cost) and the problem's inputs (position
parts, demand quantiles, terms, agreements), with the rounding stated once:
a target in units is rounded half-up to one decimal and everything quoted after
it (need = target − position, covered when the position reaches it, the
order-up-to quantity in whole cases) is computed from that quoted target; money
is exact `Decimal` (CNY).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from replenishment.instance import Instance, LineData, SkuData
from replenishment.reasons import ParamValue, Reason, ReasonCode, money
from suppliers.rebates import tier_reached

TENTH = Decimal("0.1")
CENT = Decimal("0.01")


def target_units(value: float) -> Decimal:
    """A target in units as quoted: rounded half-up to one decimal (see the module docstring)."""
    return Decimal(repr(float(value))).quantize(TENTH, rounding=ROUND_HALF_UP)


def need_units(target: Decimal, position: int) -> Decimal:
    """Units short of the quoted target (0 when the position covers it)."""
    return max(Decimal(0), target - position)


def order_up_to_units(need: Decimal, case_pack: int, moq: int) -> int:
    """What ordering up to the target takes from one supplier: whole cases, at least the MOQ
    (0 when nothing is needed)."""
    if need <= 0:
        return 0
    moq_cases = max(1, math.ceil(moq / case_pack))
    return max(math.ceil(need / case_pack), moq_cases) * case_pack


def pct(value: float) -> str:
    """A share as a percentage with one decimal, as a string ("28.0")."""
    return f"{Decimal(repr(float(value) * 100)).quantize(TENTH, rounding=ROUND_HALF_UP)}"


@dataclass(frozen=True)
class AgreementOutcome:
    """One agreement in this proposal (CNY, exact): purchases and tier before and after it,
    the period's rebate at the tier reached, this proposal's gain and each line's share of it."""

    agreement: str
    supplier: str
    purchases_before: Decimal
    purchases_after: Decimal
    tier_before: int
    tier_after: int
    rebate_before: Decimal
    rebate_after: Decimal
    gain: Decimal
    line_shares: dict[int, Decimal]


def agreement_outcomes(instance: Instance, cases: np.ndarray) -> list[AgreementOutcome]:
    """Exact purchases, tiers and rebates per agreement; the gain is shared among the
    agreement's lines in proportion to their value, largest remainder to the cent."""
    from suppliers.rebates import rebate_earned

    out: list[AgreementOutcome] = []
    for data in instance.agreements:
        ag = data.agreement
        before = ag.purchases_to_date + ag.expected_further_purchases
        values = {
            k: int(cases[k]) * instance.lines[k].case * instance.lines[k].item.unit_cost
            for k in data.lines
            if cases[k]
        }
        after = before + sum(values.values(), Decimal(0))
        rebate_before = rebate_earned(before, ag.tiers, ag.kind).quantize(CENT, ROUND_HALF_UP)
        rebate_after = rebate_earned(after, ag.tiers, ag.kind).quantize(CENT, ROUND_HALF_UP)
        gain = rebate_after - rebate_before
        out.append(
            AgreementOutcome(
                agreement=ag.code,
                supplier=ag.supplier,
                purchases_before=before,
                purchases_after=after,
                tier_before=tier_reached(before, ag.tiers),
                tier_after=tier_reached(after, ag.tiers),
                rebate_before=rebate_before,
                rebate_after=rebate_after,
                gain=gain,
                line_shares=share_by_value(gain, values),
            )
        )
    return out


def share_by_value(total: Decimal, values: dict[int, Decimal]) -> dict[int, Decimal]:
    """`total` (CNY) split in proportion to `values`, in cents, summing exactly to `total`."""
    whole = sum(values.values(), Decimal(0))
    if not values or whole <= 0:
        return {k: Decimal(0) for k in values}
    cents = int((total / CENT).to_integral_value(ROUND_HALF_UP))
    raw = {k: Decimal(cents) * v / whole for k, v in values.items()}
    floor = {k: int(r.to_integral_value(rounding="ROUND_FLOOR")) for k, r in raw.items()}
    left = cents - sum(floor.values())
    for k in sorted(raw, key=lambda k: (-(raw[k] - floor[k]), k))[: max(left, 0)]:
        floor[k] += 1
    return {k: Decimal(c) * CENT for k, c in floor.items()}


def _target_kind(sku: SkuData) -> str:
    return "order-up-to" if sku.sku.mode == "replenish" else f"{sku.sku.season or 'season'} newsvendor stock"


def line_reasons(
    instance: Instance,
    k: int,
    cases: np.ndarray,
    outcomes: Sequence[AgreementOutcome],
    budget_binding: bool,
) -> list[Reason]:
    """Why line `k` buys what it buys: the target it serves first, then how its quantity came about."""
    line = instance.lines[k]
    sku = instance.skus[line.sku]
    units = int(cases[k]) * line.case
    target = target_units(sku.target)
    need = need_units(target, sku.position)
    reasons = [_primary(instance, sku, line, target, need), *on_order_reasons(sku)]
    if sku.alternative_of is not None:
        # rule 7: a slower supplier's goods cover its own, longer window (the primary reason's
        # target, position and need are that window's)
        reasons.append(
            Reason(
                ReasonCode.OWN_WINDOW,
                {
                    "supplier": line.supplier,
                    "lead_time_days": line.item.lead_time_days,
                    "window_days": sku.sku.window_days,
                    "extra_days": sku.extra_lead_days,
                },
            )
        )
    base = order_up_to_units(need, line.case, line.item.moq)
    if line.case > 1 or line.item.moq > 1:
        reasons.append(
            Reason(
                ReasonCode.ROUNDED_TO_CASES,
                {
                    "cases": int(cases[k]),
                    "case_pack": line.case,
                    "moq": line.item.moq if line.item.moq > line.case else None,
                    "units": units,
                },
            )
        )
    outcome = outcomes[line.agreement] if line.agreement >= 0 else None
    if units > base:
        extra_value = (units - base) * line.item.unit_cost
        if outcome is not None:
            tiers = instance.agreements[line.agreement].agreement.tiers
            without = tier_reached(outcome.purchases_after - extra_value, tiers)
        if outcome is not None and outcome.tier_after > without:
            reasons.append(
                Reason(
                    ReasonCode.RAISED_TO_TIER,
                    {
                        "from_units": base,
                        "to_units": units,
                        "agreement": outcome.agreement,
                        "tier": outcome.tier_after,
                        "tier_without": without,
                        "rebate_share": money(outcome.line_shares.get(k, Decimal(0))),
                    },
                )
            )
        else:
            reasons.append(
                Reason(ReasonCode.ABOVE_TARGET_FOR_MARGIN, {"from_units": base, "to_units": units})
            )
    elif units < base:
        # the budget cut this line only if, without it, the SKU would have bought more here:
        # the line's unconstrained quantity (Φ's optimum at its cost) is above what it buys
        free = unconstrained_units(instance, k) if budget_binding else 0
        if free > units:
            if free < base:
                reasons.append(Reason(ReasonCode.CUT_BY_PROFIT, {"from_units": base, "to_units": free}))
            reasons.append(Reason(ReasonCode.CUT_BY_BUDGET, {"from_units": free, "to_units": units}))
        else:
            reasons.append(Reason(ReasonCode.CUT_BY_PROFIT, {"from_units": base, "to_units": units}))
    if line.tier_needed > 0 and outcome is not None:
        reasons.append(
            Reason(
                ReasonCode.ADMITTED_BY_TIER,
                {
                    "margin_at_list_pct": pct(line.margin_at_cost),
                    "floor_pct": pct(instance.problem.margin_floor),
                    "tier_needed": line.tier_needed,
                    "agreement": outcome.agreement,
                    "tier_reached": outcome.tier_after,
                },
            )
        )
    return reasons


def unconstrained_units(instance: Instance, k: int) -> int:
    """Units line `k` would buy with no budget and no rebate: the whole cases (0, or the MOQ
    up to the line's most) maximising Φ(position + units) − unit cost × units, Φ the SKU's
    exact stock value. Φ is concave, so a bisection on the marginal case finds them."""
    line = instance.lines[k]
    sku = instance.skus[line.sku]

    def gain(j: int) -> float:
        return sku.value(sku.position + j * line.case) - line.cost * j * line.case

    lo, hi = line.moq_cases, max(line.max_cases, line.moq_cases)
    while hi - lo > 2:
        middle = (lo + hi) // 2
        if gain(middle + 1) > gain(middle):
            lo = middle + 1
        else:
            hi = middle
    best = max(range(lo, hi + 1), key=gain)
    return best * line.case if gain(best) > gain(0) + 1e-9 else 0


def on_order_reasons(sku: SkuData) -> list[Reason]:
    """One reason per open purchase order counted in the SKU's position (its number, supplier,
    units still to arrive inside the window, date, and the approved proposal that raised it)."""
    return [
        Reason(
            ReasonCode.ON_ORDER,
            {
                "po_number": order.po_number,
                "supplier": order.supplier,
                "units": order.units,
                "expected_date": order.expected_date.isoformat(),
                "proposal_id": order.proposal_id,
            },
        )
        for order in sku.sku.open_orders
    ]


def _primary(instance: Instance, sku: SkuData, line: LineData, target: Decimal, need: Decimal) -> Reason:
    p = sku.sku
    if p.mode == "replenish":
        return Reason(
            ReasonCode.BELOW_ORDER_UP_TO,
            {
                "target": str(target),
                "service_level_pct": pct(p.service_level),
                "position": sku.position,
                "need": str(need),
            },
        )
    ratio = f"{sku.critical_ratio or 0.0:.2f}"
    if p.mode == "prebuild" and p.season_start is not None and p.prebuild_days is not None:
        order_by = p.season_start - timedelta(days=p.prebuild_days + line.item.lead_time_days)
        return Reason(
            ReasonCode.PREBUILD,
            {
                "season": p.season or "season",
                "order_by": order_by.isoformat(),
                "season_start": p.season_start.isoformat(),
                "prebuild_days": p.prebuild_days,
                "supplier": line.supplier,
                "lead_time_days": line.item.lead_time_days,
                "demand_start": p.window_start.isoformat(),
                "demand_end": p.window_end.isoformat(),
                "target": str(target),
                "critical_ratio": ratio,
                "position": sku.position,
                "need": str(need),
            },
        )
    return Reason(
        ReasonCode.IN_SEASON,
        {
            "season": p.season or "season",
            "demand_end": p.window_end.isoformat(),
            "target": str(target),
            "critical_ratio": ratio,
            "position": sku.position,
            "need": str(need),
        },
    )


def left_out_reason(
    instance: Instance, i: int, budget_binding: bool, outcomes: Sequence[AgreementOutcome]
) -> Reason:
    """Why SKU `i` (validated, not excluded before solving) has no line."""
    sku = instance.skus[i]
    target = target_units(sku.target)
    need = need_units(target, sku.position)
    numbers = {"need": str(need), "target": str(target), "position": sku.position}
    if need <= 0:
        covered: dict[str, ParamValue] = {
            "position": sku.position,
            "target_kind": _target_kind(sku),
            "target": str(target),
        }
        if sku.sku.open_orders:
            covered["on_order"] = sum(order.units for order in sku.sku.open_orders)
            covered["po_numbers"] = ", ".join(order.po_number for order in sku.sku.open_orders)
        return Reason(ReasonCode.COVERED, covered)
    # every option of the SKU, its slower suppliers' longer windows too (rule 7)
    indexes = sku.lines + [k for alt in sku.alternatives for k in instance.skus[alt].lines]
    lines = [instance.lines[k] for k in indexes]
    admissible = [ln for ln in lines if ln.admissible]

    def reached(line: LineData) -> int:
        return outcomes[line.agreement].tier_after if line.agreement >= 0 else 0

    open_lines = [ln for ln in admissible if ln.tier_needed <= reached(ln)]
    if admissible and not open_lines:
        blocked = min(admissible, key=lambda ln: (ln.tier_needed, ln.supplier))
        return Reason(
            ReasonCode.BELOW_FLOOR_UNLESS_TIER,
            {
                "floor_pct": pct(instance.problem.margin_floor),
                "agreement": outcomes[blocked.agreement].agreement,
                "tier_needed": blocked.tier_needed,
                "tier_reached": reached(blocked),
            },
        )
    if open_lines:
        smallest = min(open_lines, key=lambda ln: (ln.moq_cases * ln.case, ln.supplier))
        smallest_units = smallest.moq_cases * smallest.case
        if smallest_units > 2 * need:
            return Reason(
                ReasonCode.MOQ_ABOVE_NEED,
                {"smallest_order": smallest_units, "supplier": smallest.supplier, "need": str(need)},
            )
        suppliers = sorted({ln.supplier for ln in open_lines})
        if all(instance.min_order_value.get(s, 0) > 0 for s in suppliers) and not budget_binding:
            return Reason(ReasonCode.MIN_ORDER_VALUE, {"suppliers": ", ".join(suppliers)})
        if budget_binding and instance.problem.budget is not None:
            return Reason(ReasonCode.BUDGET, {"budget": money(instance.problem.budget), **numbers})
    return Reason(ReasonCode.NO_PROFITABLE_ORDER, numbers)
