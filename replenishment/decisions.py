"""Per-SKU decisions before the optimizer runs (pure): which window, which mode, which suppliers.

`decide_window` is a function of plain data (the proposal week, the review period,
the SKU's season if any, its suppliers' lead times) so that it is tested with
literal data; `replenishment.services` only queries the database and calls it.
`inventory_on_order` nets open purchase-order lines against a window; `orders_in_window`
says which POs those units are, for the reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from replenishment.problem import OpenOrder
from replenishment.reasons import Reason, ReasonCode
from replenishment.seasons import SeasonalDecision, seasonal_decision


@dataclass(frozen=True)
class Season:
    """The SKU's next season (inclusive dates) and its pre-build days (shelf before the start)."""

    name: str
    start: date
    end: date
    prebuild_days: int


@dataclass(frozen=True)
class SupplierLead:
    """One active supplier item of the SKU: the supplier's code and its lead time in days."""

    supplier: str
    lead_time_days: int


@dataclass(frozen=True)
class WindowDecision:
    """The SKU goes to the optimizer: demand window (inclusive), mode, the suppliers it may use.

    `order_by` is the earliest order-by date among those suppliers (seasonal modes only);
    each line's own order-by date is season start − pre-build − that supplier's lead time.
    """

    mode: str
    window_id: str
    window_start: date
    window_end: date
    suppliers: tuple[str, ...]
    season: Season | None = None
    order_by: date | None = None


def decide_window(
    week: date,
    review_period_days: int,
    season: Season | None,
    leads: Sequence[SupplierLead],
) -> WindowDecision | Reason:
    """What the proposal of `week` (a Monday) does with one SKU, or why it leaves it out.

    Non-seasonal: replenish over the protection interval, the proposal week up to the
    shortest lead time + review period, with every supplier. Seasonal: per supplier the
    pre-build timing of `replenishment.seasons.seasonal_decision`; the SKU is bought now
    only from suppliers whose order must be placed by this proposal (pre-build) or, past
    every order-by date, whose delivery still arrives in the season (top-up). Otherwise
    the reason says when a later proposal places it, or that it is too late.
    """
    if not leads:
        return Reason(ReasonCode.NO_SUPPLIER)
    if season is None:
        lead = min(item.lead_time_days for item in leads)
        end = week + timedelta(days=lead + review_period_days - 1)
        return WindowDecision(
            mode="replenish",
            window_id="protection",
            window_start=week,
            window_end=end,
            suppliers=tuple(item.supplier for item in leads),
        )
    decisions: list[tuple[SupplierLead, SeasonalDecision]] = [
        (
            item,
            seasonal_decision(
                week,
                review_period_days,
                (season.start, season.end),
                season.prebuild_days,
                item.lead_time_days,
            ),
        )
        for item in leads
    ]
    for mode in ("prebuild", "in_season"):
        chosen = [(item, d) for item, d in decisions if d.mode == mode]
        if chosen:
            return WindowDecision(
                mode=mode,
                window_id="season",
                window_start=week,
                window_end=season.end,
                suppliers=tuple(item.supplier for item, _ in chosen),
                season=season,
                order_by=min(d.order_by for _, d in chosen),
            )
    waiting = [(item, d) for item, d in decisions if d.mode == "not_yet"]
    if waiting:
        item, first = min(waiting, key=lambda pair: (pair[1].order_by, pair[0].supplier))
        return Reason(
            ReasonCode.NOT_YET,
            {
                "season": season.name,
                "order_by": first.order_by.isoformat(),
                "supplier": item.supplier,
                "lead_time_days": item.lead_time_days,
            },
        )
    return Reason(
        ReasonCode.TOO_LATE,
        {
            "season": season.name,
            "season_end": season.end.isoformat(),
            "lead_time_days": min(item.lead_time_days for item in leads),
        },
    )


def inventory_on_order(open_lines: Iterable[tuple[int, int, date]], window_end: date) -> int:
    """Units of open purchase-order lines (units, received units, expected date) still to
    arrive on or before `window_end`; later arrivals do not protect this window."""
    return sum(max(units - received, 0) for units, received, expected in open_lines if expected <= window_end)


@dataclass(frozen=True)
class OpenPoLine:
    """One line of an open purchase order for a SKU, as stored (units ordered and received)."""

    po_number: str
    supplier: str
    units: int
    received: int
    expected_date: date
    proposal_id: int | None = None


def orders_in_window(lines: Iterable[OpenPoLine], window_end: date) -> tuple[OpenOrder, ...]:
    """The open POs whose units still to arrive land on or before `window_end`, one per PO
    (its lines of the SKU summed), earliest first: what `inventory_on_order` counts, by PO."""
    units: dict[str, int] = {}
    first: dict[str, OpenPoLine] = {}
    for line in lines:
        left = max(line.units - line.received, 0)
        if line.expected_date > window_end or left == 0:
            continue
        key = f"{line.po_number}\x00{line.expected_date.isoformat()}"
        units[key] = units.get(key, 0) + left
        first.setdefault(key, line)
    orders = (
        OpenOrder(
            po_number=first[key].po_number,
            supplier=first[key].supplier,
            units=n,
            expected_date=first[key].expected_date,
            proposal_id=first[key].proposal_id,
        )
        for key, n in units.items()
    )
    return tuple(sorted(orders, key=lambda o: (o.expected_date, o.po_number)))
