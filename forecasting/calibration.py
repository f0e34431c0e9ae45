"""Quantiles calibrated on backtest residuals: standardised, pooled over steps, monotone, ≥ 0."""

from __future__ import annotations

import numpy as np
from scipy.stats import poisson

from forecasting.columns import quantile_column
from forecasting.numeric import nanmean, nanmedian


def residual_weights(forecasts: np.ndarray, level: float) -> np.ndarray:
    """Error scale per period relative to the series' level: √(max(forecast, 5 % of level) / level).

    Retail counts spread roughly like their mean (Poisson-like), so residuals are
    standardised by this weight before their quantiles are taken.
    """
    if level <= 0:
        return np.ones_like(forecasts)
    return np.sqrt(np.maximum(forecasts, 0.05 * level) / level)


def standardised(errors: np.ndarray, forecasts: np.ndarray, level: float) -> np.ndarray:
    return errors / residual_weights(forecasts, level)


def calibrate(mean: np.ndarray, errors: np.ndarray | None, forecasts: np.ndarray | None,
               level: float, levels: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Quantiles = mean + weight × empirical quantile of standardised backtest residuals (split
    conformal, pooled over horizon steps); coverage is measured leaving each origin out."""
    if errors is None or forecasts is None:
        return poisson_quantiles(mean, levels), {}
    z = standardised(errors, forecasts, level)
    pooled = z[~np.isnan(z)]
    if pooled.size < 5:
        return poisson_quantiles(mean, levels), {}
    z_levels = np.quantile(pooled, levels)
    weights = residual_weights(mean, level) * horizon_growth(z, mean.size)
    quantiles = np.maximum(mean[None, :] + weights[None, :] * z_levels[:, None], 0.0)
    quantiles = np.maximum.accumulate(quantiles, axis=0)
    coverage: dict[str, float] = {}
    origins = z.shape[0]
    hits = np.zeros(len(levels))
    seen = 0
    for o in range(origins):
        others = np.delete(z, o, axis=0) if origins > 1 else z
        other = others[~np.isnan(others)]
        actual_ok = ~np.isnan(errors[o])
        if other.size < 5 or not actual_ok.any():
            continue
        q = np.quantile(other, levels)
        bound = np.maximum(forecasts[o][actual_ok][None, :]
                           + residual_weights(forecasts[o][actual_ok], level)[None, :] * q[:, None], 0.0)
        actual = errors[o][actual_ok] + forecasts[o][actual_ok]
        hits += np.sum(actual[None, :] <= bound + 1e-9, axis=1)
        seen += int(actual_ok.sum())
    if seen:
        coverage = {quantile_column(lv): float(h / seen) for lv, h in zip(levels, hits, strict=True)}
    return quantiles, coverage


def horizon_growth(z: np.ndarray, horizon: int) -> np.ndarray:
    """Spread multiplier per forecast step beyond the backtest horizon (1 within it).

    The growth exponent comes from the backtest itself: the spread of standardised
    errors in the second half of its horizon against the first (0 = no growth,
    capped at 0.5, a random walk's).
    """
    steps = z.shape[1]
    factor = np.ones(horizon)
    if horizon <= steps or steps < 4:
        return factor
    half = steps // 2
    early, late = z[:, :half], z[:, half:]
    early_spread = nanmean(np.abs(early - nanmedian(early)))
    late_spread = nanmean(np.abs(late - nanmedian(late)))
    if not (np.isfinite(early_spread) and np.isfinite(late_spread)) or early_spread <= 0:
        return factor
    # Mid-points of the halves are h/4 and 3h/4: three times apart.
    exponent = float(np.clip(np.log(late_spread / early_spread) / np.log(3.0), 0.0, 0.5))
    beyond = np.arange(steps, horizon)
    factor[steps:] = ((beyond + 1) / steps) ** exponent
    return factor


def poisson_quantiles(mean: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Without a backtest: Poisson quantiles around the mean (the least spread a count can have)."""
    return np.vstack([poisson.ppf(level, np.maximum(mean, 1e-9)) for level in levels]).astype(float)
