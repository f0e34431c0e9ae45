"""The `Forecaster` protocol and its implementations, registered by name: the one declaration of a model.

Each forecaster sees one regular, gap-free series as a float array (`fit(y, X)`)
and returns the next `h` periods (`predict(h, X_future, quantiles)`). Its class
declares how the engine hands it a series (`route`, see `ROUTES`) and, for the
curve routes, whose season curve it reads (`curve`: the series' own, shrunk to its
group's, or the group's alone). `register` adds a model; `EngineConfig` accepts
any registered name, and the engine reads nothing about a model from anywhere else.
Fast backends: statsforecast's compiled models; Prophet for the few series
where it is allowed to compete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from scipy.stats import norm

# How the engine hands a model its series (daily data is modelled in weeks):
ROUTES = {
    "period": "event-free periods with the yearly season divided out",
    "period_raw": "event-free periods with their season (season_length = periods per year)",
    "period_share": "event-free periods against a season curve passed as X (one column)",
    "period_x": "periods with their events, the log event intensity as regressor X",
    "direct": "event-free target periods (days) with weekday and season divided out; off-season left out",
    "direct_raw": "target periods as sold, with dates and the calendar in the context",
}
# Whose season curve a curve route reads: the series' own (shrunk to its group's) or the group's.
CURVES = ("own", "group")


@dataclass(frozen=True)
class ModelContext:
    """What a model may know besides the values: season length, dates, calendar, season clock.

    `positions` (optional) is the season position of each fitted period followed by those of
    the periods to forecast, when the season does not follow the calendar (a group anchored
    on a lunar festival counts weeks from the festival; see `forecasting.profiles`).
    """

    season_length: int = 1
    start: pd.Timestamp | None = None
    freq: str | None = None
    holidays: pd.DataFrame | None = None
    positions: np.ndarray | None = None


@dataclass
class Prediction:
    """Point forecast (`mean`, length h) and model-native quantiles keyed by level."""

    mean: np.ndarray
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)


@runtime_checkable
class Forecaster(Protocol):
    """fit(y, X=None) on a gap-free float series, then predict(h, X_future=None, quantiles=...)."""

    name: str
    route: str

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Forecaster: ...

    def predict(
        self, h: int, X_future: np.ndarray | None = None, quantiles: Sequence[float] = ()
    ) -> Prediction: ...


class _Base:
    """Shared fitting bookkeeping and a simple native interval (random-walk-like spread)."""

    name = "base"
    route: ClassVar[str] = "period"
    curve: ClassVar[str] = "own"

    def __init__(self, context: ModelContext | None = None) -> None:
        self.context = context or ModelContext()
        self._y = np.zeros(0)
        self._X: np.ndarray | None = None

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> _Base:
        y = np.asarray(y, dtype=float)
        if y.size == 0:
            raise ValueError(f"{self.name}: empty series")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{self.name}: series has missing or infinite values")
        self._y = y
        self._X = None if X is None else np.asarray(X, dtype=float)
        return self

    def predict(
        self, h: int, X_future: np.ndarray | None = None, quantiles: Sequence[float] = ()
    ) -> Prediction:
        mean = np.asarray(self._mean(h, X_future), dtype=float)
        return Prediction(mean, self._native_quantiles(mean, quantiles))

    def _mean(self, h: int, X_future: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def _native_quantiles(self, mean: np.ndarray, quantiles: Sequence[float]) -> dict[float, np.ndarray]:
        # Spread of one-step changes, growing like a random walk: a rough native
        # interval; the engine replaces it with backtest-calibrated quantiles.
        if not quantiles:
            return {}
        diffs = np.diff(self._y)
        sd = float(np.std(diffs) / np.sqrt(2)) if diffs.size > 1 else float(np.sqrt(max(self._y.mean(), 0)))
        steps = np.sqrt(np.arange(1, mean.size + 1))
        return {q: np.maximum(mean + norm.ppf(q) * sd * steps, 0.0) for q in sorted(quantiles)}


class SeasonalNaive(_Base):
    """The value one season earlier (the last value when the series is shorter than a season).

    With a season clock in the context (`positions`), each period ahead takes the latest
    past value at the same position: a festival good's last period at the same week from
    its festival (a lunar year is 50–55 weeks, so "52 periods back" would miss the peak).
    """

    name = "seasonal_naive"
    route = "period_raw"

    def _mean(self, h: int, X_future: np.ndarray | None) -> np.ndarray:
        positions = self.context.positions
        if positions is not None:
            if positions.size < self._y.size + h:
                raise ValueError(f"{self.name}: season clock has {positions.size} positions "
                                 f"for {self._y.size} + {h} periods")
            return same_position_naive(self._y, positions[:self._y.size],
                                       positions[self._y.size:self._y.size + h])
        m = self.context.season_length
        if m <= 1 or self._y.size < m:
            return np.full(h, self._y[-1])
        last_season = self._y[-m:]
        return np.resize(last_season, h)


def same_position_naive(series: np.ndarray, past: np.ndarray, ahead: np.ndarray) -> np.ndarray:
    """Each ahead period takes the latest past value at its season position (else the last value)."""
    past, ahead = np.asarray(past, dtype=np.intp), np.asarray(ahead, dtype=np.intp)
    latest = np.full(int(max(past.max(initial=0), ahead.max(initial=0))) + 1, -1)
    np.maximum.at(latest, past, np.arange(past.size))
    source = latest[ahead]
    return np.where(source >= 0, series[np.maximum(source, 0)], series[-1])


class WindowAverage(_Base):
    """Mean of the last `window` periods; with a curve `X` (one column), the SKU's share of it.

    With X: level = Σ y / Σ X over the window and the forecast is level × X_future —
    the "category profile × SKU share" estimator, robust where the curve is near zero.
    """

    name = "window_average"
    route = "period_share"

    def __init__(self, context: ModelContext | None = None, window: int = 8) -> None:
        super().__init__(context)
        self.window = window

    def _mean(self, h: int, X_future: np.ndarray | None) -> np.ndarray:
        recent = self._y[-self.window:]
        if self._X is None:
            return np.full(h, float(recent.mean()))
        if X_future is None:
            raise ValueError(f"{self.name} was fitted against a curve but got no future curve")
        # The window holds `window` periods' worth of curve, not `window` periods: in a
        # seasonal good's off-season the last 8 weeks carry almost no curve (Σ curve ≈ 0),
        # so their share is noise; reaching back until the curve sums to `window` (an
        # average period is 1) reads the level from the last peak. Flat curves: unchanged.
        mass = np.cumsum(self._X[::-1, 0])
        reach = int(np.searchsorted(mass, self.window)) + 1
        span = max(self.window, min(reach, self._X.shape[0]))
        recent = self._y[-span:]
        curve = self._X[-span:, 0]
        share = float(recent.sum() / curve.sum()) if curve.sum() > 0 else float(recent.mean())
        return share * np.asarray(X_future, dtype=float)[:h, 0]


class CategoryProfile(WindowAverage):
    """The category's season curve × the SKU's share of it: the window average read against its
    group's curve instead of its own (for short and new series, whose own curve is noise)."""

    name = "category_profile"
    curve = "group"


class _StatsForecast(_Base):
    """Adapter to a statsforecast model's array interface `forecast(y, h, X, X_future)`."""

    def _model(self) -> Any:
        raise NotImplementedError

    def _mean(self, h: int, X_future: np.ndarray | None) -> np.ndarray:
        model = self._model()
        if self._X is not None:
            result = model.forecast(y=self._y, h=h, X=self._X, X_future=X_future)
        else:
            result = model.forecast(y=self._y, h=h)
        return np.asarray(result["mean"], dtype=float)


class Theta(_StatsForecast):
    """Theta method (Assimakopoulos & Nikolopoulos 2000; optimised variant by statsforecast AutoTheta)."""

    name = "theta"
    route = "period"

    def _model(self) -> Any:
        from statsforecast.models import AutoTheta

        return AutoTheta(season_length=self.context.season_length)


class ETS(_StatsForecast):
    """Exponential smoothing, error/trend form chosen by AICc (Hyndman et al. 2008), no seasonality term.

    The engine removes the yearly season first, which is 10–20× cheaper than a
    seasonal ETS search (docs/design-notes.md#libraries).
    """

    name = "ets"
    route = "period"

    def _model(self) -> Any:
        from statsforecast.models import AutoETS

        return AutoETS(season_length=1, model="ZZN")


class Arima(_StatsForecast):
    """ARIMA(1,1,1) with exogenous regressors (event intensity, promotion share) when given."""

    name = "arima"
    route = "period_x"

    def _model(self) -> Any:
        from statsforecast.models import ARIMA

        return ARIMA(order=(1, 1, 1), include_mean=False)


class Croston(_StatsForecast):
    """Croston (1972): separate smoothing of demand sizes and intervals, for intermittent demand."""

    name = "croston"
    route = "direct"

    def _model(self) -> Any:
        from statsforecast.models import CrostonClassic

        return CrostonClassic()


class CrostonSBA(_StatsForecast):
    """Syntetos–Boylan approximation (2005): Croston with the (1 - α/2) bias correction."""

    name = "sba"
    route = "direct"

    def _model(self) -> Any:
        from statsforecast.models import CrostonSBA as SBA

        return SBA()


class TSB(_StatsForecast):
    """Teunter–Syntetos–Babai (2011): smooths demand probability, so obsolescence shows."""

    name = "tsb"
    route = "direct"

    def _model(self) -> Any:
        from statsforecast.models import TSB as TSBModel

        return TSBModel(alpha_d=0.1, alpha_p=0.1)


class Prophet(_Base):
    """Prophet (Taylor & Letham 2018) with restock's calendar as holidays; needs dates in the context."""

    name = "prophet"
    route = "direct_raw"

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Prophet:
        super().fit(y, X)
        if self.context.start is None or self.context.freq is None:
            raise ValueError("prophet needs the series' start date and frequency")
        from prophet import Prophet as ProphetModel

        logging.getLogger("cmdstanpy").disabled = True
        logging.getLogger("prophet").setLevel(logging.ERROR)
        logging.getLogger("prophet.plot").disabled = True
        dates = pd.date_range(self.context.start, periods=y.size, freq=self.context.freq)
        frame = pd.DataFrame({"ds": dates, "y": y})
        daily = self.context.freq == "D"
        model = ProphetModel(
            holidays=self.context.holidays,
            weekly_seasonality=daily,
            daily_seasonality=False,
            yearly_seasonality=y.size >= (365 if daily else 52),
            uncertainty_samples=0,
        )
        if self._X is not None:
            for column in range(self._X.shape[1]):
                model.add_regressor(f"x{column}")
                frame[f"x{column}"] = self._X[:, column]
        self._model = model.fit(frame, algorithm="LBFGS")
        self._dates = dates
        return self

    def _mean(self, h: int, X_future: np.ndarray | None) -> np.ndarray:
        future = pd.DataFrame(
            {"ds": pd.date_range(self._dates[-1], periods=h + 1, freq=self.context.freq)[1:]}
        )
        if self._X is not None:
            if X_future is None:
                raise ValueError("prophet was fitted with regressors but got no future values")
            for column in range(self._X.shape[1]):
                future[f"x{column}"] = X_future[:, column]
        return self._model.predict(future)["yhat"].to_numpy(dtype=float)


ForecasterFactory = Callable[[ModelContext], Forecaster]

REGISTRY: dict[str, ForecasterFactory] = {}


def make_forecaster(name: str, context: ModelContext | None = None) -> Forecaster:
    """A fresh forecaster registered under `name`; ValueError naming the known ones otherwise."""
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered: {sorted(REGISTRY)}") from None
    return factory(context or ModelContext())


def register(name: str, factory: ForecasterFactory) -> None:
    """Add (or replace) a model under `name`, e.g. a plug-in or a test double.

    `factory` (usually the class) declares the model's `route` (a key of `ROUTES`) and
    optionally its `curve` ("own" or "group"); ValueError when it does not.
    """
    route = getattr(factory, "route", None)
    if route not in ROUTES:
        raise ValueError(f"model {name!r} must declare a route, one of {sorted(ROUTES)}; got {route!r}")
    curve = getattr(factory, "curve", "own")
    if curve not in CURVES:
        raise ValueError(f"model {name!r}: curve must be one of {list(CURVES)}, got {curve!r}")
    REGISTRY[name] = factory


def route_of(name: str) -> tuple[str, str]:
    """(route, curve) a registered model declares; ValueError naming the registered ones otherwise."""
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered: {sorted(REGISTRY)}") from None
    return factory.route, getattr(factory, "curve", "own")  # type: ignore[attr-defined]


@contextmanager
def registered(name: str, factory: ForecasterFactory) -> Any:
    """Register `factory` under `name` for the duration of a `with` block, then restore the registry."""
    saved = dict(REGISTRY)
    register(name, factory)
    try:
        yield factory
    finally:
        REGISTRY.clear()
        REGISTRY.update(saved)


for _model in (SeasonalNaive, WindowAverage, CategoryProfile, Theta, ETS, Arima, Croston, CrostonSBA,
               TSB, Prophet):
    register(_model.name, _model)
