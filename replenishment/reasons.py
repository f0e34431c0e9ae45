"""Why a proposal buys or leaves out a SKU: reason codes with their numbers, rendered to words here only.

A `Reason` is a code (`ReasonCode`) and the parameters it quotes. Parameters are
plain JSON values: integers (units, tiers, days), decimal strings (money in CNY,
targets in units with one decimal), ISO dates, codes. They are the stored numbers:
`render` only formats them, so every number a buyer reads is a parameter, and a
test recomputes each parameter from the stored line and the problem's inputs.
Code that selects lines (the demo, the CLI, tests) compares codes, never words.
"""

from __future__ import annotations

from collections.abc import Callable
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


# The words of every reason, one template per code (and variant), with the parameters as named
# fields. These strings are the message ids of the translations: a shell passes its catalogue's
# gettext to `render`, and `TEMPLATES` is what a catalogue must translate.
_T = {
    "below_order_up_to": (
        "order-up-to {target} at {service_level_pct} service, position {position}: need {need}"
    ),
    "prebuild": (
        "{season} pre-build: order by {order_by} (season starts {season_start}, shelf {prebuild_days} days "
        "before, {supplier} lead time {lead_time_days} days); demand {demand_start}..{demand_end}: "
        "newsvendor stock {target} at critical ratio {critical_ratio}, position {position}: need {need}"
    ),
    "in_season_topup": (
        "{season} top-up until {demand_end}: newsvendor stock {target} at critical ratio {critical_ratio}, "
        "position {position}: need {need}"
    ),
    "own_window": (
        "supplier {supplier}'s lead time {lead_time_days} d: its own protection window of {window_days} d "
        "({extra_days} d longer than the fastest option's)"
    ),
    "rounded_to_cases": "{cases} case(s) of {case_pack} = {units}",
    "rounded_to_cases+moq": "{cases} case(s) of {case_pack}, MOQ {moq} = {units}",
    "above_target_for_margin": (
        "raised from {from_units} to {to_units}: the extra units' expected margin exceeds their cost"
    ),
    "raised_to_tier": (
        "raised from {from_units} to {to_units} so that {agreement} reaches tier {tier} (tier {tier_without} "
        "without the extra units); this line's share of the proposal's rebate gain {rebate_share}"
    ),
    "admitted_by_tier": (
        "margin {margin_at_list_pct} at list cost clears the floor {floor_pct} only with tier {tier_needed} "
        "of {agreement} (reached: tier {tier_reached})"
    ),
    "cut_by_budget": (
        "cut by the budget from {from_units} (what this line buys without a budget) to {to_units}"
    ),
    "cut_by_profit": (
        "cut from {from_units} to {to_units}: the last units' expected sales do not pay their cost"
    ),
    "also_in_open_proposal": (
        "proposal {proposal_id} (week {week}), still open, would also buy {units} of this SKU"
    ),
    "on_order": (
        "PO {po_number} ({supplier}) brings {units} units by {expected_date}: "
        "counted as on order in the position"
    ),
    "on_order+proposal": (
        "PO {po_number} ({supplier}) brings {units} units by {expected_date} (raised by approved proposal "
        "{proposal_id}): counted as on order in the position"
    ),
    "no_supplier": "no active supplier item",
    "covered": "position {position} covers {target_kind} {target}",
    "covered+on_order": (
        "position {position} (of which {on_order} on order: PO {po_numbers}) covers {target_kind} {target}"
    ),
    "not_yet": (
        "{season} pre-build: not bought ahead; a later proposal can still place it by {order_by} "
        "({supplier}, lead time {lead_time_days} days)"
    ),
    "too_late": (
        "{season}: nothing ordered now arrives before the season ends {season_end} "
        "(shortest lead time {lead_time_days} days)"
    ),
    "no_forecast": "forecast run {run_id} has no demand for {window_start}..{window_end} for this SKU",
    "invalid_input": "{field}: {problem}",
    "invalid_terms": "{field}: {problem}",
    "below_margin_floor": (
        "below margin floor {floor_pct} even at the best tier: margin {margin_pct} (price {price}, "
        "lowest effective cost {best_cost})"
    ),
    "below_floor_unless_tier": (
        "below margin floor {floor_pct} unless {agreement} reaches tier {tier_needed}; "
        "the proposal reached tier {tier_reached}"
    ),
    "moq_above_need": "smallest order {smallest_order} units ({supplier}) is far above the need {need}",
    "min_order_value": "supplier minimum order value not reached ({suppliers})",
    "budget": (
        "budget {budget} spent on lines with more expected profit per yuan; need {need} "
        "(order-up-to {target}, position {position})"
    ),
    "no_profitable_order": (
        "need {need} (order-up-to {target}, position {position}), but no order has positive expected profit"
    ),
}
# Words inside parameters that a catalogue translates too: the target kinds and the season word.
_ORDER_UP_TO = "order-up-to"
_NEWSVENDOR = "{season} newsvendor stock"
_NEWSVENDOR_SUFFIX = " newsvendor stock"
_SEPARATOR = "; "
TEMPLATES: tuple[str, ...] = (*dict.fromkeys(_T.values()), _ORDER_UP_TO, _NEWSVENDOR, _SEPARATOR)
# (`LABELS` below names each code in a few words: also message ids.)

_UNIT_PARAMS = frozenset(
    {
        "target",
        "position",
        "need",
        "moq",
        "cases",
        "case_pack",
        "units",
        "from_units",
        "to_units",
        "on_order",
        "smallest_order",
    }
)
_PCT_PARAMS = frozenset({"service_level_pct", "margin_at_list_pct", "floor_pct", "margin_pct"})
_MONEY_PARAMS = frozenset({"rebate_share", "price", "best_cost", "budget"})
# Parameters that are words (a season's name) rather than numbers, codes or dates.
_WORD_PARAMS = frozenset({"season"})

Translate = Callable[[str], str]


def _identity(message: str) -> str:
    return message


# A few words naming each code, for filters and legends (message ids like the templates).
LABELS: dict[ReasonCode, str] = {
    ReasonCode.BELOW_ORDER_UP_TO: "below order-up-to",
    ReasonCode.PREBUILD: "season pre-build",
    ReasonCode.IN_SEASON: "in-season top-up",
    ReasonCode.ROUNDED_TO_CASES: "rounded to cases",
    ReasonCode.OWN_WINDOW: "own lead-time window",
    ReasonCode.ABOVE_TARGET_FOR_MARGIN: "above target for margin",
    ReasonCode.RAISED_TO_TIER: "raised to reach a rebate tier",
    ReasonCode.ADMITTED_BY_TIER: "margin only with a rebate tier",
    ReasonCode.CUT_BY_BUDGET: "cut by the budget",
    ReasonCode.CUT_BY_PROFIT: "cut: last units unprofitable",
    ReasonCode.ALSO_IN_OPEN_PROPOSAL: "also in an open proposal",
    ReasonCode.ON_ORDER: "on order",
    ReasonCode.NO_SUPPLIER: "no supplier",
    ReasonCode.COVERED: "covered",
    ReasonCode.NOT_YET: "pre-build later",
    ReasonCode.TOO_LATE: "too late for the season",
    ReasonCode.NO_FORECAST: "no forecast",
    ReasonCode.INVALID_INPUT: "invalid input",
    ReasonCode.INVALID_TERMS: "invalid supplier terms",
    ReasonCode.BELOW_MARGIN_FLOOR: "below the margin floor at any tier",
    ReasonCode.BELOW_FLOOR_UNLESS_TIER: "below the floor without a tier",
    ReasonCode.MOQ_ABOVE_NEED: "MOQ far above need",
    ReasonCode.MIN_ORDER_VALUE: "supplier minimum not reached",
    ReasonCode.BUDGET: "out of budget",
    ReasonCode.NO_PROFITABLE_ORDER: "no profitable order",
}


def label(code: str | ReasonCode, gettext: Translate = _identity) -> str:
    """The few words naming a reason code, in `gettext`'s language."""
    return gettext(LABELS[ReasonCode(code)])


@dataclass(frozen=True)
class Formats:
    """How `render` writes the stored numbers: units, CNY and percentages (default: restock's English)."""

    units: Callable[[ParamValue], str] = fmt_units
    money: Callable[[ParamValue], str] = fmt_money
    pct: Callable[[ParamValue], str] = fmt_pct


ENGLISH = Formats()


def _template_key(code: ReasonCode, p: dict[str, ParamValue]) -> str:
    if code is ReasonCode.ROUNDED_TO_CASES and p.get("moq"):
        return "rounded_to_cases+moq"
    if code is ReasonCode.ON_ORDER and p.get("proposal_id"):
        return "on_order+proposal"
    if code is ReasonCode.COVERED and p.get("on_order"):
        return "covered+on_order"
    return code.value


def _target_kind(kind: ParamValue, gettext: Translate) -> str:
    text = str(kind)
    if text == _ORDER_UP_TO:
        return gettext(_ORDER_UP_TO)
    if text.endswith(_NEWSVENDOR_SUFFIX):
        season = text[: -len(_NEWSVENDOR_SUFFIX)]
        return gettext(_NEWSVENDOR).format(season=gettext(season))
    return text


def _field(name: str, value: ParamValue, gettext: Translate, formats: Formats) -> str:
    if name in _UNIT_PARAMS:
        return formats.units(value)
    if name in _PCT_PARAMS:
        return formats.pct(value)
    if name in _MONEY_PARAMS:
        return formats.money(value)
    if name in _WORD_PARAMS:
        return gettext(str(value))
    if name == "target_kind":
        return _target_kind(value, gettext)
    return str(value)


class _Fields(dict[str, str]):
    """The template's fields, each formatted when the template quotes it (an unquoted optional
    parameter may be None)."""

    def __init__(self, params: dict[str, ParamValue], gettext: Translate, formats: Formats) -> None:
        super().__init__()
        self._params, self._gettext, self._formats = params, gettext, formats

    def __missing__(self, name: str) -> str:
        return _field(name, self._params[name], self._gettext, self._formats)


def _render_one(
    code: ReasonCode, p: dict[str, ParamValue], gettext: Translate = _identity, formats: Formats = ENGLISH
) -> str:
    template = _T.get(_template_key(code, p))
    if template is None:  # pragma: no cover - every code has a template (tests/replenishment)
        raise AssertionError(f"unrendered reason code {code}")
    return gettext(template).format_map(_Fields(p, gettext, formats))


def render(reason: Reason, gettext: Translate = _identity, formats: Formats = ENGLISH) -> str:
    """The reason in words; the only place reason text is made.

    `gettext` translates a template (English when omitted: the templates are English) and
    `formats` writes its numbers, so a shell renders a reason in its user's language while the
    numbers stay the stored parameters."""
    return _render_one(reason.code, reason.params, gettext, formats)


def render_all(
    reasons: list[Reason] | tuple[Reason, ...], gettext: Translate = _identity, formats: Formats = ENGLISH
) -> str:
    """Several reasons of one line, joined."""
    return gettext(_SEPARATOR).join(render(r, gettext, formats) for r in reasons)


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
