"""Backtest accuracy measures: MASE and RMSSE (Hyndman & Koehler 2006), WAPE and bias."""

from __future__ import annotations

import numpy as np


def mase_scale(history: np.ndarray, lag: int) -> float:
    """Hyndman & Koehler (2006) MASE denominator: in-sample MAE of the seasonal naive (lag)."""
    observed = history[~np.isnan(history)]
    if history.size > lag:
        diffs = np.abs(history[lag:] - history[:-lag])
        diffs = diffs[~np.isnan(diffs)]
        if diffs.size and diffs.mean() > 0:
            return float(diffs.mean())
    if history.size > 1:
        diffs = np.abs(np.diff(history))
        diffs = diffs[~np.isnan(diffs)]
        if diffs.size and diffs.mean() > 0:
            return float(diffs.mean())
    return float(observed.mean()) if observed.size and observed.mean() > 0 else 1.0


def backtest_metrics(errors: np.ndarray, actuals: np.ndarray, scale: float) -> dict[str, float]:
    """MASE, RMSSE, WAPE and bias ((Σforecast − Σactual) / Σactual) of one model's backtest."""
    ok = ~np.isnan(errors)
    total = float(np.sum(actuals[ok]))
    return {
        "mase": score(errors, actuals, "mase", scale),
        "rmsse": score(errors, actuals, "rmsse", scale),
        "wape": score(errors, actuals, "wape", scale),
        "bias": float(-np.sum(errors[ok]) / total) if total > 0 else float("nan"),
    }


def score(errors: np.ndarray, actuals: np.ndarray, metric: str, scale: float) -> float:
    """Backtest score (lower is better): MASE, WAPE or RMSSE over every non-missing actual."""
    ok = ~np.isnan(errors)
    if not ok.any():
        return float("nan")
    e = errors[ok]
    if metric == "mase":
        return float(np.mean(np.abs(e)) / scale)
    if metric == "wape":
        total = float(np.sum(np.abs(actuals[ok])))
        return float(np.sum(np.abs(e)) / total) if total > 0 else float(np.mean(np.abs(e)))
    return float(np.sqrt(np.mean(e**2)) / scale)
