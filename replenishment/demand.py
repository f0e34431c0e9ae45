"""Demand over a window as a distribution built from forecast quantiles (pure numpy).

The CDF is linear between the quantile points, extended linearly to F = 0 below
q10 (clipped at zero units) and to F = 1 above q99. Expected units sold
E[min(D, y)] = ∫₀^y P(D > t) dt is then exact and concave; the MILP uses its
chords between the quantile points (piecewise linear, concave).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecasting import QUANTILE_COLUMNS, QUANTILE_LEVELS  # noqa: F401  (replenishment reads them here)


@dataclass(frozen=True)
class DemandCurve:
    """Breakpoints `units` (increasing, ≥ 0) and the CDF `cdf` at them; cdf[-1] == 1."""

    units: np.ndarray
    cdf: np.ndarray

    @property
    def mean(self) -> float:
        """E[D] in units (the expected sales with unlimited stock)."""
        return float(self.expected_sales(float(self.units[-1])))

    def expected_sales(self, stock: float) -> float:
        """E[min(D, stock)] in units, exact under the piecewise-linear CDF."""
        if stock <= 0:
            return 0.0
        x, f = self.units, self.cdf
        survival = 1.0 - f
        total = 0.0
        if x[0] > 0:
            total += min(stock, x[0])
            if stock <= x[0]:
                return total
        for k in range(len(x) - 1):
            lo, hi = x[k], x[k + 1]
            if stock <= lo:
                break
            top = min(stock, hi)
            width = hi - lo
            if width <= 0:
                continue
            # survival is linear on [lo, hi]: integrate it exactly up to `top`
            s_top = survival[k] + (survival[k + 1] - survival[k]) * (top - lo) / width
            total += (top - lo) * (survival[k] + s_top) / 2.0
        return float(total)

    def cdf_at(self, stock: float) -> float:
        """P(D ≤ stock)."""
        if stock < 0:
            return 0.0
        if stock < self.units[0]:
            return 0.0
        return float(np.interp(stock, self.units, self.cdf))

    def quantile(self, level: float) -> float:
        """Units at probability `level` (inverse of the piecewise-linear CDF)."""
        if level <= self.cdf[0]:
            return float(self.units[0])
        # cdf can be flat where quantiles tie: take the first point reaching the level
        return float(np.interp(level, self.cdf, self.units))

    def chords(self) -> tuple[np.ndarray, np.ndarray]:
        """Breakpoints (units) and E[min(D, ·)] at them: the concave piecewise-linear model."""
        points = self.units if self.units[0] == 0 else np.concatenate(([0.0], self.units))
        values = np.array([self.expected_sales(float(p)) for p in points])
        return points, values

    def expected_sales_chord(self, stock: float) -> float:
        """The piecewise-linear (chord) approximation of E[min(D, stock)] the MILP uses."""
        points, values = self.chords()
        if stock <= 0:
            return stock  # every unit short of committed orders is a sale lost
        return float(np.interp(stock, points, values))


def demand_curve(quantiles: Sequence[float]) -> DemandCurve:
    """A `DemandCurve` from the quantiles at `QUANTILE_LEVELS` (units; made monotone)."""
    q = np.maximum.accumulate(np.maximum(np.asarray(quantiles, dtype=float), 0.0))
    levels = np.asarray(QUANTILE_LEVELS)
    low_slope = (q[1] - q[0]) / (levels[1] - levels[0])
    x_low = q[0] - levels[0] * low_slope
    high_slope = (q[-1] - q[-2]) / (levels[-1] - levels[-2])
    x_high = q[-1] + (1.0 - levels[-1]) * high_slope
    units = np.concatenate(([x_low], q, [x_high]))
    cdf = np.concatenate(([0.0], levels, [1.0]))
    if x_low < 0:
        # the tail below zero units is a mass at zero demand
        f0 = float(np.interp(0.0, units[:2], cdf[:2]))
        units[0], cdf[0] = 0.0, f0
    # strictly increasing breakpoints keep interpolation well defined
    for k in range(1, len(units)):
        if units[k] <= units[k - 1]:
            units[k] = units[k - 1] + 1e-6
    return DemandCurve(units=units, cdf=cdf)


def critical_ratio(price: float, unit_cost: float, holding: float, salvage: float) -> float:
    """Newsvendor critical ratio Cu / (Cu + Co) for a one-shot buy (all CNY per unit).

    Cu = price − cost (margin lost per unit short); Co = cost − salvage + holding
    (loss per unit left at season end). The optimal stock is the demand quantile at
    this ratio (newsvendor critical-ratio rule).
    """
    underage = price - unit_cost
    overage = unit_cost - salvage + holding
    if underage <= 0:
        return 0.0
    return underage / (underage + max(overage, 1e-12))


def newsvendor_quantity(
    quantiles: Sequence[float], price: float, unit_cost: float, holding: float, salvage: float
) -> float:
    """Stock (units) that maximises expected profit of a one-shot seasonal buy: the demand
    quantile at the newsvendor critical ratio."""
    return demand_curve(quantiles).quantile(critical_ratio(price, unit_cost, holding, salvage))
