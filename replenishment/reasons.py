"""Why a proposal buys or leaves out a SKU: reason codes with their numbers, rendered to words here only.

A `Reason` is a code (`ReasonCode`) and the parameters it quotes. Parameters are
plain JSON values: integers (units, tiers, days), decimal strings (money in CNY,
targets in units with one decimal), ISO dates, codes. They are the stored numbers:
`render` only formats them, so every number a buyer reads is a parameter, and a
test recomputes each parameter from the stored line and the problem's inputs.
Code that selects lines (the demo, the CLI, tests) compares codes, never words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

ParamValue = str | int | float | None


class ReasonCode(StrEnum):
    """Every reason restock gives; the value is stored, so never rename a member's value."""

    # why a line exists (one of these comes first)
    BELOW_ORDER_UP_TO = "below_order_up_to"
    PREBUILD = "prebuild"
    IN_SEASON = "in_season_topup"
    # how its quantity came about (qualifiers)
    ROUNDED_TO_CASES = "rounded_to_cases"
    OWN_WINDOW = "own_window"
    ABOVE_TARGET_FOR_MARGIN = "above_target_for_margin"
    RAISED_TO_TIER = "raised_to_tier"
    ADMITTED_BY_TIER = "admitted_by_tier"
    CUT_BY_BUDGET = "cut_by_budget"
    CUT_BY_PROFIT = "cut_by_profit"
    ALSO_IN_OPEN_PROPOSAL = "also_in_open_proposal"
    ON_ORDER = "on_order"
    # why an active SKU has no line (exactly one per SKU)
    NO_SUPPLIER = "no_supplier"
    COVERED = "covered"
    NOT_YET = "not_yet"
    TOO_LATE = "too_late"
    NO_FORECAST = "no_forecast"
    INVALID_INPUT = "invalid_input"
    INVALID_TERMS = "invalid_terms"
    BELOW_MARGIN_FLOOR = "below_margin_floor"
    BELOW_FLOOR_UNLESS_TIER = "below_floor_unless_tier"
    MOQ_ABOVE_NEED = "moq_above_need"
    MIN_ORDER_VALUE = "min_order_value"
    BUDGET = "budget"
    NO_PROFITABLE_ORDER = "no_profitable_order"


# What the line's first reason may be, and what a left-out SKU's reason may be.
LINE_CODES = frozenset({ReasonCode.BELOW_ORDER_UP_TO, ReasonCode.PREBUILD, ReasonCode.IN_SEASON})
EXCLUSION_CODES = frozenset(
    {
        ReasonCode.NO_SUPPLIER,
        ReasonCode.COVERED,
        ReasonCode.NOT_YET,
        ReasonCode.TOO_LATE,
        ReasonCode.NO_FORECAST,
        ReasonCode.INVALID_INPUT,
        ReasonCode.INVALID_TERMS,
        ReasonCode.BELOW_MARGIN_FLOOR,
        ReasonCode.BELOW_FLOOR_UNLESS_TIER,
        ReasonCode.MOQ_ABOVE_NEED,
        ReasonCode.MIN_ORDER_VALUE,
        ReasonCode.BUDGET,
        ReasonCode.NO_PROFITABLE_ORDER,
    }
)


@dataclass(frozen=True)
class Reason:
    """One reason: its code and the numbers it quotes (JSON values; see the module docstring)."""

    code: ReasonCode
    params: dict[str, ParamValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code.value, "params": dict(self.params)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Reason:
        return cls(ReasonCode(raw["code"]), dict(raw.get("params") or {}))

    def __str__(self) -> str:
        return render(self)


def units(value: float) -> str:
    """A unit quantity as quoted in reasons: one decimal, as a string ("67.8")."""
    return f"{Decimal(str(round(float(value), 1))):.1f}"


def money(value: Decimal | float) -> str:
    """CNY with two decimals as a string ("19950.00")."""
    return f"{Decimal(str(value)).quantize(Decimal('0.01')):.2f}"


def fmt_units(value: ParamValue) -> str:
    number = Decimal(str(value))
    return f"{number:,.1f}" if number != number.to_integral_value() else f"{int(number):,}"


def fmt_money(value: ParamValue) -> str:
    """¥ with thousands separators and two decimals: the one money format of restock's output."""
    return f"¥{Decimal(str(value)):,.2f}"


def fmt_pct(value: ParamValue) -> str:
    return f"{Decimal(str(value)):.1f}%"


def _render_one(code: ReasonCode, p: dict[str, ParamValue]) -> str:
    if code is ReasonCode.BELOW_ORDER_UP_TO:
        return (
            f"order-up-to {fmt_units(p['target'])} at {fmt_pct(p['service_level_pct'])} service, "
            f"position {fmt_units(p['position'])}: need {fmt_units(p['need'])}"
        )
    if code is ReasonCode.PREBUILD:
        return (
            f"{p['season']} pre-build: order by {p['order_by']} (season starts {p['season_start']}, "
            f"shelf {p['prebuild_days']} days before, {p['supplier']} lead time {p['lead_time_days']} days); "
            f"demand {p['demand_start']}..{p['demand_end']}: newsvendor stock {fmt_units(p['target'])} "
            f"at critical ratio {p['critical_ratio']}, position {fmt_units(p['position'])}: "
            f"need {fmt_units(p['need'])}"
        )
    if code is ReasonCode.IN_SEASON:
        return (
            f"{p['season']} top-up until {p['demand_end']}: newsvendor stock {fmt_units(p['target'])} "
            f"at critical ratio {p['critical_ratio']}, position {fmt_units(p['position'])}: "
            f"need {fmt_units(p['need'])}"
        )
    if code is ReasonCode.OWN_WINDOW:
        return (
            f"supplier {p['supplier']}'s lead time {p['lead_time_days']} d: its own protection window of "
            f"{p['window_days']} d ({p['extra_days']} d longer than the fastest option's)"
        )
    if code is ReasonCode.ROUNDED_TO_CASES:
        moq = f", MOQ {fmt_units(p['moq'])}" if p.get("moq") else ""
        return (
            f"{fmt_units(p['cases'])} case(s) of {fmt_units(p['case_pack'])}{moq} = {fmt_units(p['units'])}"
        )
    if code is ReasonCode.ABOVE_TARGET_FOR_MARGIN:
        return (
            f"raised from {fmt_units(p['from_units'])} to {fmt_units(p['to_units'])}: "
            "the extra units' expected margin exceeds their cost"
        )
    if code is ReasonCode.RAISED_TO_TIER:
        return (
            f"raised from {fmt_units(p['from_units'])} to {fmt_units(p['to_units'])} so that "
            f"{p['agreement']} reaches tier {p['tier']} (tier {p['tier_without']} without the extra "
            f"units); this line's share of the proposal's rebate gain {fmt_money(p['rebate_share'])}"
        )
    if code is ReasonCode.ADMITTED_BY_TIER:
        return (
            f"margin {fmt_pct(p['margin_at_list_pct'])} at list cost clears the floor "
            f"{fmt_pct(p['floor_pct'])} only with tier {p['tier_needed']} of {p['agreement']} "
            f"(reached: tier {p['tier_reached']})"
        )
    if code is ReasonCode.CUT_BY_BUDGET:
        return (
            f"cut by the budget from {fmt_units(p['from_units'])} (what this line buys without a "
            f"budget) to {fmt_units(p['to_units'])}"
        )
    if code is ReasonCode.CUT_BY_PROFIT:
        return (
            f"cut from {fmt_units(p['from_units'])} to {fmt_units(p['to_units'])}: the last units' "
            "expected sales do not pay their cost"
        )
    if code is ReasonCode.ALSO_IN_OPEN_PROPOSAL:
        return (
            f"proposal {p['proposal_id']} (week {p['week']}), still open, would also buy "
            f"{fmt_units(p['units'])} of this SKU"
        )
    if code is ReasonCode.ON_ORDER:
        raised = f" (raised by approved proposal {p['proposal_id']})" if p.get("proposal_id") else ""
        return (
            f"PO {p['po_number']} ({p['supplier']}) brings {fmt_units(p['units'])} units by "
            f"{p['expected_date']}{raised}: counted as on order in the position"
        )
    if code is ReasonCode.NO_SUPPLIER:
        return "no active supplier item"
    if code is ReasonCode.COVERED:
        on_order = ""
        if p.get("on_order"):
            on_order = f" (of which {fmt_units(p['on_order'])} on order: PO {p['po_numbers']})"
        return (
            f"position {fmt_units(p['position'])}{on_order} covers {p['target_kind']} "
            f"{fmt_units(p['target'])}"
        )
    if code is ReasonCode.NOT_YET:
        return (
            f"{p['season']} pre-build: not bought ahead; a later proposal can still place it by "
            f"{p['order_by']} ({p['supplier']}, lead time {p['lead_time_days']} days)"
        )
    if code is ReasonCode.TOO_LATE:
        return (
            f"{p['season']}: nothing ordered now arrives before the season ends {p['season_end']} "
            f"(shortest lead time {p['lead_time_days']} days)"
        )
    if code is ReasonCode.NO_FORECAST:
        return (
            f"forecast run {p['run_id']} has no demand for {p['window_start']}..{p['window_end']} "
            "for this SKU"
        )
    if code in (ReasonCode.INVALID_INPUT, ReasonCode.INVALID_TERMS):
        return f"{p['field']}: {p['problem']}"
    if code is ReasonCode.BELOW_MARGIN_FLOOR:
        return (
            f"below margin floor {fmt_pct(p['floor_pct'])} even at the best tier: margin "
            f"{fmt_pct(p['margin_pct'])} (price {fmt_money(p['price'])}, lowest effective cost "
            f"{fmt_money(p['best_cost'])})"
        )
    if code is ReasonCode.BELOW_FLOOR_UNLESS_TIER:
        return (
            f"below margin floor {fmt_pct(p['floor_pct'])} unless {p['agreement']} reaches tier "
            f"{p['tier_needed']}; the proposal reached tier {p['tier_reached']}"
        )
    if code is ReasonCode.MOQ_ABOVE_NEED:
        return (
            f"smallest order {fmt_units(p['smallest_order'])} units ({p['supplier']}) is far above "
            f"the need {fmt_units(p['need'])}"
        )
    if code is ReasonCode.MIN_ORDER_VALUE:
        return f"supplier minimum order value not reached ({p['suppliers']})"
    if code is ReasonCode.BUDGET:
        return (
            f"budget {fmt_money(p['budget'])} spent on lines with more expected profit per yuan; "
            f"need {fmt_units(p['need'])} (order-up-to {fmt_units(p['target'])}, position "
            f"{fmt_units(p['position'])})"
        )
    if code is ReasonCode.NO_PROFITABLE_ORDER:
        return (
            f"need {fmt_units(p['need'])} (order-up-to {fmt_units(p['target'])}, position "
            f"{fmt_units(p['position'])}), but no order has positive expected profit"
        )
    raise AssertionError(f"unrendered reason code {code}")  # pragma: no cover


def render(reason: Reason) -> str:
    """The reason in words (English); the only place reason text is made."""
    return _render_one(reason.code, reason.params)


def render_all(reasons: list[Reason] | tuple[Reason, ...]) -> str:
    """Several reasons of one line, joined."""
    return "; ".join(render(r) for r in reasons)


def _short_one(code: ReasonCode, p: dict[str, ParamValue]) -> str | None:
    if code is ReasonCode.BELOW_ORDER_UP_TO:
        return f"need {fmt_units(p['need'])} of {fmt_units(p['target'])}"
    if code is ReasonCode.PREBUILD:
        return f"pre-build by {str(p['order_by'])[5:]}"
    if code is ReasonCode.IN_SEASON:
        return f"top-up, need {fmt_units(p['need'])}"
    if code is ReasonCode.RAISED_TO_TIER:
        return f"+tier {p['tier']}"
    if code is ReasonCode.ADMITTED_BY_TIER:
        return f"tier-{p['tier_needed']} margin"
    if code is ReasonCode.CUT_BY_BUDGET:
        return "cut: budget"
    if code is ReasonCode.ALSO_IN_OPEN_PROPOSAL:
        return f"also in #{p['proposal_id']}"
    if code is ReasonCode.ON_ORDER:
        return f"{fmt_units(p['units'])} on order"
    if code is ReasonCode.COVERED:
        return f"covered: {fmt_units(p['position'])} ≥ {fmt_units(p['target'])}"
    if code is ReasonCode.NOT_YET:
        return f"{p['season']}: later, by {p['order_by']}"
    if code is ReasonCode.TOO_LATE:
        return f"{p['season']}: too late"
    if code is ReasonCode.NO_FORECAST:
        return "no forecast"
    if code is ReasonCode.BELOW_MARGIN_FLOOR:
        return f"margin {fmt_pct(p['margin_pct'])} < floor"
    if code is ReasonCode.BELOW_FLOOR_UNLESS_TIER:
        return f"margin needs tier {p['tier_needed']}"
    if code is ReasonCode.MOQ_ABOVE_NEED:
        return f"MOQ {fmt_units(p['smallest_order'])} ≫ need {fmt_units(p['need'])}"
    if code is ReasonCode.BUDGET:
        return "budget"
    if code is ReasonCode.NO_PROFITABLE_ORDER:
        return "no profitable order"
    if code is ReasonCode.MIN_ORDER_VALUE:
        return "supplier minimum"
    if code is ReasonCode.NO_SUPPLIER:
        return "no supplier"
    if code in (ReasonCode.INVALID_INPUT, ReasonCode.INVALID_TERMS):
        return f"bad {p['field']}"
    return None


# The one qualifier a narrow table shows next to a line's first reason, most telling first.
SHORT_QUALIFIERS = (
    ReasonCode.ALSO_IN_OPEN_PROPOSAL,
    ReasonCode.RAISED_TO_TIER,
    ReasonCode.ADMITTED_BY_TIER,
    ReasonCode.CUT_BY_BUDGET,
    ReasonCode.ON_ORDER,
)


def render_short(reasons: list[Reason] | tuple[Reason, ...]) -> str:
    """A few words for a narrow table: the first reason's gist and its most telling qualifier."""
    if not reasons:
        return ""
    text = _short_one(reasons[0].code, reasons[0].params) or ""
    by_code = {r.code: r for r in reasons[1:]}
    for code in SHORT_QUALIFIERS:
        if code in by_code:
            return f"{text}, {_short_one(code, by_code[code].params)}"
    return text
