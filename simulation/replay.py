"""The weekly replay: every policy buys, receives, sells against the same actual demand (pure).

Day by day from `start` to `end`: deliveries arrive in the morning (each order
after its supplier's lead time); on a proposal Monday the policy then sees its
`WeekView` and its orders are auto-approved; the day's actual demand — the
cleansed history (fraud out, stockout days imputed, rounded to whole units) —
is sold from stock first-in first-out, what stock cannot serve is a lost sale;
on a season's last day whatever is left of that season's SKUs is sold at the
category's salvage rate × its cost. Money is kept in integer cents (fen): every
order line is priced to the cent, every sale, receipt and salvage moves cents
between accounts, so stock and cash reconcile exactly.

Agreements are rolled by whole years over the replay. The period in progress on
the start day starts from the stored purchases pro-rated to the days elapsed
(the same for every policy); later periods start from zero. A period's rebate
is the rebate earned on the tier reached by the end of the replay minus what the
starting purchases earned alone.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from forecasting.columns import DS, UNIQUE_ID, Y
from forecasting.preparation import prepare_inputs
from replenishment.problem import Agreement
from simulation.data import AgreementSpec, ReplayConfig, ReplayData
from simulation.inputs import WeekInputs, all_week_inputs, single_blas_thread, with_every_day
from simulation.policies import POLICIES, OrderLine, WeekView, make_policy

CENT = Decimal("0.01")


def cents(value: Decimal) -> int:
    """CNY → integer fen, half up."""
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def yuan(fen: int) -> Decimal:
    """Integer fen → CNY with two decimals."""
    return (Decimal(fen) / 100).quantize(CENT)


def _split(value: int, part: int, whole: int) -> int:
    """Fen of `part` units out of `whole` units worth `value` fen (half up; all of it when part = whole)."""
    if part == whole:
        return value
    return (2 * value * part + whole) // (2 * whole)


@dataclass
class Order:
    """A purchase order line the replay placed (auto-approved). Value in fen."""

    policy: str
    sku: str
    supplier: str
    units: int
    unit_cost: Decimal
    value: int
    placed: date
    arrival: date
    agreement: str | None = None


@dataclass
class AgreementPeriod:
    """One rolled period of an agreement: purchases (fen) before the replay and by it."""

    spec: AgreementSpec
    start: date
    end: date
    base: int
    purchases: int = 0
    by_category: dict[str, int] = field(default_factory=dict)

    def as_problem(self) -> Agreement:
        return Agreement(
            code=self.spec.code,
            supplier=self.spec.supplier,
            kind=self.spec.kind,
            tiers=self.spec.tiers,
            purchases_to_date=yuan(self.base + self.purchases),
            skus=self.spec.skus,
        )

    def rebate(self) -> int:
        """Fen of rebate the replay's purchases earned (incl. the retroactive uplift on the base)."""
        from suppliers.rebates import rebate_earned

        tiers, kind = self.spec.tiers, self.spec.kind
        earned = rebate_earned(yuan(self.base + self.purchases), tiers, kind) - rebate_earned(
            yuan(self.base), tiers, kind
        )
        return cents(earned)


def _shift_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 Feb in a common year
        return day.replace(year=day.year + years, day=28)


def agreement_periods(specs: list[AgreementSpec], start: date, end: date) -> list[AgreementPeriod]:
    """Each agreement's periods rolled by whole years over [start, end], with their starting base."""
    out = []
    for spec in sorted(specs, key=lambda s: s.code):
        for years in range(start.year - spec.period_end.year - 1, end.year - spec.period_start.year + 2):
            first, last = _shift_years(spec.period_start, years), _shift_years(spec.period_end, years)
            if last < start or first > end:
                continue
            base = 0
            if first < start and spec.purchases_to_date > 0:
                stored_until = spec.purchases_as_of or spec.period_end
                stored_days = (stored_until - spec.period_start).days + 1
                elapsed = (start - first).days
                base = cents(spec.purchases_to_date * elapsed / stored_days)
            out.append(AgreementPeriod(spec, first, last, base))
    return out


@dataclass
class PolicyRun:
    """One policy's replay: weekly rows per SKU, orders, daily stock of every SKU, rebates."""

    policy: str
    weekly: pd.DataFrame
    orders: list[Order]
    daily_on_hand: dict[str, np.ndarray]
    periods: list[AgreementPeriod]
    wall_s: float
    solver_statuses: dict[str, int] = field(default_factory=dict)


@dataclass
class ReplayResult:
    """All policies' runs on the same demand, the days replayed and the shared opening stock."""

    config: ReplayConfig
    days: pd.DatetimeIndex
    runs: dict[str, PolicyRun]
    categories: dict[str, str]
    opening: dict[str, int]
    inputs_s: float
    policies_s: float
    inputs: dict[date, WeekInputs] = field(default_factory=dict, repr=False)
    demand: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


def actual_demand(data: ReplayData, config: ReplayConfig) -> dict[str, np.ndarray]:
    """The demand every policy sells against: the whole stored history (`data` with every day,
    `simulation.inputs.with_every_day`) cleansed once (fraud out, stockout days imputed, spikes
    capped except on event days), rounded half up to units, per SKU for each replay day and
    the year after it (0 beyond the data)."""
    skus = data.skus[[UNIQUE_ID, "sku_id", "group", "launch_date"]]
    last = data.last_day
    filled = data.sales[data.sales[UNIQUE_ID].isin(skus[UNIQUE_ID])]
    promotions = data.promotions if data.promotions is not None else None
    prepared = prepare_inputs(
        filled,
        skus,
        promotions if promotions is not None else _empty_promotions(),
        last,
        config.engine,
        returns_as_demand=config.returns_as_demand,
        use_promotions=config.use_promotions,
    )
    days = pd.date_range(config.start, config.end + timedelta(days=366))
    wide = prepared.demand.pivot_table(index=UNIQUE_ID, columns=DS, values=Y, aggfunc="sum")
    wide = wide.reindex(index=list(skus[UNIQUE_ID]), columns=days).fillna(0.0)
    units = np.floor(wide.to_numpy(dtype=float) + 0.5).astype(np.int64)
    return {sku: units[i] for i, sku in enumerate(wide.index)}


def _empty_promotions() -> pd.DataFrame:
    return pd.DataFrame(columns=["start_date", "end_date", "sku_id", "category_id", "discount_rate", "group"])


def opening_stock(data: ReplayData, config: ReplayConfig, first: WeekInputs) -> dict[str, int]:
    """Units on hand on the first day, the same for every policy: the cleansed demand of the
    (shortest lead time + review period) days before the start — about one protection
    interval of cover, computed from history known then."""
    lead: dict[str, int] = {}
    for item in data.items:
        lead[item.sku] = min(lead.get(item.sku, item.lead_time_days), item.lead_time_days)
    out = {}
    for sku in data.skus[UNIQUE_ID]:
        history = first.history.get(sku)
        if history is None or sku not in lead:
            out[sku] = 0
            continue
        days = min(len(history), lead[sku] + config.review_period_days)
        out[sku] = int(np.floor(history[-days:].sum() + 0.5))
    return out


def replay(
    data: ReplayData, config: ReplayConfig, progress: Callable[[str], None] | None = None
) -> ReplayResult:
    """Replay `config.policies` over `config.start` … `config.end` on `data` (see the module text).
    numpy's BLAS runs on one thread meanwhile (`simulation.inputs.single_blas_thread`)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _replay(data, config, progress)


def _replay(
    data: ReplayData, config: ReplayConfig, progress: Callable[[str], None] | None = None
) -> ReplayResult:
    unknown = [p for p in config.policies if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown policy {unknown[0]!r}; known: {', '.join(POLICIES)}")
    if pd.Timestamp(config.end) > pd.Timestamp(data.last_day):
        raise ValueError(f"the replay ends {config.end}, after the last day of sales {data.last_day}")
    if not config.weeks():
        raise ValueError(f"no proposal Monday between {config.start} and {config.end}")
    started = time.perf_counter()
    data = with_every_day(data)
    needs_forecast = any(POLICIES[name].needs_forecast for name in config.policies)
    inputs = all_week_inputs(data, config, forecast=needs_forecast)
    truth = actual_demand(data, config)
    inputs_s = time.perf_counter() - started
    if progress:
        progress(f"forecasts and inputs for {len(inputs)} weeks: {inputs_s:.1f} s")
    opening = opening_stock(data, config, inputs[config.weeks()[0]])
    started = time.perf_counter()
    runs: dict[str, PolicyRun] = {}
    if config.jobs > 1 and len(config.policies) > 1:
        with ProcessPoolExecutor(max_workers=config.jobs, initializer=single_blas_thread) as pool:
            futures = {
                name: pool.submit(run_policy, name, data, config, inputs, truth, opening)
                for name in config.policies
            }
            for name, future in futures.items():
                runs[name] = future.result()
                if progress:
                    progress(f"{name}: {runs[name].wall_s:.1f} s")
    else:
        for name in config.policies:
            runs[name] = run_policy(name, data, config, inputs, truth, opening)
            if progress:
                progress(f"{name}: {runs[name].wall_s:.1f} s")
    categories = dict(zip(data.skus[UNIQUE_ID], data.skus["group"], strict=True))
    return ReplayResult(
        config,
        pd.date_range(config.start, config.end),
        runs,
        categories,
        opening,
        inputs_s,
        time.perf_counter() - started,
        inputs,
        truth,
    )


WEEKLY_COLUMNS = (
    "policy",
    "week",
    "sku",
    "category",
    "start_units",
    "received_units",
    "demand_units",
    "sold_units",
    "lost_units",
    "salvaged_units",
    "end_units",
    "stockout_days",
    "ordered_units",
    "ordered_value",
    "start_value",
    "received_value",
    "cogs",
    "salvage_cost",
    "salvage_proceeds",
    "end_value",
    "revenue",
    "lost_sales_value",
    "inventory_value_days",
)
# Money columns of the weekly rows (integer fen).
MONEY_COLUMNS = (
    "ordered_value",
    "start_value",
    "received_value",
    "cogs",
    "salvage_cost",
    "salvage_proceeds",
    "end_value",
    "revenue",
    "lost_sales_value",
    "inventory_value_days",
)


def run_policy(
    name: str,
    data: ReplayData,
    config: ReplayConfig,
    inputs: dict[date, WeekInputs],
    truth: dict[str, np.ndarray],
    opening: dict[str, int],
) -> PolicyRun:
    """Replay one policy (see the module text). Weekly rows hold units and fen per SKU."""
    started = time.perf_counter()
    policy = make_policy(name)
    skus = list(data.skus[UNIQUE_ID])
    table = data.skus.set_index(UNIQUE_ID)
    price = {s: cents(Decimal(table.at[s, "price"])) for s in skus}
    category = {s: str(table.at[s, "group"]) for s in skus}
    items = {(i.sku, i.supplier): i for i in data.items}
    cheapest: dict[str, Decimal] = {}
    for item in data.items:
        cheapest[item.sku] = min(cheapest.get(item.sku, item.unit_cost), item.unit_cost)
    season_end: dict[date, list[str]] = {}
    for sku in skus:
        info = data.categories.get(category[sku])
        if info is not None and info.season in data.seasons:
            for end in data.seasons[info.season].ends_in(config.start, config.end):
                season_end.setdefault(end, []).append(sku)
    salvage_rate = {
        s: (data.categories[category[s]].salvage_rate if category[s] in data.categories else Decimal("0.5"))
        for s in skus
    }

    on_hand = {s: opening.get(s, 0) for s in skus}
    lots: dict[str, deque[list[int]]] = {s: deque() for s in skus}
    for s in skus:
        if on_hand[s]:
            lots[s].append([on_hand[s], cents(cheapest.get(s, Decimal(0)) * on_hand[s])])
    value = {s: sum(v for _u, v in lots[s]) for s in skus}
    periods = agreement_periods(data.agreements, config.start, config.end)
    pipeline: dict[date, list[Order]] = {}
    open_orders: dict[str, list[Order]] = {s: [] for s in skus}
    orders: list[Order] = []
    days = pd.date_range(config.start, config.end)
    daily = {s: np.zeros(len(days), dtype=np.int64) for s in skus}
    weeks = set(config.weeks())
    rows: list[tuple] = []
    acc: dict[str, dict[str, int]] = {}
    week_start = config.start

    def open_week(day: date) -> None:
        nonlocal week_start
        week_start = day
        for s in skus:
            acc[s] = dict.fromkeys(WEEKLY_COLUMNS[4:], 0)
            acc[s]["start_units"], acc[s]["start_value"] = on_hand[s], value[s]

    def close_week() -> None:
        for s in skus:
            a = acc[s]
            a["end_units"], a["end_value"] = on_hand[s], value[s]
            rows.append((name, week_start, s, category[s], *(a[c] for c in WEEKLY_COLUMNS[4:])))

    def take(s: str, units: int) -> int:
        """Remove `units` from the SKU's lots first-in first-out; their cost in fen."""
        cost = 0
        queue = lots[s]
        while units:
            lot = queue[0]
            used = min(units, lot[0])
            part = _split(lot[1], used, lot[0])
            lot[0] -= used
            lot[1] -= part
            cost += part
            units -= used
            if lot[0] == 0:
                queue.popleft()
        value[s] -= cost
        return cost

    statuses: dict[str, int] = {}
    for index, stamp in enumerate(days):
        day = stamp.date()
        if day == config.start or day.weekday() == 0:
            if day != config.start:
                close_week()
            open_week(day)
        for order in pipeline.pop(day, []):
            _receive(order, on_hand, lots, value, acc, open_orders)
        if day in weeks:
            view = WeekView(
                week=day,
                inputs=inputs[day],
                data=data,
                config=config,
                on_hand=dict(on_hand),
                arrivals={s: [(o.arrival, o.units) for o in open_orders[s]] for s in skus if open_orders[s]},
                agreements=[p.as_problem() for p in periods if p.start <= day <= p.end],
                future_demand=(lambda s, i=index: truth[s][i:]) if policy.sees_future else None,
            )
            for line in policy.decide(view):
                order = _place(name, line, day, items, periods, category)
                orders.append(order)
                acc[line.sku]["ordered_units"] += order.units
                acc[line.sku]["ordered_value"] += order.value
                if order.arrival == day:
                    _receive(order, on_hand, lots, value, acc, open_orders, placed_now=True)
                else:
                    pipeline.setdefault(order.arrival, []).append(order)
                    open_orders[line.sku].append(order)
        for s in skus:
            demand = int(truth[s][index])
            a = acc[s]
            if demand:
                sold = min(demand, on_hand[s])
                a["demand_units"] += demand
                if sold:
                    a["cogs"] += take(s, sold)
                    on_hand[s] -= sold
                    a["sold_units"] += sold
                    a["revenue"] += sold * price[s]
                if sold < demand:
                    a["lost_units"] += demand - sold
                    a["lost_sales_value"] += (demand - sold) * price[s]
                    a["stockout_days"] += 1
        for s in season_end.get(day, []):
            if on_hand[s]:
                a = acc[s]
                cost = take(s, on_hand[s])
                a["salvaged_units"] += on_hand[s]
                a["salvage_cost"] += cost
                a["salvage_proceeds"] += cents(yuan(cost) * salvage_rate[s])
                on_hand[s] = 0
        for s in skus:
            daily[s][index] = on_hand[s]
            acc[s]["inventory_value_days"] += value[s]
    close_week()
    if hasattr(policy, "plans"):
        for _week, status, _solve in policy.plans:
            statuses[status] = statuses.get(status, 0) + 1
    weekly = pd.DataFrame(rows, columns=list(WEEKLY_COLUMNS))
    return PolicyRun(name, weekly, orders, daily, periods, time.perf_counter() - started, statuses)


def _place(
    policy: str,
    line: OrderLine,
    day: date,
    items: dict,
    periods: list[AgreementPeriod],
    category: dict[str, str],
) -> Order:
    item = items.get((line.sku, line.supplier))
    if item is None:
        raise ValueError(
            f"policy {policy} ordered {line.sku} from {line.supplier}, which has no terms for it"
        )
    if line.units <= 0:
        raise ValueError(f"policy {policy} ordered {line.units} units of {line.sku}")
    value = cents(item.unit_cost * line.units)
    order = Order(
        policy,
        line.sku,
        line.supplier,
        line.units,
        item.unit_cost,
        value,
        day,
        day + timedelta(days=item.lead_time_days),
    )
    for period in periods:
        if period.start <= day <= period.end and period.spec.covers(line.sku, line.supplier):
            period.purchases += value
            period.by_category[category[line.sku]] = period.by_category.get(category[line.sku], 0) + value
            order.agreement = period.spec.code
            break
    return order


def _receive(
    order: Order,
    on_hand: dict[str, int],
    lots: dict,
    value: dict[str, int],
    acc: dict[str, dict[str, int]],
    open_orders: dict[str, list[Order]],
    placed_now: bool = False,
) -> None:
    s = order.sku
    on_hand[s] += order.units
    lots[s].append([order.units, order.value])
    value[s] += order.value
    acc[s]["received_units"] += order.units
    acc[s]["received_value"] += order.value
    if not placed_now:
        open_orders[s].remove(order)
