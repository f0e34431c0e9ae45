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
    conformal, pooled over origins and steps); coverage is measured leaving each origin out.

    Per-horizon scaling: residuals are standardised by each step's spread growth
    (`step_scale`: (step / middle step)^b, b fitted on the backtest, 0–0.5) before pooling and
    the quantiles multiplied back per forecast step, so early steps are not as wide as late
    ones and steps beyond the backtest keep growing. Finite-sample correction of the levels
    (split conformal: the ⌈(n+1)p⌉-th of n), so few residuals widen rather than narrow."""
    if errors is None or forecasts is None:
        return poisson_quantiles(mean, levels), {}
    z = standardised(errors, forecasts, level)
    exponent = growth_exponent(z)
    steps = z.shape[1]
    z = z / step_scale(steps, steps, exponent)[None, :]
    pooled = z[~np.isnan(z)]
    if pooled.size < 5:
        return poisson_quantiles(mean, levels), {}
    z_levels = np.quantile(pooled, conformal_levels(levels, pooled.size))
    weights = residual_weights(mean, level) * step_scale(mean.size, steps, exponent)
    quantiles = np.maximum(mean[None, :] + weights[None, :] * z_levels[:, None], 0.0)
    quantiles = np.maximum.accumulate(quantiles, axis=0)
    coverage: dict[str, float] = {}
    origins = z.shape[0]
    hits = np.zeros(len(levels))
    seen = 0
    scale = step_scale(steps, steps, exponent)
    for o in range(origins):
        others = np.delete(z, o, axis=0) if origins > 1 else z
        other = others[~np.isnan(others)]
        actual_ok = ~np.isnan(errors[o])
        if other.size < 5 or not actual_ok.any():
            continue
        q = np.quantile(other, conformal_levels(levels, other.size))
        w = residual_weights(forecasts[o][actual_ok], level) * scale[actual_ok]
        bound = np.maximum(forecasts[o][actual_ok][None, :] + w[None, :] * q[:, None], 0.0)
        actual = errors[o][actual_ok] + forecasts[o][actual_ok]
        hits += np.sum(actual[None, :] <= bound + 1e-9, axis=1)
        seen += int(actual_ok.sum())
    if seen:
        coverage = {quantile_column(lv): float(h / seen) for lv, h in zip(levels, hits, strict=True)}
    return quantiles, coverage


def conformal_levels(levels: np.ndarray, n: int) -> np.ndarray:
    """Split-conformal finite-sample levels: upper p → (n+1)p/n, lower p → ((n+1)p − 1)/n, in [0, 1]."""
    levels = np.asarray(levels, dtype=float)
    upper = np.minimum(levels * (n + 1) / n, 1.0)
    lower = np.maximum((levels * (n + 1) - 1) / n, 0.0)
    return np.where(levels >= 0.5, upper, lower)


MIN_GROWTH = 1.25


def growth_exponent(z: np.ndarray) -> float:
    """How the spread of standardised errors grows with the step: b in spread ∝ step^b (0–0.5).

    Fitted by least squares of log mean |z − median| on log step over the backtest's four
    quarters (steps pooled per quarter, so one noisy day or month does not set it; needs 4
    steps); 0 = no growth, 0.5 = a random walk's."""
    steps = z.shape[1]
    if steps < 4:
        return 0.0
    edges = np.linspace(0, steps, 5).round().astype(int)
    centre = nanmedian(z)
    spread, middle = [], []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        with np.errstate(all="ignore"):
            spread.append(nanmean(np.abs(z[:, a:b] - centre)))
        middle.append((a + b + 1) / 2)
    spread_array = np.array(spread, dtype=float)
    ok = np.isfinite(spread_array) & (spread_array > 0)
    if ok.sum() < 3:
        return 0.0
    x = np.log(np.array(middle)[ok])
    slope = float(np.polyfit(x, np.log(spread_array[ok]), 1)[0])
    # Growth the backtest cannot tell from noise (under 25 % from its first to last quarter) is none.
    if np.exp(slope * (x.max() - x.min())) < MIN_GROWTH:
        return 0.0
    return float(np.clip(slope, 0.0, 0.5))


def step_scale(horizon: int, steps: int, exponent: float) -> np.ndarray:
    """Spread multiplier per forecast step: (step / the backtest's middle step)^exponent."""
    middle = (steps + 1) / 2
    return (np.arange(1, horizon + 1) / middle) ** exponent


def poisson_quantiles(mean: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Without a backtest: Poisson quantiles around the mean (the least spread a count can have)."""
    return np.vstack([poisson.ppf(level, np.maximum(mean, 1e-9)) for level in levels]).astype(float)
