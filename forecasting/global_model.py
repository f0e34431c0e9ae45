"""A global gradient-boosted model: one LightGBM (through mlforecast) per group across its series.

Where the engine's statistical models fit each series on its own, the global model learns one
regressor per group (category or, without groups, the whole panel) from every series at once,
on the engine's model periods (weeks for daily data, else the data's own periods), with:

- lags of the target and rolling means/deviations of the last lag (mlforecast lag transforms),
  as many as the group's history can feed;
- calendar: the period's season position (week of year, month, quarter, or weeks from the
  festival for a festival-anchored group) and the group's learnt season index at that position;
- events: the log of the group's learnt event multiplier, averaged over the period (daily data);
- prices and promotions: every regressor column of the panel averaged over the period — prices
  as the engine holds them, log(price / the series' usual price) — whose future values are the
  promotions plan (`future`), never the outcome;
- a target transform: log1p, then each series' own standardisation (weekly periods) or first
  differences (monthly and quarterly periods, where per-series scaling alone was poor).

It is fitted once per group and origin — each backtest cutoff and the final one — not once per
series, and its period forecasts are handed to the engine's selection as one more candidate
(`forecasting.engine`, model name `GLOBAL_MODEL`): a series gets it only where it beats the
statistical models on the same backtest origins. Features at an origin use only periods before
it (and the plan's regressor values after it). A group with too few series or rows is skipped
with a reason instead of fitted. Deterministic: fixed seed, one thread,
`deterministic=True, force_row_wise=True`.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.columns import DS, UNIQUE_ID, Y
from forecasting.panel import Panel
from forecasting.profiles import GroupProfile, Layout, interpolate_rows, period_sums, season_position

GLOBAL_MODEL = "lightgbm"
SEED = 7
SEASON_POSITION = "season_position"
SEASON_INDEX = "season_index"
EVENT_INTENSITY = "event_intensity"
# Candidate lags per season length (periods per year); only those the history can feed are kept.
LAGS = {52: (1, 2, 3, 4, 8, 13, 26, 52), 12: (1, 2, 3, 6, 12, 24), 4: (1, 2, 3, 4, 8)}
ROLLING = {52: (4, 13), 12: (3, 12), 4: (2, 4)}


@dataclass(frozen=True)
class GlobalSettings:
    """How the global model is fitted; part of `EngineConfig` (and so stored with each run)."""

    min_series: int = 5  # fewer series in a group: skipped (nothing to pool)
    min_rows: int = 100  # fewer training rows after the lags: skipped
    min_periods: int = 6  # a series needs this many observed periods before the origin
    max_train_series: int = 2000  # per group and origin: every k-th series trains (cost cap)
    # Festival-anchored groups (mooncakes, Spring Festival gift boxes) sell 50-150x their
    # off-season rate in a few weeks a year: trees on lags cannot carry that peak, and backtest
    # origins in the off-season cannot see it (with the model on, the sample's mooncakes went
    # from 0.65x to 0.47x of their next season one year back). Their groups are skipped.
    skip_anchored: bool = True
    n_estimators: int = 300
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_child_samples: int = 20
    seed: int = SEED


@dataclass
class GroupFit:
    """One group's fit at one origin: its size and cost, or why it was skipped."""

    group: str
    cutoff: int
    series: int
    train_series: int
    rows: int
    fit_s: float
    predict_s: float
    skipped: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"group": self.group, "cutoff": self.cutoff, "series": self.series,
                "train_series": self.train_series, "rows": self.rows, "fit_s": round(self.fit_s, 3),
                "predict_s": round(self.predict_s, 3), "skipped": self.skipped}


@dataclass
class GlobalForecasts:
    """Period forecasts per origin (cutoff → series × periods, NaN where the model gave none)."""

    periods: dict[int, np.ndarray] = field(default_factory=dict)
    fits: list[GroupFit] = field(default_factory=list)

    def row(self, cutoff: int, i: int) -> np.ndarray | None:
        """Series i's period forecasts from `cutoff`, or None where the model gave none."""
        matrix = self.periods.get(cutoff)
        if matrix is None or not np.all(np.isfinite(matrix[i])):
            return None
        return matrix[i]

    def take(self, rows: np.ndarray) -> GlobalForecasts:
        """The forecasts of a subset of series (a chunk), fits left behind."""
        return GlobalForecasts({c: m[rows] for c, m in self.periods.items()}, [])


def lags_for(layout: Layout, n_periods: int) -> list[int]:
    """The lags the history can feed: each leaves at least half of a typical series to train on."""
    return [lag for lag in LAGS[layout.positions] if lag <= max(1, n_periods // 2)]


def _block_mean(matrix: np.ndarray, first: int, n_blocks: int, block: int) -> np.ndarray:
    """Mean of each model period's target periods (series × n_blocks) from column `first` on."""
    window = matrix[:, first:first + n_blocks * block]
    return window.reshape(matrix.shape[0], n_blocks, block).mean(axis=2)


def period_features(panel: Panel, rows: np.ndarray, cutoff: int, n_future: int, layout: Layout,
                    profile: GroupProfile, anchor: str | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Target periods before `cutoff` (series × periods) and the exogenous features of those
    periods followed by `n_future` periods after it (name → series × (periods + n_future)).

    Only the targets before the cutoff are read; regressors after it are the plan's values and
    calendar features are dates and the group's season curve learnt at that cutoff."""
    block = layout.block
    periods, first = period_sums(panel.values[rows], cutoff, block)
    n_all = periods.shape[1] + n_future
    ends = panel.grid[first + block - 1::block][:n_all]
    if len(ends) < n_all:
        raise ValueError(f"the grid ends {n_all - len(ends)} periods before the forecast horizon")
    position = season_position(ends, layout.positions, anchor)
    n = len(rows)
    features = {
        SEASON_POSITION: np.tile(position.astype(float), (n, 1)),
        SEASON_INDEX: np.tile(profile.season_index[position], (n, 1)),
    }
    log_events = np.log(profile.effects.multiplier)[None, :]
    if np.any(log_events != 0):
        features[EVENT_INTENSITY] = np.tile(_block_mean(log_events, first, n_all, block), (n, 1))
    for name, matrix in sorted(panel.regressors.items()):
        features[name] = _block_mean(matrix[rows], first, n_all, block)
    return periods, features


def _long_frames(ids: np.ndarray, periods: np.ndarray, features: Mapping[str, np.ndarray],
                 usable: np.ndarray, n_future: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows (each usable series from its first observed period, interior gaps
    interpolated) and the future rows with their exogenous features."""
    n_past = periods.shape[1]
    filled = interpolate_rows(periods)
    seen = ~np.isnan(periods)
    first = np.argmax(seen, axis=1)
    mask = (np.arange(n_past)[None, :] >= first[:, None]) & usable[:, None]
    r, t = np.nonzero(mask)
    train = pd.DataFrame({UNIQUE_ID: ids[r], DS: t, Y: filled[r, t],
                          **{k: v[r, t] for k, v in features.items()}})
    rows = np.flatnonzero(usable)
    r = np.repeat(rows, n_future)
    t = np.tile(np.arange(n_past, n_past + n_future), len(rows))
    future = pd.DataFrame({UNIQUE_ID: ids[r], DS: t, **{k: v[r, t] for k, v in features.items()}})
    return train, future


def _pipeline(layout: Layout, lags: Sequence[int], coarse: bool, settings: GlobalSettings):  # noqa: ANN202
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean, RollingStd
    from mlforecast.target_transforms import Differences, GlobalSklearnTransformer, LocalStandardScaler
    from sklearn.preprocessing import FunctionTransformer

    model = lgb.LGBMRegressor(
        n_estimators=settings.n_estimators, learning_rate=settings.learning_rate,
        num_leaves=settings.num_leaves, min_child_samples=settings.min_child_samples,
        subsample=1.0, colsample_bytree=1.0, random_state=settings.seed, seed=settings.seed,
        deterministic=True, force_row_wise=True, num_threads=1, verbose=-1)
    windows = [w for w in ROLLING[layout.positions] if w <= max(lags)]
    log1p = GlobalSklearnTransformer(FunctionTransformer(func=np.log1p, inverse_func=np.expm1))
    local = Differences([1]) if coarse else LocalStandardScaler()
    return MLForecast(
        models={GLOBAL_MODEL: model}, freq=1, lags=list(lags),
        lag_transforms={1: [*(RollingMean(window_size=w) for w in windows),
                            *(RollingStd(window_size=w) for w in windows if w > 2)]} if windows else None,
        target_transforms=[log1p, local], num_threads=1)


def fit_predict_group(panel: Panel, rows: np.ndarray, cutoff: int, steps: int, layout: Layout,
                      profile: GroupProfile, anchor: str | None, coarse: bool,
                      settings: GlobalSettings, group: str = "") -> tuple[np.ndarray, GroupFit]:
    """One group's model fitted on its periods before `cutoff`; forecasts of ceil(steps / block)
    periods after it (series × periods, NaN rows for series it could not forecast)."""
    n_future = math.ceil(steps / layout.block)
    out = np.full((len(rows), n_future), np.nan)
    fit = GroupFit(group, cutoff, len(rows), 0, 0, 0.0, 0.0)
    if len(rows) < settings.min_series:
        fit.skipped = f"{len(rows)} series (fewer than {settings.min_series})"
        return out, fit
    periods, features = period_features(panel, rows, cutoff, n_future, layout, profile, anchor)
    observed = np.sum(~np.isnan(periods), axis=1)
    # Series still selling at the origin (the last period observed) with enough periods before it.
    usable = (observed >= settings.min_periods) & ~np.isnan(periods[:, -1])
    if usable.sum() < settings.min_series:
        fit.skipped = (f"{int(usable.sum())} series with {settings.min_periods}+ periods up to the origin "
                       f"(fewer than {settings.min_series})")
        return out, fit
    lags = lags_for(layout, int(np.median(observed[usable])))
    train_rows = np.flatnonzero(usable)
    if len(train_rows) > settings.max_train_series:
        train_rows = train_rows[np.linspace(0, len(train_rows) - 1, settings.max_train_series).astype(int)]
    trains = np.zeros(len(rows), dtype=bool)
    trains[train_rows] = True
    ids = np.array([f"s{i:07d}" for i in range(len(rows))], dtype=object)
    train, future = _long_frames(ids, periods, features, usable, n_future)
    n_rows = int(np.sum(np.maximum(observed[trains] - max(lags) - (1 if coarse else 0), 0)))
    fit.train_series = int(trains.sum())
    fit.rows = n_rows
    if n_rows < settings.min_rows:
        fit.skipped = f"{n_rows} training rows after lags up to {max(lags)} (fewer than {settings.min_rows})"
        return out, fit
    with warnings.catch_warnings():
        # Series shorter than the longest lag predict with NaN lags (LightGBM's missing branch).
        warnings.simplefilter("ignore", UserWarning)
        started = time.perf_counter()
        pipeline = _pipeline(layout, lags, coarse, settings)
        train_ids = set(ids[trains])
        pipeline.fit(train[train[UNIQUE_ID].isin(train_ids)], static_features=[], dropna=True)
        fit.fit_s = time.perf_counter() - started
        started = time.perf_counter()
        # Series beyond the cost cap did not train: forecast from their own recent periods.
        if trains.sum() < usable.sum():
            predicted = pipeline.predict(n_future, new_df=train, X_df=future)
        else:
            predicted = pipeline.predict(n_future, X_df=future)
        fit.predict_s = time.perf_counter() - started
    values = predicted.pivot(index=UNIQUE_ID, columns=DS, values=GLOBAL_MODEL)
    index = {uid: k for k, uid in enumerate(ids)}
    positions = np.array([index[uid] for uid in values.index])
    out[positions] = np.maximum(values.to_numpy(dtype=float), 0.0)
    return out, fit


def global_forecasts(panel: Panel, cutoffs: Sequence[int], steps: Sequence[int],
                     profiles: Sequence[Mapping[str, GroupProfile]], freq: str,
                     anchors: Mapping[str, str], settings: GlobalSettings) -> GlobalForecasts:
    """The global model per group at every origin (`cutoffs[k]` forecasting `steps[k]` target
    periods with `profiles[k]`), as period forecasts for the engine's selection."""
    from forecasting.panel import is_coarse

    layout = Layout.for_freq(freq)
    result = GlobalForecasts()
    for cutoff, step, by_group in zip(cutoffs, steps, profiles, strict=True):
        matrix = np.full((len(panel.ids), math.ceil(step / layout.block)), np.nan)
        for group in sorted(set(panel.groups)):
            rows = np.flatnonzero(panel.groups == group)
            anchor = anchors.get(str(group))
            if anchor is not None and settings.skip_anchored:
                result.fits.append(GroupFit(str(group), cutoff, len(rows), 0, 0, 0.0, 0.0,
                                            skipped=f"season anchored on {anchor}"))
                continue
            block, fit = fit_predict_group(panel, rows, cutoff, step, layout, by_group[group],
                                           anchors.get(str(group)), is_coarse(freq), settings, str(group))
            matrix[rows] = block
            result.fits.append(fit)
        result.periods[cutoff] = matrix
    return result
