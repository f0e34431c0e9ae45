"""From recorded sales, SKUs and promotions to the engine's inputs (pure: frames in, frames out).

Shared by the nightly run (`forecasting.services`) and the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from forecasting.calendar import EVENT_WINDOWS, event_anchor_dates
from forecasting.cleansing import cleanse
from forecasting.columns import (
    DS,
    FRAUD_UNITS,
    GROUP,
    RETURNED_UNITS,
    STOCKOUT,
    UNIQUE_ID,
    UNITS,
    Y,
)
from forecasting.engine import EngineConfig

HISTORY_DAYS = 3 * 365 + 1
PROMOTION = "promotion"
NO_CATEGORY = "uncategorised"


@dataclass
class PreparedInputs:
    """The engine's inputs: cleansed history (+ promotion flag), future flags, groups, new SKUs."""

    history: pd.DataFrame
    future: pd.DataFrame | None
    groups: pd.Series
    new_series: pd.DataFrame
    events: pd.DataFrame
    demand: pd.DataFrame


def prepare_inputs(
    sales: pd.DataFrame,
    skus: pd.DataFrame,
    promotions: pd.DataFrame,
    as_of: date,
    config: EngineConfig,
    *,
    returns_as_demand: bool = False,
    use_promotions: bool = True,
) -> PreparedInputs:
    """Cleanse `sales` (unique_id, ds, units, returned_units, fraud_units, stockout) up to `as_of`.

    `skus`: unique_id, sku_id, group (category; missing → "uncategorised"), the SKUs
    to forecast; `promotions`: start_date, end_date, sku_id, group (scope: SKU,
    category, or both empty = whole shop). SKUs without sales become new series.
    """
    skus = skus.assign(**{GROUP: skus[GROUP].fillna(NO_CATEGORY)})
    if not use_promotions:
        promotions = promotions.iloc[:0]
    first = sales[DS].min() if not sales.empty else pd.Timestamp(as_of)
    events = event_anchor_dates(first.date(), as_of + timedelta(days=config.horizon), config.events)
    if sales.empty:
        demand = pd.DataFrame(columns=[UNIQUE_ID, DS, Y])
    else:
        demand = cleanse(sales, event_days=protected_days(events, promotions),
                         returns_as_demand=returns_as_demand)
    with_history = set(demand[UNIQUE_ID])
    history = demand[[UNIQUE_ID, DS, Y]]
    future = None
    if not promotions.empty and not history.empty:
        known = skus[skus[UNIQUE_ID].isin(with_history)]
        last_day = pd.Timestamp(as_of) + pd.Timedelta(days=config.horizon)
        flags = promotion_flags(known, promotions, pd.date_range(history[DS].min(), last_day))
        if flags[PROMOTION].any():
            history = history.merge(flags, on=[UNIQUE_ID, DS], how="left")
            future = flags[flags[DS] > pd.Timestamp(as_of)]
    new_series = skus.loc[~skus[UNIQUE_ID].isin(with_history), [UNIQUE_ID, GROUP]]
    groups = skus.set_index(UNIQUE_ID)[GROUP]
    return PreparedInputs(history, future, groups, new_series, events, demand)


def fill_zero_days(sales: pd.DataFrame, skus: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Daily rows from each SKU's first sales row to `as_of`; absent days in between sold 0.

    Days before the first row are unknown, not zero, whatever the SKU's launch date
    (docs/data-formats.md): a shop whose records start late must not read as months
    of zero demand. A day known to have sold nothing is a row with 0 units.
    """
    frames = []
    end = pd.Timestamp(as_of)
    for uid, rows in sales.groupby(UNIQUE_ID, sort=False):
        days = pd.date_range(rows[DS].min(), end)
        full = rows.set_index(DS).reindex(days)
        full.index.name = DS
        full[UNIQUE_ID] = uid
        for column in (UNITS, RETURNED_UNITS, FRAUD_UNITS):
            full[column] = full[column].fillna(0)
        full[STOCKOUT] = full[STOCKOUT].astype("boolean").fillna(False).astype(bool)
        frames.append(full.reset_index()[[UNIQUE_ID, DS, UNITS, RETURNED_UNITS, FRAUD_UNITS, STOCKOUT]])
    if not frames:
        return pd.DataFrame(columns=[UNIQUE_ID, DS, UNITS, RETURNED_UNITS, FRAUD_UNITS, STOCKOUT])
    return pd.concat(frames, ignore_index=True)


def promotion_flags(skus: pd.DataFrame, promotions: pd.DataFrame,
                    dates: pd.DatetimeIndex) -> pd.DataFrame:
    """1.0 on each (SKU, date) covered by a promotion of the SKU, its category or the whole shop."""
    ids = skus[UNIQUE_ID].to_numpy()
    frame = pd.DataFrame(0.0, index=dates, columns=ids)
    by_sku_id = skus.set_index("sku_id")[UNIQUE_ID]
    for promo in promotions.itertuples(index=False):
        span = (dates >= pd.Timestamp(promo.start_date)) & (dates <= pd.Timestamp(promo.end_date))
        if not span.any():
            continue
        if promo.sku_id is not None and not pd.isna(promo.sku_id):
            targets = [by_sku_id.get(int(promo.sku_id))]
        elif isinstance(promo.group, str):
            targets = skus.loc[skus[GROUP] == promo.group, UNIQUE_ID].tolist()
        else:
            targets = list(ids)
        targets = [t for t in targets if t is not None]
        frame.loc[span, targets] = 1.0
    long = frame.stack().rename(PROMOTION).reset_index()
    long.columns = [DS, UNIQUE_ID, PROMOTION]
    return long


def protected_days(events: pd.DataFrame, promotions: pd.DataFrame) -> list[pd.Timestamp]:
    """Days whose spikes are real demand (event windows' core days, promotion days): never capped."""
    days: set[pd.Timestamp] = set()
    for row in events.itertuples(index=False):
        lo, hi = EVENT_WINDOWS[row.event].get("day", (0, 0))
        days.update(pd.date_range(row.ds + pd.Timedelta(days=lo - 1), row.ds + pd.Timedelta(days=hi + 1)))
    for promo in promotions.itertuples(index=False):
        days.update(pd.date_range(promo.start_date, promo.end_date))
    return sorted(days)


