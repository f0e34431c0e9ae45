"""Cleansing recorded daily sales into demand history.

Fraud out, returns apart, stockouts imputed, outliers capped. Every function is
pure: a long frame in (`unique_id`, `ds`, ...), a new frame out.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from forecasting.columns import (
    CAPPED,
    DS,
    FRAUD_UNITS,
    IMPUTED,
    RETURNED_UNITS,
    STOCKOUT,
    UNIQUE_ID,
    UNITS,
    Y,
)


def remove_fraud(sales: pd.DataFrame) -> pd.DataFrame:
    """`y` = recorded `units` minus `fraud_units` (brushing/fake orders), never below zero."""
    out = sales.copy()
    fraud = out[FRAUD_UNITS].fillna(0) if FRAUD_UNITS in out else 0
    out[Y] = (out[UNITS].astype(float) - fraud).clip(lower=0.0)
    return out


def separate_returns(demand: pd.DataFrame, returns_as_demand: bool = False) -> pd.DataFrame:
    """Keep returned units out of demand, or (when `returns_as_demand`) net them off it.

    By default a returned unit was still demanded, so `y` is left as ordered and
    `returned_units` stays in its own column for the return-rate report. With
    `returns_as_demand=True` demand is net: `y - returned_units`, never below zero.
    """
    out = demand.copy()
    returned = out[RETURNED_UNITS].fillna(0).astype(float) if RETURNED_UNITS in out else 0.0
    if returns_as_demand:
        out[Y] = (out[Y] - returned).clip(lower=0.0)
    return out


def impute_stockouts(demand: pd.DataFrame, weeks: int = 4) -> pd.DataFrame:
    """Replace sales on stockout days (censored demand) by an estimate of the demand that was lost.

    The estimate is the median of the same weekday in the `weeks` weeks before and
    after that were in stock, falling back to the median of in-stock days within
    ±14 days; it is never below the units actually sold that day. Sets `imputed`.
    """
    out = demand.copy()
    out[IMPUTED] = False
    if STOCKOUT not in out or not out[STOCKOUT].any():
        return out
    stock = out[STOCKOUT].fillna(False).astype(bool)
    observed = out.loc[~stock].set_index([UNIQUE_ID, DS])[Y]
    targets = out.loc[stock, [UNIQUE_ID, DS, Y]]
    same_weekday = _neighbour_median(observed, targets, [7 * k for k in range(1, weeks + 1)])
    nearby = _neighbour_median(observed, targets, list(range(1, 15)))
    estimate = np.where(np.isnan(same_weekday), nearby, same_weekday)
    sold = targets[Y].to_numpy(dtype=float)
    filled = np.where(np.isnan(estimate), sold, np.maximum(estimate, sold))
    out.loc[stock, Y] = filled
    out.loc[stock, IMPUTED] = ~np.isnan(estimate)
    return out


def _neighbour_median(observed: pd.Series, targets: pd.DataFrame, offsets: list[int]) -> np.ndarray:
    ids = targets[UNIQUE_ID].to_numpy()
    days = pd.DatetimeIndex(targets[DS])
    columns = []
    for offset in offsets:
        for sign in (-1, 1):
            key = pd.MultiIndex.from_arrays([ids, days + pd.Timedelta(days=sign * offset)])
            columns.append(observed.reindex(key).to_numpy(dtype=float))
    stacked = np.vstack(columns)
    with np.errstate(all="ignore"):
        counts = np.sum(~np.isnan(stacked), axis=0)
        stacked[:, counts == 0] = 0.0
        medians = np.nanmedian(stacked, axis=0)
    medians[counts == 0] = np.nan
    return medians


def cap_outliers(
    demand: pd.DataFrame,
    event_days: Iterable[pd.Timestamp] = (),
    window: int = 29,
    mad_multiple: float = 6.0,
) -> pd.DataFrame:
    """Cap spikes at a robust upper bound, except on known event days (which are real demand).

    Bound = centred rolling median + `mad_multiple` × 1.4826 × rolling MAD over
    `window` days of the same series, never below median + 3 units so that slow
    movers' single orders are left alone. Sets `capped`.
    """
    out = demand.sort_values([UNIQUE_ID, DS]).reset_index(drop=True)
    grouped = out.groupby(UNIQUE_ID, sort=False, observed=True)[Y]
    median = grouped.transform(lambda s: s.rolling(window, center=True, min_periods=7).median())
    deviation = (out[Y] - median).abs()
    mad = deviation.groupby(out[UNIQUE_ID], sort=False, observed=True).transform(
        lambda s: s.rolling(window, center=True, min_periods=7).median()
    )
    bound = median + np.maximum(mad_multiple * 1.4826 * mad, 3.0)
    protected = out[DS].isin(pd.DatetimeIndex(list(event_days)))
    exceed = (out[Y] > bound) & bound.notna() & ~protected
    out[CAPPED] = exceed
    out.loc[exceed, Y] = bound[exceed]
    return out


def cleanse(
    sales: pd.DataFrame,
    *,
    event_days: Iterable[pd.Timestamp] = (),
    returns_as_demand: bool = False,
    cap: bool = True,
) -> pd.DataFrame:
    """Recorded daily sales → demand history `unique_id, ds, y, returned_units, imputed, capped`.

    Order matters: fraud first (it is not demand at all), then returns, then
    stockouts (censored days get the level of clean neighbours), then spikes.
    """
    demand = remove_fraud(sales)
    demand = separate_returns(demand, returns_as_demand)
    demand = impute_stockouts(demand)
    if cap:
        demand = cap_outliers(demand, event_days)
    else:
        demand[CAPPED] = False
    keep = [UNIQUE_ID, DS, Y, IMPUTED, CAPPED]
    if RETURNED_UNITS in demand:
        keep.insert(3, RETURNED_UNITS)
    return demand[keep].sort_values([UNIQUE_ID, DS]).reset_index(drop=True)
