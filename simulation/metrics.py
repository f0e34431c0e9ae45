"""Per policy and per category: fill rate, stockouts, inventory, leftovers, purchases, rebate, margin.

Money is CNY as `Decimal` with two places, summed from the replay's integer fen,
so every identity below holds to the cent:

- gross margin = revenue − cost of goods sold − (salvaged stock at cost − salvage proceeds)
- gross profit after rebate = gross margin + rebate earned
- cash = revenue + salvage proceeds + rebate − purchase cost (every order placed)
- gross profit after rebate = cash + closing stock at cost + stock in transit − opening stock
A period's rebate is shared among categories in proportion to their purchases
under the agreement (largest remainder, to the fen).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from simulation.inputs import WeekInputs
from simulation.replay import PolicyRun, ReplayResult, yuan

TOTAL = "(all)"

METRIC_COLUMNS = (
    "policy",
    "category",
    "demand_units",
    "sold_units",
    "fill_rate",
    "lost_units",
    "stockout_days",
    "lost_sales_value",
    "avg_inventory_value",
    "inventory_turns",
    "leftover_units",
    "leftover_value",
    "salvage_proceeds",
    "purchase_cost",
    "received_cost",
    "in_transit_value",
    "rebate_earned",
    "revenue",
    "cogs",
    "gross_margin",
    "gross_margin_pct",
    "gross_profit_after_rebate",
    "holding_cost",
    "opening_value",
    "closing_value",
    "cash",
)


def rebate_by_category(run: PolicyRun) -> dict[str, int]:
    """Each category's share (fen) of the rebate its policy's purchases earned."""
    out: dict[str, int] = {}
    for period in run.periods:
        total = period.rebate()
        if not total or not period.purchases:
            continue
        shares = {c: total * v // period.purchases for c, v in period.by_category.items()}
        remainders = sorted(
            period.by_category, key=lambda c: (-(total * period.by_category[c] % period.purchases), c)
        )
        for c in remainders[: total - sum(shares.values())]:
            shares[c] += 1
        for c, fen in shares.items():
            out[c] = out.get(c, 0) + fen
    return out


def _in_transit(run: PolicyRun, end) -> dict[str, int]:  # noqa: ANN001
    out: dict[str, int] = {}
    for order in run.orders:
        if order.arrival > end:
            out[order.sku] = out.get(order.sku, 0) + order.value
    return out


def policy_metrics(result: ReplayResult) -> pd.DataFrame:
    """One row per policy and category plus one `(all)` row per policy (see `METRIC_COLUMNS`)."""
    rows = []
    n_days = len(result.days)
    rate = Decimal(str(result.config.holding_cost_rate_per_year))
    end = result.config.end
    for name, run in result.runs.items():
        weekly = run.weekly
        rebates = rebate_by_category(run)
        transit_by_sku = _in_transit(run, end)
        first_week, last_week = weekly["week"].min(), weekly["week"].max()
        opening = weekly[weekly["week"] == first_week].set_index("sku")["start_value"]
        closing = weekly[weekly["week"] == last_week].set_index("sku")["end_value"]
        groups: list[tuple[str, pd.DataFrame]] = list(weekly.groupby("category", sort=True))
        groups.append((TOTAL, weekly))
        for category, part in groups:
            skus = set(part["sku"])
            sums = {
                c: int(part[c].sum())
                for c in (
                    "demand_units",
                    "sold_units",
                    "lost_units",
                    "stockout_days",
                    "lost_sales_value",
                    "salvaged_units",
                    "salvage_cost",
                    "salvage_proceeds",
                    "ordered_value",
                    "received_value",
                    "revenue",
                    "cogs",
                    "inventory_value_days",
                )
            }
            rebate = sum(rebates.values()) if category == TOTAL else rebates.get(category, 0)
            transit = sum(v for s, v in transit_by_sku.items() if s in skus)
            open_value = int(opening[opening.index.isin(skus)].sum())
            close_value = int(closing[closing.index.isin(skus)].sum())
            margin = sums["revenue"] - sums["cogs"] - (sums["salvage_cost"] - sums["salvage_proceeds"])
            profit = margin + rebate
            cash = sums["revenue"] + sums["salvage_proceeds"] + rebate - sums["ordered_value"]
            avg_inventory = Decimal(sums["inventory_value_days"]) / n_days / 100
            turns = (
                Decimal(sums["cogs"]) / 100 * Decimal(365) / n_days / avg_inventory
                if avg_inventory > 0
                else None
            )
            rows.append(
                {
                    "policy": name,
                    "category": category,
                    "demand_units": sums["demand_units"],
                    "sold_units": sums["sold_units"],
                    "fill_rate": round(sums["sold_units"] / sums["demand_units"], 4)
                    if sums["demand_units"]
                    else None,
                    "lost_units": sums["lost_units"],
                    "stockout_days": sums["stockout_days"],
                    "lost_sales_value": yuan(sums["lost_sales_value"]),
                    "avg_inventory_value": avg_inventory.quantize(Decimal("0.01")),
                    "inventory_turns": None if turns is None else round(float(turns), 2),
                    "leftover_units": sums["salvaged_units"],
                    "leftover_value": yuan(sums["salvage_cost"]),
                    "salvage_proceeds": yuan(sums["salvage_proceeds"]),
                    "purchase_cost": yuan(sums["ordered_value"]),
                    "received_cost": yuan(sums["received_value"]),
                    "in_transit_value": yuan(transit),
                    "rebate_earned": yuan(rebate),
                    "revenue": yuan(sums["revenue"]),
                    "cogs": yuan(sums["cogs"]),
                    "gross_margin": yuan(margin),
                    "gross_margin_pct": round(margin / sums["revenue"] * 100, 2) if sums["revenue"] else None,
                    "gross_profit_after_rebate": yuan(profit),
                    "holding_cost": (avg_inventory * rate * n_days / 365).quantize(Decimal("0.01")),
                    "opening_value": yuan(open_value),
                    "closing_value": yuan(close_value),
                    "cash": yuan(cash),
                }
            )
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


def totals(metrics: pd.DataFrame, policies: Iterable[str] | None = None) -> pd.DataFrame:
    """The `(all)` rows, indexed by policy (in `policies` order when given)."""
    out = metrics[metrics["category"] == TOTAL].set_index("policy")
    return out.loc[list(policies)] if policies is not None else out


def window_forecast_accuracy(result: ReplayResult) -> dict[str, float | int | None]:
    """How well the forecasts the policies read matched the demand that came: over every
    week's restock window (lead time + review, or to the season's end) that ends by the replay's
    last day, WAPE = Σ|F − A| / ΣA
    and bias = (ΣF − ΣA) / ΣA of the window means F against the actual window demand A (units)."""
    return inputs_accuracy(result.inputs.values(), result.demand, result.config.start, result.config.end)


def inputs_accuracy(
    inputs: Iterable[WeekInputs], demand: Mapping[str, np.ndarray], start: date, end: date
) -> dict[str, float | int | None]:
    """`window_forecast_accuracy` of the weeks `inputs` against `demand` (SKU → units per day
    from `start`), windows ending after `end` not scored."""
    forecast_total = actual_total = error_total = 0.0
    n = 0
    for week in inputs:
        for win in week.windows:
            mean = week.window_mean.get(win.sku)
            units = demand.get(win.sku)
            if win.mode == "skip" or mean is None or units is None or win.window_end > end:
                continue  # windows reaching past the last day are not scored
            first, last = (win.window_start - start).days, (win.window_end - start).days
            actual = float(units[first : last + 1].sum())
            forecast_total += mean
            actual_total += actual
            error_total += abs(mean - actual)
            n += 1
    if not actual_total:
        return {"windows": n, "wape": None, "bias": None}
    return {
        "windows": n,
        "wape": round(error_total / actual_total, 4),
        "bias": round((forecast_total - actual_total) / actual_total, 4),
    }
