"""What a stock level is worth: the exact value Φ(y) of a SKU's stock and its whole-case chords (pure).

Φ(y) (CNY, before the purchase cost) = sales weight × E[min(D, y)] + stock weight × y
− aging(y), with D the window's demand (replenishment.demand). For y < 0 (committed
customer orders not covered) Φ(y) = price × y: each uncovered unit loses its price.

Aging (issue 12, rule 6): a unit left over at the end of a replenishment window sells
on at the forecast rate d (units per day), so the u-th unit of stock sells about u / d
days from now. The stock weight already charges every leftover `held_days` of holding;
a leftover held longer costs `aging_slope` × (u − aging_start) more, with aging_start =
d × held_days and aging_slope = unit cost × (holding + obsolescence rate per year) /
365 / d. It is charged on the expected leftovers: aging(y) = ∫ a(u) P(D < u) du over
[aging_start, y], exact under the piecewise-linear CDF (a quadratic per piece). Φ is
concave, so the MILP's chords between breakpoints never overstate it, and equal it at
the breakpoints — which are whole-case stock levels (`breakpoints`).
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np

from replenishment.demand import DemandCurve


class StockValue:
    """Φ(y) for one SKU: `values` (vectorised), `value`, `slope`, and `breakpoints`."""

    def __init__(
        self,
        curve: DemandCurve,
        price: float,
        sales_weight: float,
        stock_weight: float,
        aging_start: float = math.inf,
        aging_slope: float = 0.0,
    ) -> None:
        self.curve = curve
        self.price = price
        self.sales_weight = sales_weight
        self.stock_weight = stock_weight
        self.aging_start = aging_start
        self.aging_slope = aging_slope
        x = np.asarray(curve.units, dtype=float)
        cdf = np.asarray(curve.cdf, dtype=float)
        self._x, self._cdf = x, cdf
        survival = 1.0 - cdf
        # ∫₀^x S(t) dt at each breakpoint; S = 1 below the first breakpoint, 0 past the last
        steps = np.diff(x) * (survival[:-1] + survival[1:]) / 2.0
        self._sales_cum = x[0] + np.concatenate(([0.0], np.cumsum(steps)))
        self._aging = aging_slope > 0 and math.isfinite(aging_start)
        if self._aging:
            inner = x[x > aging_start]
            lo = np.concatenate(([aging_start], inner))
            f0 = self.cdf(lo)
            hi = np.concatenate((lo[1:], [math.inf]))
            slope = np.zeros_like(lo)
            finite = np.isfinite(hi)
            slope[finite] = (self.cdf(hi[finite]) - f0[finite]) / np.maximum(hi[finite] - lo[finite], 1e-12)
            self._age_lo, self._age_f0, self._age_s = lo, f0, slope
            widths = np.where(finite, hi - lo, 0.0)
            pieces = self._age_piece(np.arange(len(lo)), widths)
            self._age_cum = np.concatenate(([0.0], np.cumsum(pieces[:-1])))
            self._age_lists = (list(lo), list(f0), list(slope), list(self._age_cum))
        # plain lists for the scalar path (`value`), which is called per SKU in loops
        self._xl, self._cdfl, self._cuml = list(x), list(cdf), list(self._sales_cum)

    def cdf(self, y: np.ndarray) -> np.ndarray:
        """P(D ≤ y) (0 below the curve's first point, 1 past its last)."""
        return np.interp(y, self._x, self._cdf, left=0.0, right=1.0)

    def _age_piece(self, j: np.ndarray, width: np.ndarray) -> np.ndarray:
        c = self._age_lo[j] - self.aging_start
        f0, s = self._age_f0[j], self._age_s[j]
        return self.aging_slope * (c * f0 * width + (f0 + c * s) * width**2 / 2.0 + s * width**3 / 3.0)

    def expected_sales(self, y: np.ndarray) -> np.ndarray:
        """E[min(D, y)] in units (0 for y ≤ 0), vectorised."""
        y = np.asarray(y, dtype=float)
        x = self._x
        k = np.clip(np.searchsorted(x, y, side="right") - 1, 0, len(x) - 1)
        survival_y = 1.0 - self.cdf(y)
        inside = self._sales_cum[k] + (y - x[k]) * ((1.0 - self._cdf[k]) + survival_y) / 2.0
        out = np.where(y < x[0], y, np.where(y >= x[-1], self._sales_cum[-1], inside))
        return np.maximum(out, 0.0)

    def aging(self, y: np.ndarray) -> np.ndarray:
        """Expected extra holding and obsolescence (CNY) of leftovers held past `aging_start`."""
        y = np.asarray(y, dtype=float)
        if not self._aging:
            return np.zeros_like(y)
        j = np.clip(np.searchsorted(self._age_lo, y, side="right") - 1, 0, len(self._age_lo) - 1)
        width = np.maximum(y - self._age_lo[j], 0.0)
        return np.where(y > self.aging_start, self._age_cum[j] + self._age_piece(j, width), 0.0)

    def values(self, y: np.ndarray) -> np.ndarray:
        """Φ at each stock level in `y` (CNY)."""
        y = np.asarray(y, dtype=float)
        positive = self.sales_weight * self.expected_sales(y) + self.stock_weight * y - self.aging(y)
        return np.where(y < 0, self.price * y, positive)

    def value(self, y: float) -> float:
        """Φ(y) for one stock level: the same formulas as `values`, without numpy overhead."""
        y = float(y)
        if y < 0:
            return self.price * y
        x, cdf, cum = self._xl, self._cdfl, self._cuml
        if y < x[0]:
            sales = y
        elif y >= x[-1]:
            sales = cum[-1]
        else:
            k = bisect_right(x, y) - 1
            f_y = cdf[k] + (cdf[k + 1] - cdf[k]) * (y - x[k]) / (x[k + 1] - x[k])
            sales = cum[k] + (y - x[k]) * ((1.0 - cdf[k]) + (1.0 - f_y)) / 2.0
        total = self.sales_weight * sales + self.stock_weight * y
        if self._aging and y > self.aging_start:
            lo, f0, slope, age_cum = self._age_lists
            j = bisect_right(lo, y) - 1
            width = y - lo[j]
            c = lo[j] - self.aging_start
            piece = self.aging_slope * (
                c * f0[j] * width + (f0[j] + c * slope[j]) * width**2 / 2.0 + slope[j] * width**3 / 3.0
            )
            total -= age_cum[j] + piece
        return total

    def slope(self, y: np.ndarray) -> np.ndarray:
        """Right derivative of Φ (CNY per unit)."""
        y = np.asarray(y, dtype=float)
        f = self.cdf(y)
        aging = self.aging_slope * np.maximum(y - self.aging_start, 0.0) * f if self._aging else 0.0
        return np.where(y < 0, self.price, self.sales_weight * (1.0 - f) + self.stock_weight - aging)

    def breakpoints(
        self,
        position: int,
        highest: float,
        step: int,
        exact_levels: int | None = None,
        max_breakpoints: int | None = None,
        measured_levels: int | None = None,
    ) -> tuple[np.ndarray, float]:
        """Stock levels (units) for the chords over [min(position, 0), highest], and the most
        the chords can fall below Φ at a stock a purchase can reach (CNY; 0 when exact).

        Every level position + j × step (whole cases of the gcd of the SKU's case packs) when
        there are at most `EXACT_LEVELS`: the chords then equal Φ at every stock a purchase
        can reach. Otherwise, starting from the ends, the level where the chords fall
        furthest below Φ is added to each segment (measured on the whole-case levels, or on
        a grid of at most `MEASURED_LEVELS` of them) until no level is more than
        `CHORD_TOLERANCE` CNY below or `MAX_BREAKPOINTS` is reached. On a coarser measuring
        grid the error between its levels is bounded by (slope at left − slope at right) ×
        width / 4 (Φ is concave) and added. The three limits can be given (large instances
        use fewer breakpoints: `replenishment.instance.LARGE_INSTANCE_SKUS`).
        """
        from replenishment.instance import (
            CHORD_TOLERANCE,
            EXACT_LEVELS,
            MAX_BREAKPOINTS,
            MEASURED_LEVELS,
        )

        exact_levels = EXACT_LEVELS if exact_levels is None else exact_levels
        max_breakpoints = MAX_BREAKPOINTS if max_breakpoints is None else max_breakpoints
        measured_levels = MEASURED_LEVELS if measured_levels is None else measured_levels
        step = max(int(step), 1)
        top = max(float(highest), float(position))
        levels = int(math.ceil((top - position) / step))
        extra = [0.0] if position < 0 else []
        if levels <= exact_levels:
            grid = position + step * np.arange(levels + 1, dtype=float)
            return np.unique(np.concatenate((grid, extra))), 0.0
        stride = max(1, math.ceil(levels / measured_levels))
        count = levels // stride
        grid = position + step * stride * np.arange(count + 1, dtype=float)
        if grid[-1] < position + step * levels:
            grid = np.append(grid, position + step * levels)
        if position < 0:
            grid = np.unique(np.append(grid, 0.0))
        phi = self.values(grid)
        chosen = np.zeros(len(grid), dtype=bool)
        chosen[[0, -1]] = True
        if position < 0:
            chosen[np.searchsorted(grid, 0.0)] = True
        deviation = np.zeros(len(grid))
        while True:
            idx = np.flatnonzero(chosen)
            deviation = phi - np.interp(grid, grid[idx], phi[idx])
            if chosen.sum() >= max_breakpoints:
                break
            # per segment, its worst level: add those above the tolerance
            picks = []
            for a, b in zip(idx[:-1], idx[1:], strict=True):
                if b - a > 1:
                    j = a + 1 + int(np.argmax(deviation[a + 1 : b]))
                    if deviation[j] > CHORD_TOLERANCE:
                        picks.append(j)
            if not picks:
                break
            room = max_breakpoints - int(chosen.sum())
            chosen_now = np.array(picks)
            if chosen_now.size > room:
                chosen_now = chosen_now[np.argsort(-deviation[chosen_now])[:room]]
            chosen[chosen_now] = True
        error = float(max(deviation.max(), 0.0))
        if stride > 1:
            slopes = self.slope(grid)
            cell = (slopes[:-1] - slopes[1:]) * np.diff(grid) / 4.0
            edges = np.maximum(deviation[:-1], deviation[1:])
            error = float(max(np.max(cell + edges), error, 0.0))
        return grid[chosen], error
