"""Demand summed over windows (lead time + review period, a season): the optimizer's narrow interface.

Quantiles of a total come from the backtest residuals aggregated over windows
of the same length (so autocorrelated errors widen them), never from summing
daily quantiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from forecasting.calibration import residual_weights
from forecasting.columns import (
    DIST,
    DS,
    LOC,
    MEAN,
    PERIODS,
    SCALE,
    UNIQUE_ID,
    WINDOW_END,
    WINDOW_ID,
    WINDOW_START,
    quantile_column,
)
from forecasting.engine import ForecastResult


def _window_error_scale(errors: np.ndarray, forecasts: np.ndarray, level: float, length: int
                        ) -> float:
    """RMS of backtest error sums over `length` consecutive periods, standardised by √Σw²."""
    weights = residual_weights(forecasts, level)
    sums: list[np.ndarray] = []
    for o in range(errors.shape[0]):
        e, w2 = errors[o], weights[o] ** 2
        if e.size < length:
            continue
        ok = ~np.isnan(e)
        e_sum = np.concatenate([[0.0], np.cumsum(np.where(ok, e, 0.0))])
        w_sum = np.concatenate([[0.0], np.cumsum(np.where(ok, w2, 0.0))])
        n_ok = np.concatenate([[0], np.cumsum(ok)])
        window_e = e_sum[length:] - e_sum[:-length]
        window_w = w_sum[length:] - w_sum[:-length]
        complete = (n_ok[length:] - n_ok[:-length]) == length
        if complete.any():
            sums.append(window_e[complete] / np.sqrt(np.maximum(window_w[complete], 1e-12)))
    if not sums:
        return float("nan")
    standardised = np.concatenate(sums)
    # Bias and spread together: a model that ran low in backtests gets a wider total.
    return float(np.sqrt(np.mean(standardised**2)))


def _scale_for_length(errors: np.ndarray, forecasts: np.ndarray, level: float, length: int,
                      cache: dict[int, float]) -> float:
    steps = errors.shape[1]
    longest = max(1, steps // 2)
    if length <= longest:
        if length not in cache:
            cache[length] = _window_error_scale(errors, forecasts, level, length)
        return cache[length]
    # Beyond half the backtest horizon too few windows remain: extrapolate the growth
    # of the standardised spread between L/2 and L (0 = independent errors, 0.5 = a level shift).
    top = _scale_for_length(errors, forecasts, level, longest, cache)
    half = _scale_for_length(errors, forecasts, level, max(1, longest // 2), cache)
    growth = 0.0
    if np.isfinite(top) and np.isfinite(half) and half > 0 and longest > 1:
        growth = float(np.clip(math.log(top / half) / math.log(longest / max(1, longest // 2)), 0.0, 0.5))
    return top * (length / longest) ** growth


def total_demand(
    forecast_run: ForecastResult,
    windows: pd.DataFrame,
    quantiles: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Quantiles of each series' demand summed over each window (units over the window).

    `forecast_run`: the `ForecastResult` of `forecasting.forecast_panel` or of
    `forecasting.services.load_run` / `latest_run` (a run read back from the database).
    `windows`: columns `unique_id`, `window_start`, `window_end` (business dates,
    inclusive; `start` / `end` are accepted too) and optionally `window_id`
    (default "start..end"); each window must lie inside the forecast horizon.

    Returns one row per window: `unique_id`, `window_id`, `window_start`,
    `window_end`, `periods` (forecast periods in the window), `mean` (sum of
    daily means), one `qNN` column per level in `quantiles` (default the run's;
    e.g. 0.97 → `q97`, 0.975 → `q97_5`), and the fitted distribution of the
    total: `dist` = "normal", `loc`, `scale` — any level p is then
    max(0, loc + scale · Φ⁻¹(p)), see `total_quantile`. The scale comes from the
    run's backtest errors summed over windows of the same length (Poisson
    spread for series without a backtest).
    """
    # `start` / `end` are accepted as aliases of window_start / window_end.
    windows = windows.rename(columns={k: v for k, v in {"start": WINDOW_START, "end": WINDOW_END}.items()
                                      if k in windows.columns and v not in windows.columns})
    for column in (UNIQUE_ID, WINDOW_START, WINDOW_END):
        if column not in windows.columns:
            raise ValueError(f"windows has no column {column!r} (needs unique_id, window_start, window_end)")
    levels = tuple(quantiles) if quantiles is not None else forecast_run.quantiles
    if any(not 0 < q < 1 for q in levels):
        raise ValueError(f"quantiles must be in (0, 1), got {list(levels)}")
    frame = windows.copy()
    frame[UNIQUE_ID] = frame[UNIQUE_ID].astype(str)
    frame[WINDOW_START] = pd.to_datetime(frame[WINDOW_START])
    frame[WINDOW_END] = pd.to_datetime(frame[WINDOW_END])
    if WINDOW_ID not in frame.columns:
        frame[WINDOW_ID] = (frame[WINDOW_START].dt.strftime("%Y-%m-%d") + ".."
                            + frame[WINDOW_END].dt.strftime("%Y-%m-%d"))
    forecasts = forecast_run.forecasts
    by_series = {uid: rows.sort_values(DS) for uid, rows in forecasts.groupby(UNIQUE_ID, sort=False)}
    info = forecast_run.series.set_index(UNIQUE_ID)
    out_rows = []
    caches: dict[str, dict[int, float]] = {}
    for row in frame.itertuples(index=False):
        uid = getattr(row, UNIQUE_ID)
        window_id = getattr(row, WINDOW_ID)
        start, end = getattr(row, WINDOW_START), getattr(row, WINDOW_END)
        if uid not in by_series:
            raise ValueError(f"series {uid!r} (window {window_id}) is not in the forecast run")
        if end < start:
            raise ValueError(f"series {uid!r}: window {window_id} ends before it starts")
        rows = by_series[uid]
        dates = rows[DS]
        if start < dates.iloc[0] or end > dates.iloc[-1]:
            raise ValueError(f"series {uid!r}: window {window_id} ({start.date()}..{end.date()}) is "
                             f"outside the forecast horizon {dates.iloc[0].date()}..{dates.iloc[-1].date()}")
        inside = rows[(dates >= start) & (dates <= end)]
        means = inside[MEAN].to_numpy(dtype=float)
        total = float(means.sum())
        record = info.loc[uid]
        errors, past = record["backtest_errors"], record["backtest_forecasts"]
        level = float(record["level"])
        scale = float("nan")
        if errors is not None and past is not None and np.size(errors):
            errors, past = np.asarray(errors, float), np.asarray(past, float)
            cache = caches.setdefault(uid, {})
            spread = _scale_for_length(errors, past, level, len(means), cache)
            scale = float(np.sqrt(np.sum(residual_weights(means, level) ** 2)) * spread)
        if not np.isfinite(scale):
            scale = math.sqrt(max(total, 0.0))
        result = {UNIQUE_ID: uid, WINDOW_ID: window_id, WINDOW_START: start, WINDOW_END: end,
                  PERIODS: len(means), MEAN: total}
        for level_p in levels:
            result[quantile_column(level_p)] = max(0.0, total + scale * float(norm.ppf(level_p)))
        result.update({DIST: "normal", LOC: total, SCALE: scale})
        out_rows.append(result)
    columns = [UNIQUE_ID, WINDOW_ID, WINDOW_START, WINDOW_END, PERIODS, MEAN,
               *[quantile_column(q) for q in levels], DIST, LOC, SCALE]
    return pd.DataFrame(out_rows, columns=columns)


def total_quantile(totals: pd.DataFrame, level: float) -> pd.Series:
    """Units at service level `level` (e.g. 0.97) for each row of `total_demand`'s output."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return (totals[LOC] + totals[SCALE] * float(norm.ppf(level))).clip(lower=0.0)
