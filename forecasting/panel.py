"""Validating a long panel and laying it on one regular date grid (series × periods, NaN = missing)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.columns import DS, RESERVED, UNIQUE_ID, Y

ALL_GROUPS = "__panel__"


@dataclass
class Panel:
    """A validated panel on a regular grid: `values` is series × history periods, NaN = missing."""

    ids: np.ndarray
    groups: np.ndarray
    grid: pd.DatetimeIndex  # history periods, then future periods (plus padding)
    n_history: int
    values: np.ndarray
    regressors: dict[str, np.ndarray]  # series × len(grid), 0 = no effect


def is_price(name: str) -> bool:
    """A regressor named `price` or `..._price` is a selling price, modelled as a log-log elasticity."""
    return name == "price" or name.endswith("_price")


def relative_log_price(matrix: np.ndarray, name: str, ids: np.ndarray, grid: pd.DatetimeIndex,
                       known: int) -> np.ndarray:
    """log(price / the series' usual price) — 0 at the usual price, so "0 = no effect" holds and
    exp(β · x) = (price / usual)^β: β is the price elasticity. Usual = median of its history.

    Periods without a history row keep 0; a price ≤ 0 where one was given is a ValueError."""
    given = matrix[:, :known]
    bad = np.argwhere(given < 0)
    if bad.size:
        i, t = bad[0]
        raise ValueError(f"series {ids[i]!r}: regressor column {name!r} is a price and must be "
                         f"positive, got {given[i, t]} on {grid[t].date()}")
    out = np.zeros_like(matrix)
    for i in range(matrix.shape[0]):
        positive = given[i][given[i] > 0]
        if positive.size == 0:
            continue
        usual = float(np.median(positive))
        row = given[i]
        out[i, :known] = np.where(row > 0, np.log(np.where(row > 0, row, 1.0) / usual), 0.0)
    return out


def is_coarse(freq: str) -> bool:
    """Monthly or quarterly: a period blurs every calendar event into its level."""
    return freq.startswith("M") or freq.startswith("Q")


def frequency_offset(freq: str) -> pd.DateOffset:
    """The pandas offset of `freq` ("D", "W-xxx", "MS" or "QS"); ValueError for anything else."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        raise ValueError(f"freq {freq!r} is not a pandas frequency alias") from None
    name = offset.name
    if not (name == "D" or name.startswith("W-") or name == "MS" or name.startswith("QS")):
        raise ValueError(f"freq must be 'D', a weekly alias such as 'W-SUN', 'MS' or 'QS'; got {freq!r}")
    return offset


def prepare_panel(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    future: pd.DataFrame | None = None,
    groups: pd.Series | None = None,
) -> Panel:
    """Validate `history` (and `future`) and lay them on one date grid.

    Raises ValueError naming the series and column for: missing columns,
    unparseable or off-grid dates, duplicate dates, negative or non-numeric y,
    a regressor missing from `future` or missing rows there.
    """
    for column in (UNIQUE_ID, DS, Y):
        if column not in history.columns:
            raise ValueError(f"history has no column {column!r} (needs unique_id, ds, y)")
    if history.empty:
        raise ValueError("history is empty")
    offset = frequency_offset(freq)
    if history[UNIQUE_ID].isna().any():
        raise ValueError("column 'unique_id' has missing values")
    frame = history.copy()
    # Factorise ids rather than casting millions of rows to str (memory at 10k SKUs).
    codes, uniques = pd.factorize(frame[UNIQUE_ID])
    id_text = np.array([str(u) for u in uniques], dtype=object)
    frame[UNIQUE_ID] = pd.Categorical.from_codes(codes, categories=id_text) if len(set(id_text)) == len(
        id_text) else frame[UNIQUE_ID].astype(str)
    try:
        frame[DS] = pd.to_datetime(frame[DS])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"column 'ds' has values that are not dates: {exc}") from None
    y = pd.to_numeric(frame[Y], errors="coerce")
    bad = frame[y.isna() & frame[Y].notna()]
    if not bad.empty:
        raise ValueError(f"series {bad[UNIQUE_ID].iloc[0]!r}: column 'y' is not numeric "
                         f"({bad[Y].iloc[0]!r} on {bad[DS].iloc[0].date()})")
    frame[Y] = y.astype(float)
    if np.isinf(frame[Y]).any():
        row = frame[np.isinf(frame[Y])].iloc[0]
        raise ValueError(f"series {row[UNIQUE_ID]!r}: column 'y' is infinite on {row[DS].date()}")
    negative = frame[frame[Y] < 0]
    if not negative.empty:
        row = negative.iloc[0]
        raise ValueError(f"series {row[UNIQUE_ID]!r}: column 'y' is negative ({row[Y]}) on {row[DS].date()}")
    duplicated = frame[frame.duplicated([UNIQUE_ID, DS], keep=False)]
    if not duplicated.empty:
        row = duplicated.iloc[0]
        raise ValueError(f"series {row[UNIQUE_ID]!r}: column 'ds' has duplicate date {row[DS].date()}")
    off_grid = frame[~frame[DS].map(offset.is_on_offset)] if offset.name != "D" else frame.iloc[:0]
    if not off_grid.empty:
        row = off_grid.iloc[0]
        raise ValueError(f"series {row[UNIQUE_ID]!r}: column 'ds' has {row[DS].date()}, "
                         f"which is not on the {freq} grid")
    regressor_names = [c for c in frame.columns if c not in RESERVED]
    for name in regressor_names:
        values = pd.to_numeric(frame[name], errors="coerce")
        if values.isna().any():
            row = frame[values.isna()].iloc[0]
            raise ValueError(f"series {row[UNIQUE_ID]!r}: regressor column {name!r} is missing "
                             f"or not numeric on {row[DS].date()}")
        frame[name] = values.astype(float)

    ids = np.array(sorted(set(id_text)), dtype=object)
    start, end = frame[DS].min(), frame[DS].max()
    history_grid = pd.date_range(start, end, freq=offset)
    future_grid = pd.date_range(end, periods=horizon + 8, freq=offset)[1:]
    grid = history_grid.append(future_grid)
    row_of = {uid: i for i, uid in enumerate(ids)}
    col_of = pd.Series(np.arange(len(grid)), index=grid)
    rows = np.asarray(frame[UNIQUE_ID].map(row_of), dtype=np.int64)
    cols = col_of.reindex(frame[DS]).to_numpy()
    values = np.full((len(ids), len(history_grid)), np.nan)
    values[rows, cols] = frame[Y].to_numpy()

    regressors: dict[str, np.ndarray] = {}
    if regressor_names:
        if future is None:
            raise ValueError(f"history has regressor columns {regressor_names} but no `future` "
                             "frame gives their values over the horizon")
        fut = future.copy()
        for column in (UNIQUE_ID, DS):
            if column not in fut.columns:
                raise ValueError(f"future has no column {column!r}")
        fut[UNIQUE_ID] = fut[UNIQUE_ID].astype(str)
        fut[DS] = pd.to_datetime(fut[DS])
        needed = pd.MultiIndex.from_product([ids, future_grid[:horizon]])
        fut = fut.set_index([UNIQUE_ID, DS])
        for name in regressor_names:
            if name not in fut.columns:
                raise ValueError(f"regressor column {name!r} is missing in future")
            supplied = fut[name].reindex(needed)
            if supplied.isna().any():
                uid, day = supplied[supplied.isna()].index[0]
                raise ValueError(f"series {uid!r}: regressor column {name!r} has no future value "
                                 f"for {day.date()}")
            matrix = np.zeros((len(ids), len(grid)))
            matrix[rows, cols] = frame[name].to_numpy()
            matrix[:, len(history_grid):len(history_grid) + horizon] = (
                supplied.to_numpy(dtype=float).reshape(len(ids), horizon)
            )
            if is_price(name):
                matrix = relative_log_price(matrix, name, ids, grid, len(history_grid) + horizon)
            regressors[name] = matrix
    group_of = np.full(len(ids), ALL_GROUPS, dtype=object)
    if groups is not None:
        mapped = pd.Series(groups).astype(str).reindex(ids)
        group_of = np.where(mapped.isna(), ALL_GROUPS, mapped.to_numpy(dtype=object))
    return Panel(ids, group_of, grid, len(history_grid), values, regressors)
