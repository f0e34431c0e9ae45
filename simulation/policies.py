"""Ordering policies behind one protocol, registered by name: restock's optimizer and its
variants, the rules a shop would otherwise use, and the perfect-foresight bound.

A policy sees one `WeekView` per proposal Monday and returns the order lines it
places (auto-approved: every line becomes a purchase order). Only a policy that
declares `sees_future` (the bound) is given the actual demand to come.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import ClassVar, Protocol

import numpy as np
from scipy.stats import norm

from replenishment.demand import QUANTILE_LEVELS
from replenishment.optimizer import optimize
from replenishment.problem import Agreement, SupplierItemTerms
from simulation.data import ReplayConfig, ReplayData
from simulation.inputs import WeekInputs
from simulation.problems import restock_problem


@dataclass(frozen=True)
class OrderLine:
    """Buy `units` of `sku` from `supplier` this week (units already a whole number of cases, ≥ MOQ)."""

    sku: str
    supplier: str
    units: int


@dataclass
class WeekView:
    """What a policy may read on proposal Monday `week` (after that morning's deliveries).

    `on_hand`: units in stock; `arrivals`: open orders SKU → [(arrival date, units)];
    `agreements`: each agreement in force with this period's purchases so far (CNY);
    `future_demand`: SKU → actual demand per day from `week` on — None unless the policy
    `sees_future`.
    """

    week: date
    inputs: WeekInputs
    data: ReplayData
    config: ReplayConfig
    on_hand: dict[str, int]
    arrivals: dict[str, list[tuple[date, int]]]
    agreements: list[Agreement]
    future_demand: Callable[[str], np.ndarray] | None = None

    def position(self, sku: str, until: date | None = None) -> int:
        """On hand + open orders (arriving by `until`, all when None)."""
        due = sum(u for arrival, u in self.arrivals.get(sku, []) if until is None or arrival <= until)
        return int(self.on_hand.get(sku, 0)) + int(due)


class Policy(Protocol):
    """Decides a week's orders. `name` is its registry key; `label` fits a 9-character column."""

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    sees_future: ClassVar[bool]
    needs_forecast: ClassVar[bool]

    def decide(self, view: WeekView) -> list[OrderLine]: ...


POLICIES: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make a policy available under its `name`."""
    POLICIES[cls.name] = cls
    return cls


def policy_names() -> list[str]:
    """Registered policy names in registration order."""
    return list(POLICIES)


def make_policy(name: str) -> Policy:
    """A new instance of the policy registered as `name`; `ValueError` naming the known ones."""
    try:
        return POLICIES[name]()
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICIES)}") from None


def round_to_terms(units: float, item: SupplierItemTerms) -> int:
    """Whole cases covering `units`, at least the MOQ (0 when nothing is needed)."""
    if units <= 0:
        return 0
    cases = max(math.ceil(units / item.case_pack - 1e-9), math.ceil(item.moq / item.case_pack))
    return int(cases * item.case_pack)


def primary_items(data: ReplayData) -> dict[str, SupplierItemTerms]:
    """Each SKU's primary supplier as a shop without restock uses it: the lowest unit cost
    (ties: the shorter lead time, then the supplier code)."""
    best: dict[str, SupplierItemTerms] = {}
    for item in data.items:
        key = (item.unit_cost, item.lead_time_days, item.supplier)
        current = best.get(item.sku)
        if current is None or key < (current.unit_cost, current.lead_time_days, current.supplier):
            best[item.sku] = item
    return best


# --------------------------------------------------------------------------- restock and variants


@dataclass
class _RestockBase:
    """restock's weekly proposal, auto-approved: the `Problem` the stored proposal would get
    (`simulation.problems`), solved by `replenishment.optimize`."""

    ignore_rebates: ClassVar[bool] = False
    margin_floor: ClassVar[float | None] = None
    sees_future: ClassVar[bool] = False
    needs_forecast: ClassVar[bool] = True
    plans: list = field(default_factory=list)

    def decide(self, view: WeekView) -> list[OrderLine]:
        floor = self.margin_floor
        problem = restock_problem(
            view.week,
            view.data,
            view.config,
            view.inputs.windows,
            view.inputs.quantiles,
            view.on_hand,
            view.arrivals,
            [] if self.ignore_rebates else view.agreements,
            margin_floor=floor,
        )
        plan = optimize(problem)
        self.plans.append((view.week, plan.status, plan.solve_s))
        return [OrderLine(line.sku, line.supplier, line.units) for line in plan.lines if line.units > 0]


@register
@dataclass
class Restock(_RestockBase):
    name: ClassVar[str] = "restock"
    label: ClassVar[str] = "restock"
    description: ClassVar[str] = "restock's optimizer (forecast quantiles, tiers, margin floor, budget)"


@register
@dataclass
class RestockNoRebates(_RestockBase):
    name: ClassVar[str] = "restock_no_rebates"
    label: ClassVar[str] = "no-rebate"
    description: ClassVar[str] = "restock's optimizer blind to rebate agreements (rebates still paid)"
    ignore_rebates: ClassVar[bool] = True


@register
@dataclass
class RestockNoMarginFloor(_RestockBase):
    name: ClassVar[str] = "restock_no_margin_floor"
    label: ClassVar[str] = "no-floor"
    description: ClassVar[str] = "restock's optimizer with the margin floor at 0"
    margin_floor: ClassVar[float | None] = 0.0


# --------------------------------------------------------------------------- simple rules


def _z(level: float) -> float:
    return float(norm.ppf(level))


@register
@dataclass
class MinMax:
    """Reorder-point rule: when position (on hand + on order) ≤ min, order up to max.

    min = mean daily demand × lead time + z · σ_daily · √lead time (safety stock at the
    SKU's class service level); max = min + mean daily demand × cycle days. Mean and σ
    of the cleansed demand over the trailing `minmax_history_days`. Primary supplier.
    """

    name: ClassVar[str] = "min_max"
    label: ClassVar[str] = "min/max"
    description: ClassVar[str] = "min/max reorder point on trailing demand (safety stock at the class level)"
    sees_future: ClassVar[bool] = False
    needs_forecast: ClassVar[bool] = False

    def decide(self, view: WeekView) -> list[OrderLine]:
        primary = primary_items(view.data)
        abc = view.data.skus.set_index("unique_id")["abc_class"]
        days = view.config.minmax_history_days
        out = []
        for sku in view.inputs.skus:
            item = primary.get(sku)
            history = view.inputs.history.get(sku)
            if item is None or history is None:
                continue
            recent = history[-days:]
            mean, sigma = float(recent.mean()), float(recent.std())
            lead = item.lead_time_days
            z = _z(view.config.service_level(str(abc.get(sku, "B"))))
            low = mean * lead + z * sigma * math.sqrt(max(lead, 1))
            high = low + mean * view.config.minmax_cycle_days
            position = view.position(sku)
            if mean <= 0 or position > low:
                continue
            units = round_to_terms(high - position, item)
            if units:
                out.append(OrderLine(sku, item.supplier, units))
        return out


@register
@dataclass
class SeasonalNaiveOrderUpTo:
    """Order-up-to on a seasonal-naive forecast, as a careful spreadsheet does it.

    Forecast of the protection interval (lead time + review period from Monday) = the same
    days 52 weeks earlier × trend (the trailing `naive_trend_weeks` weeks against the same
    weeks a year before, clipped to [0.5, 2]); safety stock z · σ_weekly · √(interval in
    weeks), σ of the trailing 13 weekly totals. Order up to forecast + safety stock.
    """

    name: ClassVar[str] = "seasonal_naive_out"
    label: ClassVar[str] = "SN-OUT"
    description: ClassVar[str] = "order-up-to on last year's same weeks × trend + safety stock"
    sees_future: ClassVar[bool] = False
    needs_forecast: ClassVar[bool] = False

    def decide(self, view: WeekView) -> list[OrderLine]:
        primary = primary_items(view.data)
        abc = view.data.skus.set_index("unique_id")["abc_class"]
        review = view.config.review_period_days
        trend_days = 7 * view.config.naive_trend_weeks
        out = []
        for sku in view.inputs.skus:
            item = primary.get(sku)
            history, year_ago = view.inputs.history.get(sku), view.inputs.year_ago.get(sku)
            if item is None or history is None or year_ago is None:
                continue
            interval = item.lead_time_days + review
            offset = view.inputs.year_ago_offset
            this_year = float(history[-trend_days:].sum())
            last_year = float(year_ago[max(0, offset - trend_days) : offset].sum())
            trend = float(np.clip(this_year / last_year, 0.5, 2.0)) if last_year > 0 else 1.0
            forecast = float(year_ago[offset : offset + interval].sum()) * trend
            weekly = history[-91:].reshape(13, 7).sum(axis=1)
            safety = (
                _z(view.config.service_level(str(abc.get(sku, "B"))))
                * float(weekly.std())
                * math.sqrt(interval / 7)
            )
            target = forecast + safety
            if forecast <= 0:
                continue
            units = round_to_terms(target - view.position(sku), item)
            if units:
                out.append(OrderLine(sku, item.supplier, units))
        return out


# --------------------------------------------------------------------------- the bound


@register
@dataclass
class PerfectForesight(_RestockBase):
    """A bound, not a policy: restock's optimizer told the actual demand. Every window's
    demand quantiles are the demand that actually came, so what separates restock from
    this run is the forecast alone — same rules (margin floor, tiers, budget, MOQ, case
    packs, lead times, weekly review)."""

    name: ClassVar[str] = "perfect_foresight"
    label: ClassVar[str] = "foresight"
    description: ClassVar[str] = "bound: restock's optimizer with the actual demand as its forecast"
    sees_future: ClassVar[bool] = True
    needs_forecast: ClassVar[bool] = False

    def decide(self, view: WeekView) -> list[OrderLine]:
        assert view.future_demand is not None, "the bound needs the actual demand"
        known = {}
        for win in view.inputs.windows:
            if win.mode == "skip":
                continue
            demand = view.future_demand(win.sku)
            first = (win.window_start - view.week).days
            last = (win.window_end - view.week).days
            total = float(demand[first : last + 1].sum())
            known[win.sku] = (total,) * len(QUANTILE_LEVELS)
        inputs = replace(view.inputs, quantiles=known)
        return super().decide(replace(view, inputs=inputs))
