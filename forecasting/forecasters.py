"""The `Forecaster` protocol and its implementations, registered by name.

Each forecaster sees one regular, gap-free series as a float array (`fit(y, X)`)
and returns the next `h` periods (`predict(h, X_future, quantiles)`). The engine
decides which series a model sees (weekly aggregate, seasonally adjusted, daily).
Fast backends: statsforecast's compiled models; Prophet for the few series
where it is allowed to compete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from scipy.stats import norm


@dataclass(frozen=True)
class ModelContext:
    """What a model may know besides the values: season length, dates, calendar."""

    season_length: int = 1
    start: pd.Timestamp | None = None
    freq: str | None = None
    holidays: pd.DataFrame | None = None


@dataclass
class Prediction:
    """Point forecast (`mean`, length h) and model-native quantiles keyed by level."""

    mean: np.ndarray
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)


@runtime_checkable
class Forecaster(Protocol):
    """fit(y, X=None) on a gap-free float series, then predict(h, X_future=None, quantiles=...)."""

    name: str

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> Forecaster: ...

    def predict(
        self, h: int, X_future: np.ndarray | None = None, quantiles: Sequence[float] = ()
    ) -> Prediction: ...


class _Base:
    """Shared fitting bookkeeping and a simple native interval (random-walk-like spread)."""

    name = "base"

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
    """The value one season earlier (the last value when the series is shorter than a season)."""

    name = "seasonal_naive"

    def _mean(self, h: int, X_future: np.ndarray | None) -> np.ndarray:
        m = self.context.season_length
        if m <= 1 or self._y.size < m:
            return np.full(h, self._y[-1])
        last_season = self._y[-m:]
        return np.resize(last_season, h)


class WindowAverage(_Base):
    """Mean of the last `window` periods; with a curve `X` (one column), the SKU's share of it.

    With X: level = Σ y / Σ X over the window and the forecast is level × X_future —
    the "category profile × SKU share" estimator, robust where the curve is near zero.
    """

    name = "window_average"

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

    def _model(self) -> Any:
        from statsforecast.models import AutoTheta

        return AutoTheta(season_length=self.context.season_length)


class ETS(_StatsForecast):
    """Exponential smoothing, error/trend form chosen by AICc (Hyndman et al. 2008), no seasonality term.

    The engine removes the yearly season first, which is 10–20× cheaper than a
    seasonal ETS search (docs/design-notes.md#libraries).
    """

    name = "ets"

    def _model(self) -> Any:
        from statsforecast.models import AutoETS

        return AutoETS(season_length=1, model="ZZN")


class Arima(_StatsForecast):
    """ARIMA(1,1,1) with exogenous regressors (event intensity, promotion share) when given."""

    name = "arima"

    def _model(self) -> Any:
        from statsforecast.models import ARIMA

        return ARIMA(order=(1, 1, 1), include_mean=False)


class Croston(_StatsForecast):
    """Croston (1972): separate smoothing of demand sizes and intervals, for intermittent demand."""

    name = "croston"

    def _model(self) -> Any:
        from statsforecast.models import CrostonClassic

        return CrostonClassic()


class CrostonSBA(_StatsForecast):
    """Syntetos–Boylan approximation (2005): Croston with the (1 - α/2) bias correction."""

    name = "sba"

    def _model(self) -> Any:
        from statsforecast.models import CrostonSBA as SBA

        return SBA()


class TSB(_StatsForecast):
    """Teunter–Syntetos–Babai (2011): smooths demand probability, so obsolescence shows."""

    name = "tsb"

    def _model(self) -> Any:
        from statsforecast.models import TSB as TSBModel

        return TSBModel(alpha_d=0.1, alpha_p=0.1)


class Prophet(_Base):
    """Prophet (Taylor & Letham 2018) with restock's calendar as holidays; needs dates in the context."""

    name = "prophet"

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

REGISTRY: dict[str, ForecasterFactory] = {
    "seasonal_naive": SeasonalNaive,
    "window_average": WindowAverage,
    # The same level model; the engine hands it the series seasonally adjusted by its
    # category's curve (category profile × SKU share) rather than by its own.
    "category_profile": WindowAverage,
    "theta": Theta,
    "ets": ETS,
    "arima": Arima,
    "croston": Croston,
    "sba": CrostonSBA,
    "tsb": TSB,
    "prophet": Prophet,
}


def make_forecaster(name: str, context: ModelContext | None = None) -> Forecaster:
    """A fresh forecaster registered under `name`; ValueError naming the known ones otherwise."""
    try:
        factory = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered: {sorted(REGISTRY)}") from None
    return factory(context or ModelContext())


def register(name: str, factory: ForecasterFactory) -> None:
    """Add (or replace) a model under `name`, e.g. a plug-in or a test double."""
    REGISTRY[name] = factory
