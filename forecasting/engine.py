"""The forecasting engine: validate a panel, learn calendar effects, backtest each demand class's
candidate models, pick per series, forecast and calibrate quantiles on the backtest residuals.

Design (measurements in docs/design-notes.md#libraries): daily series are modelled as weekly
totals with the event effects divided out and the yearly season removed, then
split back to days by each series' learnt day-of-week share and the event
multipliers. Intermittent series (Syntetos–Boylan classes) get the Croston
family on days; short series get the category curve × their own level.
Validation lives in `forecasting.panel`, season curves and weekday shares in
`forecasting.profiles`, measures in `forecasting.metrics`, quantile calibration in
`forecasting.calibration`; this module selects and orchestrates.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from forecasting.calendar import EVENT_NAMES
from forecasting.calibration import calibrate, poisson_quantiles, residual_weights, standardised
from forecasting.columns import DS, GROUP, MEAN, MODEL, QUANTILE_LEVELS, UNIQUE_ID, Y, quantile_column
from forecasting.forecasters import ModelContext, make_forecaster, route_of
from forecasting.global_model import GLOBAL_MODEL, GlobalForecasts, GlobalSettings, global_forecasts
from forecasting.metrics import backtest_metrics, mase_scale
from forecasting.numeric import nanmean
from forecasting.panel import ALL_GROUPS, Panel, frequency_offset, is_coarse, prepare_panel
from forecasting.profiles import (
    GroupProfile,
    Layout,
    interpolate_rows,
    learn_profiles,
    period_sums,
    season_position,
    season_ratios,
    shrink_season_index,
    weekday_share,
)
from forecasting.seasons import COLUMNS as SEASON_COLUMNS
from kernel.seasons import LUNAR_FESTIVALS

# Syntetos & Boylan (2005) cut-offs for average demand interval and squared CV of sizes.
ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49

# Lowest seasonal index a model divides by: off-season weeks of seasonal goods sit near zero.
# Level models on weeks divide by the floored index; rate models on days skip days below it.
SEASON_FLOOR = 0.2
# Monthly and quarterly periods are aggregates whose index is measured from large totals, so a
# low index is real (a ski resort's summer, a toy shop's February) and dividing by it is right:
# flooring it at 0.2 read such a series' off-season as 5× its level (tourism MASE 1.72 → 1.65
# for restock's ETS with the lower floor, on an 80-series subset).
COARSE_SEASON_FLOOR = 0.02
INTERMITTENT_CLASSES = ("intermittent", "lumpy")


def season_floor(layout: Layout) -> float:
    """The floor for a layout: weekly positions (daily and weekly data) vs months and quarters."""
    return SEASON_FLOOR if layout.block > 1 or layout.positions > 12 else COARSE_SEASON_FLOOR


@dataclass(frozen=True)
class EngineConfig:
    """Everything that shapes a forecast; stored with each run as its parameters."""

    horizon: int
    freq: str = "D"
    quantiles: tuple[float, ...] = QUANTILE_LEVELS
    backtest_origins: int = 3
    backtest_horizon: int | None = None
    selection_metric: str = "mase"
    # Intermittent and lumpy series are chosen by RMSSE: an absolute-error measure rewards
    # forecasts near zero on mostly-zero series (Kolassa 2016; why M5 scored RMSSE). On the
    # sample this cut held-out MASE of lumpy series by ~4 %. None = use selection_metric.
    intermittent_selection_metric: str | None = "rmsse"
    combine_top: int = 2
    # Weekly, monthly and quarterly data (modelled in their own periods): the median of every
    # smooth-class candidate's forecast competes too, and is kept unless another candidate's
    # backtest score beats it by `combination_margin` (a share of its score). With three
    # backtest origins the single winner is often noise, and combinations are the robust choice
    # on the M-competitions (Makridakis, Spiliotis & Assimakopoulos 2020). On 80-series subsets
    # of the external sets, MASE vs AutoETS went 1.002 → 0.98 (aus_retail), 0.992 → 0.94
    # (tourism), 0.959 → 0.93 (m1) with margins 0.2–0.35; bench/results/forecast_external.md
    # has the full sets. Daily data (modelled as weeks, with season totals and festival clocks)
    # keeps plain selection: the median of a festival-clocked seasonal naive and level models
    # smeared a moving festival's peak. None = no median candidate.
    combination_margin: float | None = 0.25
    # ARIMA (with event/promotion regressors) is registered but not in the default set: on the
    # sample it did not improve held-out MASE and it cost ~40 % of the run (bench/forecast).
    smooth_models: tuple[str, ...] = ("seasonal_naive", "window_average", "theta", "ets")
    # Croston is registered but left out by default: SBA removes its known upward bias
    # (Syntetos & Boylan 2005) and held-out MASE improved without it.
    intermittent_models: tuple[str, ...] = ("seasonal_naive", "window_average", "sba", "tsb")
    short_models: tuple[str, ...] = ("category_profile", "window_average", "sba")
    prophet_max_series: int = 0
    events: tuple[str, ...] = EVENT_NAMES
    new_series_share: float | None = None
    chunk_size: int = 500
    # Group → lunar festival (spring_festival, mid_autumn, dragon_boat) its season is anchored
    # on: that group's yearly index is measured in weeks from the festival, not weeks of the
    # year (festival goods peak on a date that moves by up to ~4 weeks). A mapping is accepted.
    season_anchors: tuple[tuple[str, str], ...] = ()
    # Leave the anchor festival's windows out of an anchored group's event regression (the
    # season index then carries the festival alone).
    drop_anchor_events: bool = False
    # Where a series that ends before the panel's last date is forecast from. False: from the
    # panel's end (the periods between its own end and the panel's are forecast but not
    # returned; the nightly run, where every SKU's history runs to the as-of date). True: from
    # its own last date, as statsforecast does — series are run in one sub-panel per end date
    # (each learns its group curves from the series ending with it).
    from_own_end: bool = False
    # Regressor effects (promotion lifts, price elasticities) per series, shrunk toward the
    # group's pooled estimate; False = one effect per group (t-tested) for all its series.
    series_regressor_effects: bool = True
    # The global model (`forecasting.global_model`): one LightGBM per group and origin over all
    # its series, a candidate for the series of `global_classes` beside the statistical models,
    # kept per series only where it wins the backtest. None = off.
    global_model: GlobalSettings | None = field(default_factory=GlobalSettings)
    global_classes: tuple[str, ...] = ("smooth", "erratic", "intermittent", "lumpy")

    def __post_init__(self) -> None:
        anchors = self.season_anchors
        pairs = anchors.items() if isinstance(anchors, Mapping) else anchors
        anchors = tuple(sorted((str(group), str(name)) for group, name in pairs))
        for group, name in anchors:
            if name not in LUNAR_FESTIVALS:
                raise ValueError(f"season anchor of group {group!r} must be a lunar festival "
                                 f"({sorted(LUNAR_FESTIVALS)}), got {name!r}")
        object.__setattr__(self, "season_anchors", anchors)
        if self.horizon < 1:
            raise ValueError(f"horizon must be at least 1 period, got {self.horizon}")
        for metric in (self.selection_metric, self.intermittent_selection_metric or "mase"):
            if metric not in ("mase", "wape", "rmsse"):
                raise ValueError(f"selection metric must be mase, wape or rmsse, got {metric!r}")
        qs = list(self.quantiles)
        if any(not 0 < q < 1 for q in qs) or sorted(set(qs)) != qs:
            raise ValueError(f"quantiles must be strictly increasing in (0, 1), got {qs}")
        for name in (*self.smooth_models, *self.intermittent_models, *self.short_models):
            route_of(name)  # ValueError naming the registered models
        if self.combination_margin is not None and not 0 <= self.combination_margin < 1:
            raise ValueError(f"combination_margin must be in [0, 1) or None, got {self.combination_margin}")

    @property
    def anchors(self) -> dict[str, str]:
        """Group → festival its season is anchored on."""
        return dict(self.season_anchors)

    @property
    def step_horizon(self) -> int:
        """Backtest horizon in target periods: 91 days / 13 weeks (the replenishment horizon); a
        year for monthly and quarterly data, whose forecasts run a year or two ahead (held-out
        MASE on aus_retail 1.47 → 1.40 and q90 coverage 0.56 → 0.80 against 3 months)."""
        default = {"D": 91}.get(self.freq, 12 if self.freq.startswith("M")
                                else 4 if self.freq.startswith("Q") else 13)
        return min(self.backtest_horizon or default, self.horizon)

    def to_json(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, tuple)
            else asdict(value) if isinstance(value, GlobalSettings) else value
            for key, value in self.__dict__.items()
        }


@dataclass
class ForecastResult:
    """A forecast run in memory (or loaded back from the database).

    `forecasts`: unique_id, ds, model, mean, q10 … (one row per series and future period).
    `series`: one row per series — group, demand_class, model, score (its selection metric), scores (dict
    model → {mase, rmsse, wape, bias} on the backtest), fallback_reason, coverage (dict quantile column →
    share of backtest actuals at or below it, each origin scored by quantiles calibrated on
    the others), n_obs, level, backtest_errors and
    backtest_forecasts (origins × steps arrays, actual − forecast; None without a backtest).
    `effects`: learnt event-window multipliers per group.
    """

    forecasts: pd.DataFrame
    series: pd.DataFrame
    effects: pd.DataFrame
    freq: str
    quantiles: tuple[float, ...]
    params: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    # Per-series season totals of seasonal groups (`forecasting.seasons.COLUMNS`); empty without seasons.
    season_totals: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SEASON_COLUMNS))


# --------------------------------------------------------------------------- classification


def demand_class(values: np.ndarray, season_periods: int) -> str:
    """Syntetos–Boylan class of one series' observed target periods.

    `zero` (no demand), `short` (observed span below one season), else smooth,
    erratic, intermittent or lumpy by ADI (cut-off 1.32) and CV² of the
    non-zero sizes (cut-off 0.49) (Syntetos, Boylan & Croston 2005).
    """
    observed = values[~np.isnan(values)]
    if observed.size == 0 or not np.any(observed > 0):
        return "zero"
    seen = np.flatnonzero(~np.isnan(values))
    if values.size - seen[0] < season_periods:
        return "short"
    nonzero = observed[observed > 0]
    adi = observed.size / nonzero.size
    cv2 = float(np.var(nonzero) / np.mean(nonzero) ** 2) if nonzero.size > 1 else 0.0
    if adi < ADI_CUTOFF:
        return "smooth" if cv2 < CV2_CUTOFF else "erratic"
    return "intermittent" if cv2 < CV2_CUTOFF else "lumpy"


# --------------------------------------------------------------------------- chunk work


@dataclass(kw_only=True)
class ChunkTask:
    """Everything a worker needs for a slice of the panel (picklable, no database)."""

    ids: np.ndarray
    groups: np.ndarray
    values: np.ndarray
    regressors: dict[str, np.ndarray]
    grid: pd.DatetimeIndex
    n_history: int
    cutoffs: list[int]  # backtest cutoffs, oldest first; the final cutoff is n_history
    profiles: list[dict[str, GroupProfile]]  # per cutoff, then the final one
    prophet_allowed: np.ndarray
    holidays: pd.DataFrame | None
    config: EngineConfig
    # The global model's period forecasts for these series per cutoff (None = not run).
    global_periods: GlobalForecasts | None = None


@dataclass(kw_only=True)
class SeriesOutcome:
    """One series' result from a chunk: its forecast, selection, calibration and backtest."""

    unique_id: str
    group: str
    demand_class: str
    model: str
    mean: np.ndarray
    quantiles: np.ndarray  # (levels, horizon)
    scores: dict[str, dict[str, float]]  # model → {mase, rmsse, wape, bias} on the backtest
    score: float
    fallback_reason: str | None
    coverage: dict[str, float]
    n_obs: int
    level: float
    backtest_errors: np.ndarray | None
    backtest_forecasts: np.ndarray | None


class _CutoffView:
    """Per-cutoff arrays for one chunk, vectorised over its series."""

    def __init__(self, task: ChunkTask, cutoff: int, profiles: dict[str, GroupProfile]) -> None:
        config, layout = task.config, Layout.for_freq(task.config.freq)
        self.cutoff, self.layout = cutoff, layout
        n = len(task.ids)
        grid_len = len(task.grid)
        multiplier = np.ones((n, grid_len))
        for i, group in enumerate(task.groups):
            effects = profiles[group].effects
            log_m = np.log(effects.multiplier)
            for name, beta in effects.regressor_betas.items():
                if effects.series_betas is not None:
                    beta = effects.series_betas[name].get(str(task.ids[i]), beta)
                if beta:
                    log_m = log_m + beta * task.regressors[name][i]
            multiplier[i] = np.exp(log_m)
        self.multiplier = multiplier
        history = task.values[:, :cutoff]
        self.adjusted = history / multiplier[:, :cutoff]
        periods, first = period_sums(self.adjusted, cutoff, layout.block)
        raw_periods, _ = period_sums(history, cutoff, layout.block)
        self.period_first = first
        ends = task.grid[first + layout.block - 1:cutoff:layout.block]
        n_future = math.ceil(config.horizon / layout.block) + 1
        future_ends = task.grid[cutoff + layout.block - 1::layout.block][:n_future]
        # Season positions per row (n × periods): anchored groups count weeks from their festival.
        anchors = config.anchors
        row_anchor = [anchors.get(str(g)) for g in task.groups]
        kinds = sorted(set(row_anchor), key=lambda a: a or "")
        code = np.array([kinds.index(a) for a in row_anchor], dtype=np.intp)
        self.anchored = np.array([a is not None for a in row_anchor], dtype=bool)
        self.positions = np.vstack([season_position(ends, layout.positions, a) for a in kinds])[code]
        self.future_positions = np.vstack(
            [season_position(future_ends, layout.positions, a) for a in kinds])[code]
        self.target_positions = np.vstack(
            [season_position(task.grid, layout.positions, a) for a in kinds])[code]
        raw = np.full((n, layout.positions), np.nan)
        counts = np.zeros((n, layout.positions))
        spread = np.full((n, layout.positions), np.nan)
        for k in range(len(kinds)):
            rows = code == k
            raw[rows], counts[rows], spread[rows] = season_ratios(
                periods[rows], self.positions[np.argmax(rows)], layout.positions)
        group_index = np.vstack([profiles[g].season_index for g in task.groups])
        self.own_index = shrink_season_index(raw, counts, spread, group_index)
        self.group_index = group_index
        self.periods = periods
        self.raw_periods = raw_periods
        if layout.block == 7:
            prior = np.vstack([profiles[g].weekday_share for g in task.groups])
            weekdays = task.grid.dayofweek.to_numpy()
            shares = weekday_share(self.adjusted, weekdays, cutoff, 50.0, prior)
            self.weekday_factor = 7.0 * shares[:, weekdays]  # (n, grid)
        else:
            self.weekday_factor = np.ones((n, grid_len))
        self.typical = {g: p.typical_level for g, p in profiles.items()}


def _first_observed(row: np.ndarray) -> int | None:
    seen = np.flatnonzero(~np.isnan(row))
    return int(seen[0]) if seen.size else None


def _run_model(name: str, task: ChunkTask, view: _CutoffView, i: int, steps: int) -> np.ndarray:
    """Forecast `steps` target periods after the view's cutoff for series i with model `name`."""
    with warnings.catch_warnings():
        # Convergence and rank warnings are judged by the backtest, not printed per series.
        warnings.simplefilter("ignore")
        return _run_model_quietly(name, task, view, i, steps)


def _observed_span(values: np.ndarray) -> tuple[int, int]:
    """First and last observed index; ValueError when nothing was observed."""
    seen = np.flatnonzero(~np.isnan(values))
    if seen.size == 0:
        raise ValueError("no observed periods")
    return int(seen[0]), int(seen[-1])


def _global_targets(task: ChunkTask, view: _CutoffView, i: int, steps: int) -> np.ndarray:
    """The global model's period forecasts from the view's cutoff, spread over target periods by
    the series' weekday pattern and event/promotion multipliers (as the event-laden periods are)."""
    layout, cutoff = view.layout, view.cutoff
    periods = task.global_periods.row(cutoff, i) if task.global_periods is not None else None
    n_periods = math.ceil(steps / layout.block)
    if periods is None or periods.size < n_periods:
        raise ValueError("the global model gave no forecast for this series at this origin")
    future = slice(cutoff, cutoff + n_periods * layout.block)
    shape = (view.weekday_factor[i, future] * view.multiplier[i, future]).reshape(n_periods, layout.block)
    shape = (shape / shape.mean(axis=1, keepdims=True)).ravel()
    return (np.repeat(periods[:n_periods], layout.block) / layout.block * shape)[:steps]


def _run_model_quietly(name: str, task: ChunkTask, view: _CutoffView, i: int, steps: int) -> np.ndarray:
    layout, cutoff = view.layout, view.cutoff
    if name == GLOBAL_MODEL:
        return _global_targets(task, view, i, steps)
    route, curve = route_of(name)
    n_periods = math.ceil(steps / layout.block)
    future = slice(cutoff, cutoff + n_periods * layout.block)
    if route.startswith("period"):
        periods = view.periods[i] if route != "period_x" else view.raw_periods[i]
        start, end = _observed_span(periods)
        # Missing trailing periods are forecast too, then dropped: the model ends where data ends.
        gap = periods.size - 1 - end
        series = interpolate_rows(periods[None, start:end + 1])[0]
        index = view.group_index[i] if curve == "group" else view.own_index[i]
        season_past = index[view.positions[i, start:end + 1]]
        season_future = index[np.concatenate([view.positions[i, end + 1:],
                                              view.future_positions[i, :n_periods]])]
        ahead = gap + n_periods
        clock = None
        if view.anchored[i]:
            # A festival group's season runs on weeks from its festival, not weeks of the year.
            clock = np.concatenate([view.positions[i, start:], view.future_positions[i, :n_periods]])
        context = ModelContext(season_length=layout.positions if route == "period_raw" else 1,
                               positions=clock)
        model = make_forecaster(name, context)
        if route == "period_raw":
            period_mean = model.fit(series).predict(ahead).mean
        elif route == "period_share":
            # Level = Σ demand / Σ curve over the recent window: the SKU's share of the curve.
            period_mean = model.fit(series, season_past[:, None]).predict(
                ahead, season_future[:, None]).mean
        else:
            # Dividing by a near-zero off-season index would blow noise up: floor it, both ways.
            floor = season_floor(layout)
            season_past = np.maximum(season_past, floor)
            season_future = np.maximum(season_future, floor)
            if route == "period":
                period_mean = model.fit(series / season_past).predict(ahead).mean * season_future
            else:
                past_x, future_x = _period_intensity(view, i, cutoff, layout.block, n_periods)
                future_x = np.vstack([past_x[end + 1:], future_x])
                period_mean = (model.fit(series / season_past, past_x[start:end + 1])
                               .predict(ahead, future_x).mean * season_future)
        per_target = np.repeat(np.asarray(period_mean)[gap:], layout.block)
        shape = view.weekday_factor[i, future] * view.multiplier[i, future]
        if route == "period_x":
            # The periods already carry their events: spread them in proportion only.
            block_shape = shape.reshape(n_periods, layout.block)
            shape = (block_shape / block_shape.mean(axis=1, keepdims=True)).ravel()
        return (per_target / layout.block * shape)[:steps]
    if route == "direct":
        # A rate model sees demand with weekday, yearly season and events divided out.
        season = view.own_index[i][view.target_positions[i]]
        shape = view.weekday_factor[i] * season
        series = view.adjusted[i, :cutoff] / shape[:cutoff]
        # Off-season days (index below the floor) say almost nothing about the level and
        # dividing by a floored index would read them as a level near zero: a seasonal
        # good's history ends in its off-season, so the rate models would carry that low
        # level into the next peak (the down-jacket under-forecast). They are left out.
        in_season = season[:cutoff] >= season_floor(layout)
        series = series[in_season & ~np.isnan(series)]
        if series.size == 0:
            raise ValueError("no observed in-season periods")
        rate = make_forecaster(name).fit(series).predict(steps).mean
        ahead_slice = slice(cutoff, cutoff + steps)
        return rate * shape[ahead_slice] * view.multiplier[i, ahead_slice]
    # direct_raw: Prophet on target periods as sold, the calendar as its holidays.
    history = task.values[i, :cutoff]
    start, end = _observed_span(history)
    gap = history.size - 1 - end
    series = interpolate_rows(history[None, start:end + 1])[0]
    context = ModelContext(1, task.grid[start], task.config.freq, task.holidays)
    return make_forecaster(name, context).fit(series).predict(steps + gap).mean[gap:]


def _period_intensity(view: _CutoffView, i: int, cutoff: int, block: int, n_periods: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """log of each period's mean event-and-promotion multiplier: ARIMA's regressor."""
    log_m = np.log(view.multiplier[i])
    first = view.period_first
    past = log_m[first:cutoff].reshape(-1, block).mean(axis=1)
    future = log_m[cutoff:cutoff + n_periods * block].reshape(-1, block).mean(axis=1)
    return past[:, None], future[:, None]


def _check_forecast(values: np.ndarray, steps: int) -> str | None:
    if values.shape != (steps,):
        return f"returned {values.shape[0] if values.ndim else 0} values for {steps} periods"
    if not np.all(np.isfinite(values)):
        return "returned NaN or infinite values"
    if np.any(values < -1e-9):
        return f"returned negative values (min {values.min():.3g})"
    return None


def _candidates(config: EngineConfig, klass: str, prophet: bool, global_model: bool = False) -> list[str]:
    if klass == "short":
        names = list(config.short_models)
    elif klass in INTERMITTENT_CLASSES:
        names = list(config.intermittent_models)
    else:
        names = list(config.smooth_models) + (["prophet"] if prophet else [])
    if global_model and klass in config.global_classes:
        names.append(GLOBAL_MODEL)
    return names


def median_name(members: Sequence[str]) -> str:
    """The model name of the median of `members`' forecasts, e.g. median(ets,theta,window_average)."""
    return f"median({','.join(members)})"


def combination_of(name: str) -> tuple[Callable[..., np.ndarray], list[str]]:
    """How a chosen model name combines its members: median(a,b,c), a+b (mean) or a single model."""
    if name.startswith("median(") and name.endswith(")"):
        return np.median, name[len("median("):-1].split(",")
    return np.mean, name.split("+")


def forecast_chunk(task: ChunkTask) -> list[SeriesOutcome]:
    """Backtest, select, forecast and calibrate every series of one chunk (pure, picklable)."""
    config = task.config
    layout = Layout.for_freq(config.freq)
    steps = config.step_horizon
    levels = np.array(config.quantiles)
    views = [_CutoffView(task, c, p) for c, p in zip([*task.cutoffs, task.n_history],
                                                     task.profiles, strict=True)]
    final = views[-1]
    season_periods = layout.positions * layout.block
    outcomes: list[SeriesOutcome] = []
    for i, uid in enumerate(task.ids):
        history = task.values[i]
        n_obs = int(np.sum(~np.isnan(history)))
        klass = demand_class(history, season_periods)
        group = str(task.groups[i])
        if klass == "zero":
            zeros = np.zeros(config.horizon)
            outcomes.append(SeriesOutcome(
                unique_id=uid, group=group, demand_class=klass, model="zero", mean=zeros,
                quantiles=np.zeros((len(levels), config.horizon)), scores={}, score=float("nan"),
                fallback_reason="no demand in history: forecast is zero", coverage={}, n_obs=n_obs,
                level=0.0, backtest_errors=None, backtest_forecasts=None))
            continue
        has_global = (task.global_periods is not None
                      and task.global_periods.row(task.n_history, i) is not None)
        names = _candidates(config, klass, bool(task.prophet_allowed[i]), has_global)
        first = _first_observed(history) or 0
        scale = mase_scale(history[first:task.cutoffs[0]] if task.cutoffs else history[first:],
                       layout.season_lag)
        reasons: list[str] = []
        predictions: dict[str, list[np.ndarray]] = {name: [] for name in names}
        actual_rows: list[np.ndarray] = []
        failed: set[str] = set()
        for view in views[:-1]:
            actual = history[view.cutoff:view.cutoff + steps]
            trained = np.sum(~np.isnan(history[:view.cutoff]))
            if trained < 2 * layout.block or np.all(np.isnan(actual)):
                continue
            actual_rows.append(actual)
            for name in names:
                if name in failed:
                    continue
                try:
                    values = _run_model(name, task, view, i, steps)
                    problem = _check_forecast(values, steps)
                except Exception as exc:  # noqa: BLE001 - any model failure means fallback
                    problem = f"raised {type(exc).__name__}: {exc}"
                if problem:
                    failed.add(name)
                    reasons.append(f"{name} failed in backtest at {task.grid[view.cutoff].date()}: {problem}")
                else:
                    predictions[name].append(np.maximum(values, 0.0))
        actuals = np.vstack(actual_rows) if actual_rows else None
        metric = config.selection_metric
        if klass in INTERMITTENT_CLASSES and config.intermittent_selection_metric:
            metric = config.intermittent_selection_metric
        scores: dict[str, float] = {}
        metrics: dict[str, dict[str, float]] = {}
        backtests: dict[str, np.ndarray] = {}
        if actuals is not None:
            for name in names:
                if name not in failed and len(predictions[name]) == len(actual_rows):
                    forecasts = np.vstack(predictions[name])
                    backtests[name] = forecasts
                    metrics[name] = backtest_metrics(actuals - forecasts, actuals, scale)
                    scores[name] = metrics[name][metric]
            ranked = sorted((s, n) for n, s in scores.items() if np.isfinite(s))
            if config.combine_top > 1 and len(ranked) >= config.combine_top:
                members = sorted(n for _, n in ranked[:config.combine_top])
                combo = "+".join(members)
                backtests[combo] = np.mean([backtests[m] for m in members], axis=0)
                metrics[combo] = backtest_metrics(actuals - backtests[combo], actuals, scale)
                scores[combo] = metrics[combo][metric]
            median = None
            if (config.combination_margin is not None and layout.block == 1
                    and klass not in (*INTERMITTENT_CLASSES, "short") and len(ranked) >= 3):
                median = median_name(sorted(n for _, n in ranked))
                backtests[median] = np.median([backtests[n] for _, n in ranked], axis=0)
                metrics[median] = backtest_metrics(actuals - backtests[median], actuals, scale)
                scores[median] = metrics[median][metric]
            order = [n for _, n in sorted((s, n) for n, s in scores.items() if np.isfinite(s))]
            # Another candidate displaces the median only when clearly better on the backtest.
            if (median is not None and np.isfinite(scores[median]) and order[0] != median
                    and scores[order[0]] >= (1 - (config.combination_margin or 0.0)) * scores[median]):
                order.remove(median)
                order.insert(0, median)
            order += [n for n in names if n not in order and n not in failed]
        else:
            order = [n for n in names if n not in failed]
            reasons.append(f"too short to backtest ({n_obs} observed periods): "
                           f"{order[0] if order else 'no model'} by default")
        chosen, mean = None, None
        for name in order:
            try:
                combine, members = combination_of(name)
                values = combine([_run_model(m, task, final, i, config.horizon) for m in members], axis=0)
                problem = _check_forecast(values, config.horizon)
            except Exception as exc:  # noqa: BLE001
                problem = f"raised {type(exc).__name__}: {exc}"
            if problem:
                reasons.append(f"{name} failed in the final fit: {problem}")
                continue
            chosen, mean = name, np.maximum(values, 0.0)
            break
        if chosen is None or mean is None:
            level = nanmean(history[-season_periods:])
            mean = np.full(config.horizon, float(level) if np.isfinite(level) else 0.0)
            chosen = "history_mean"
            reasons.append("every candidate model failed: mean of the last season")
        errors = forecasts = None
        if chosen in backtests and actuals is not None:
            forecasts = backtests[chosen]
            errors = actuals - forecasts
        level = float(np.mean(forecasts)) if forecasts is not None else float(np.mean(mean))
        quantiles, coverage = calibrate(mean, errors, forecasts, level, levels)
        outcomes.append(SeriesOutcome(
            unique_id=uid, group=group, demand_class=klass, model=chosen, mean=mean, quantiles=quantiles,
            scores=metrics, score=scores.get(chosen, float("nan")),
            fallback_reason="; ".join(reasons) or None, coverage=coverage, n_obs=n_obs, level=level,
            backtest_errors=errors, backtest_forecasts=forecasts))
    _borrow_pooled_residuals(outcomes, levels)
    return outcomes


def _borrow_pooled_residuals(outcomes: list[SeriesOutcome], levels: np.ndarray) -> None:
    """Series without a backtest borrow the chunk's pooled standardised residuals when wider than Poisson."""
    samples = [
        standardised(o.backtest_errors, o.backtest_forecasts, o.level).ravel()
        for o in outcomes if o.backtest_errors is not None and o.level > 0
    ]
    if not samples:
        return
    pooled = np.concatenate(samples)
    pooled = pooled[~np.isnan(pooled)]
    if pooled.size < 20:
        return
    # Standardised residuals are in units of √level; rescale per series by its own level.
    levels_by = np.array([o.level for o in outcomes if o.backtest_errors is not None and o.level > 0])
    relative = pooled / np.sqrt(np.median(levels_by))
    z_levels = np.quantile(relative, levels)
    for outcome in outcomes:
        if outcome.backtest_errors is None and outcome.model != "zero" and outcome.level > 0:
            spread = np.sqrt(outcome.level) * z_levels
            borrowed = np.maximum(outcome.mean[None, :] + spread[:, None]
                                  * residual_weights(outcome.mean, outcome.level)[None, :], 0.0)
            outcome.quantiles = np.maximum(np.maximum.accumulate(borrowed, axis=0), outcome.quantiles)


# --------------------------------------------------------------------------- orchestration

ChunkRunner = Callable[[Callable[[ChunkTask], list[SeriesOutcome]], list[ChunkTask],
                        Callable[[int], None] | None], list[list[SeriesOutcome]]]


def serial_runner(func: Callable[[ChunkTask], list[SeriesOutcome]], tasks: list[ChunkTask],
                  progress: Callable[[int], None] | None = None) -> list[list[SeriesOutcome]]:
    """Run chunks one after the other in this process."""
    results = []
    for task in tasks:
        results.append(func(task))
        if progress:
            progress(len(task.ids))
    return results


def forecast_panel(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    *,
    future: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    quantiles: Sequence[float] | None = None,
    groups: pd.Series | None = None,
    new_series: pd.DataFrame | None = None,
    config: EngineConfig | None = None,
    runner: ChunkRunner | None = None,
    progress: Callable[[int], None] | None = None,
    forecast_only: Collection[str] | None = None,
    seasons: pd.DataFrame | None = None,
    censored: pd.DataFrame | None = None,
) -> ForecastResult:
    """The engine's rich entry point: forecasts plus per-series selection, scores and calibration.

    `forecast_only`: forecast just these series, while the group curves, weekday
    patterns and event effects are still learnt from every series of `history`, so
    a series' forecast does not depend on which others are forecast with it.
    `seasons` (daily panels; columns group, season_start, season_end, one row per group and
    year, past years included) turns on per-series season totals (`forecasting.seasons`):
    each seasonal series' total over its group's upcoming season is blended with last season ×
    the group's trend by how both did at the same point of past seasons, stored in
    `result.season_totals`, and the daily forecast inside the season is scaled to it.
    `censored` (unique_id, ds, imputed) marks stockout days whose demand was estimated: a
    season total far from last season's may then keep its distance, with that reason.

    `groups` maps unique_id → group (category) whose curve, weekday pattern and
    event effects short and noisy series borrow; `new_series` (columns
    unique_id, group, optional share) lists series with no history at all,
    forecast as their group's curve × share of the group's typical series level
    (`share` column, else `config.new_series_share`, else 1 = a like-item median).
    `events` (event, ds anchors) defaults to restock's Chinese calendar; pass an
    empty frame for none.
    """
    started = time.perf_counter()
    config = config or EngineConfig(horizon=horizon, freq=freq)
    levels = tuple(quantiles) if quantiles is not None else config.quantiles
    config = replace(config, horizon=horizon, freq=frequency_offset(freq).freqstr, quantiles=levels)
    if seasons is not None and config.freq != "D":
        raise ValueError("season totals (`seasons`) are computed on daily panels only")
    if config.from_own_end:
        if seasons is not None:
            raise ValueError("season totals need every series to end on the panel's last date "
                             "(from_own_end=False)")
        return _forecast_from_own_ends(history, future=future, events=events, groups=groups,
                                       new_series=new_series, config=config, runner=runner,
                                       progress=progress, started=started)
    panel = prepare_panel(history, horizon, config.freq, future, groups)
    if events is None and not is_coarse(config.freq) and config.events:
        from forecasting.events import default_events

        events = default_events(panel.grid[0], panel.grid[-1], config.events)
    layout = Layout.for_freq(config.freq)
    steps = config.step_horizon
    cutoffs = [panel.n_history - k * steps for k in range(config.backtest_origins, 0, -1)]
    cutoffs = [c for c in cutoffs if c >= 2 * layout.block]
    profiles = [learn_profiles(panel, c, config.freq, events, config.anchors, config.drop_anchor_events,
                               config.series_regressor_effects)
                for c in [*cutoffs, panel.n_history]]
    holidays = _prophet_holidays(events)
    periods_global = None
    if config.global_model is not None:
        periods_global = global_forecasts(
            panel, [*cutoffs, panel.n_history], [steps] * len(cutoffs) + [config.horizon], profiles,
            config.freq, config.anchors, config.global_model)
    prophet_allowed = np.zeros(len(panel.ids), dtype=bool)
    if config.prophet_max_series > 0:
        with np.errstate(all="ignore"):
            volume = np.nan_to_num(nanmean(panel.values, axis=1))
        prophet_allowed[np.argsort(-volume)[:config.prophet_max_series]] = True
    selected = np.arange(len(panel.ids))
    if forecast_only is not None:
        wanted = {str(uid) for uid in forecast_only}
        selected = selected[np.isin(panel.ids.astype(str), list(wanted))]
        if new_series is not None:
            new_series = new_series[new_series[UNIQUE_ID].astype(str).isin(wanted)]
    tasks = []
    for start in range(0, len(selected), config.chunk_size):
        rows = selected[start:start + config.chunk_size]
        chunk_groups = set(panel.groups[rows])
        tasks.append(ChunkTask(
            ids=panel.ids[rows], groups=panel.groups[rows], values=panel.values[rows],
            regressors={name: matrix[rows] for name, matrix in panel.regressors.items()},
            grid=panel.grid, n_history=panel.n_history, cutoffs=cutoffs,
            profiles=[{g: p[g] for g in chunk_groups} for p in profiles],
            prophet_allowed=prophet_allowed[rows], holidays=holidays, config=config,
            global_periods=None if periods_global is None else periods_global.take(rows)))
    results = (runner or serial_runner)(forecast_chunk, tasks, progress)
    outcomes = [o for chunk in results for o in chunk]
    outcomes += _new_series_outcomes(new_series, panel, profiles[-1], config)
    result = _assemble(outcomes, panel, profiles[-1], config)
    if periods_global is not None:
        result.params[GLOBAL_MODEL] = [fit.to_json() for fit in periods_global.fits]
    if seasons is not None and not seasons.empty:
        _apply_season_totals(result, history, future, events, groups, seasons, panel, config, runner,
                             censored)
    result.duration_s = time.perf_counter() - started
    return result


def _apply_season_totals(result: ForecastResult, history: pd.DataFrame, future: pd.DataFrame | None,
                         events: pd.DataFrame | None, groups: pd.Series | None, seasons: pd.DataFrame,
                         panel: Panel, config: EngineConfig, runner: ChunkRunner | None,
                         censored: pd.DataFrame | None) -> None:
    """Season totals of the seasonal series (forecasting.seasons), stored and applied to the forecast."""
    from forecasting.seasons import apply_totals, season_totals

    frame = history.assign(**{DS: pd.to_datetime(history[DS]), UNIQUE_ID: history[UNIQUE_ID].astype(str)})
    regressors = [c for c in frame.columns if c not in (UNIQUE_ID, DS, Y) and c in panel.regressors]
    origin = panel.grid[panel.n_history - 1]
    last_day = panel.grid[panel.n_history + config.horizon - 1]

    def refit(ids: list[str], past_origin: pd.Timestamp) -> pd.DataFrame:
        # The engine as it would have run then: history up to that origin, regressors as they came.
        rows = frame[frame[UNIQUE_ID].isin(ids)]
        before = rows[rows[DS] <= past_origin][[UNIQUE_ID, DS, Y, *regressors]]
        if before.empty:
            return pd.DataFrame(columns=[UNIQUE_ID, DS, MEAN])
        ahead = None
        if regressors:
            days = pd.date_range(past_origin + pd.Timedelta(days=1), periods=config.horizon)
            grid = pd.MultiIndex.from_product([sorted(set(before[UNIQUE_ID])), days], names=[UNIQUE_ID, DS])
            ahead = (rows.set_index([UNIQUE_ID, DS])[regressors].reindex(grid).fillna(0.0).reset_index())
        past = forecast_panel(before, config.horizon, config.freq, future=ahead, events=events,
                              groups=groups, config=config, runner=runner)
        return past.forecasts

    group_of = result.series.set_index(UNIQUE_ID)[GROUP].astype(str)
    if groups is not None:
        # A run of a few SKUs (`forecast_only`) still reads each group over all its series.
        every = pd.Series(groups).astype(str)
        every.index = every.index.astype(str)
        group_of = pd.concat([every[~every.index.isin(group_of.index)], group_of])
    totals = season_totals(frame[[UNIQUE_ID, DS, Y]], result.forecasts, group_of, seasons, origin,
                           last_day, refit=refit, imputed=censored)
    columns = [MEAN, *[quantile_column(q) for q in config.quantiles]]
    result.forecasts = apply_totals(result.forecasts, totals, columns)
    result.season_totals = totals


def _forecast_from_own_ends(history: pd.DataFrame, *, future: pd.DataFrame | None,
                            events: pd.DataFrame | None, groups: pd.Series | None,
                            new_series: pd.DataFrame | None, config: EngineConfig,
                            runner: ChunkRunner | None, progress: Callable[[int], None] | None,
                            started: float) -> ForecastResult:
    """One sub-panel per last observed date, each forecast from that date; results stacked."""
    valid = {UNIQUE_ID, DS, Y} <= set(history.columns) and not history.empty
    dates = pd.to_datetime(history[DS], errors="coerce") if valid else None
    if valid and dates is not None and dates.notna().all():
        observed = history[Y].notna()
        ends = dates[observed].groupby(history.loc[observed, UNIQUE_ID].astype(str)).max()
    else:
        ends = pd.Series(dtype="datetime64[ns]")  # let the one-panel path name the problem
    if ends.nunique() <= 1 or dates is None:
        return forecast_panel(history, config.horizon, config.freq, future=future, events=events,
                              groups=groups, new_series=new_series,
                              config=replace(config, from_own_end=False), runner=runner, progress=progress)
    ids = history[UNIQUE_ID].astype(str)
    parts = []
    latest = ends.max()
    for end, members in ends.groupby(ends):
        keep = ids.isin(members.index) & (dates <= end)
        part_future = None if future is None else future[future[UNIQUE_ID].astype(str).isin(members.index)]
        parts.append(forecast_panel(
            history[keep], config.horizon, config.freq, future=part_future, events=events, groups=groups,
            new_series=new_series if end == latest else None,
            config=replace(config, from_own_end=False), runner=runner, progress=progress))
    first = parts[0]
    forecasts = pd.concat([p.forecasts for p in parts], ignore_index=True)
    series = pd.concat([p.series for p in parts], ignore_index=True)
    effects = pd.concat([p.effects for p in parts], ignore_index=True)
    order = series[UNIQUE_ID].astype(str).argsort(kind="stable")
    series = series.iloc[order].reset_index(drop=True)
    forecasts = forecasts.sort_values([UNIQUE_ID, DS], kind="stable").reset_index(drop=True)
    params = dict(first.params)
    params["engine"] = config.to_json()
    if config.global_model is not None:
        params[GLOBAL_MODEL] = [fit for p in parts for fit in p.params.get(GLOBAL_MODEL, [])]
    return ForecastResult(forecasts, series, effects, first.freq, first.quantiles, params,
                          time.perf_counter() - started)


def _prophet_holidays(events: pd.DataFrame | None) -> pd.DataFrame | None:
    if events is None or events.empty:
        return None
    return pd.DataFrame({"holiday": events["event"], "ds": events[DS],
                         "lower_window": -7, "upper_window": 3})


def _new_series_outcomes(new_series: pd.DataFrame | None, panel: Panel,
                         profiles: dict[str, GroupProfile], config: EngineConfig) -> list[SeriesOutcome]:
    if new_series is None or new_series.empty:
        return []
    layout = Layout.for_freq(config.freq)
    cutoff = panel.n_history
    n_periods = math.ceil(config.horizon / layout.block)
    ends = panel.grid[cutoff + layout.block - 1::layout.block][:n_periods]
    outcomes = []
    levels = np.array(config.quantiles)
    for row in new_series.itertuples(index=False):
        uid = str(getattr(row, UNIQUE_ID))
        if uid in set(panel.ids):
            raise ValueError(f"series {uid!r} is listed in new_series but has history")
        group = str(getattr(row, GROUP, ALL_GROUPS))
        profile = profiles.get(group) or profiles.get(ALL_GROUPS) or next(iter(profiles.values()))
        share = getattr(row, "share", None)
        if share is None or (isinstance(share, float) and math.isnan(share)):
            share = config.new_series_share if config.new_series_share is not None else 1.0
        period_mean = profile.typical_level * float(share) * profile.season_index[
            season_position(ends, layout.positions, config.anchors.get(group))]
        per_target = np.repeat(period_mean, layout.block)[:config.horizon] / layout.block
        future = slice(cutoff, cutoff + config.horizon)
        weekday = (7 * profile.weekday_share[panel.grid.dayofweek.to_numpy()[future]]
                   if layout.block == 7 else 1.0)
        mean = per_target * weekday * profile.effects.multiplier[future]
        outcomes.append(SeriesOutcome(
            unique_id=uid, group=group, demand_class="new", model="category_profile", mean=mean,
            quantiles=poisson_quantiles(mean, levels), scores={}, score=float("nan"),
            fallback_reason=f"no history: category curve × share {share:g} of a typical {group} series",
            coverage={}, n_obs=0, level=float(np.mean(mean)), backtest_errors=None, backtest_forecasts=None))
    return outcomes


def _assemble(outcomes: list[SeriesOutcome], panel: Panel, profiles: dict[str, GroupProfile],
              config: EngineConfig) -> ForecastResult:
    future = panel.grid[panel.n_history:panel.n_history + config.horizon]
    columns = [quantile_column(q) for q in config.quantiles]
    n = len(outcomes)
    forecasts = pd.DataFrame({
        UNIQUE_ID: np.repeat([o.unique_id for o in outcomes], config.horizon),
        DS: np.tile(future, n),
        MODEL: np.repeat([o.model for o in outcomes], config.horizon),
        MEAN: np.concatenate([o.mean for o in outcomes]) if n else np.zeros(0),
    })
    for k, column in enumerate(columns):
        forecasts[column] = np.concatenate([o.quantiles[k] for o in outcomes]) if n else np.zeros(0)
    series = pd.DataFrame([{
        UNIQUE_ID: o.unique_id, GROUP: o.group, "demand_class": o.demand_class, MODEL: o.model,
        "score": o.score, "scores": o.scores, "fallback_reason": o.fallback_reason,
        "coverage": o.coverage, "n_obs": o.n_obs, "level": o.level,
        "backtest_errors": o.backtest_errors, "backtest_forecasts": o.backtest_forecasts,
    } for o in outcomes])
    effects = pd.DataFrame([
        {GROUP: group, "event": name, "window": window, "multiplier": multiplier}
        for group, profile in profiles.items()
        for (name, window), multiplier in profile.effects.window_multipliers.items()
    ], columns=[GROUP, "event", "window", "multiplier"])
    return ForecastResult(forecasts, series, effects, config.freq, tuple(config.quantiles),
                          {"engine": config.to_json(), "metric": config.selection_metric})


def forecast(
    history: pd.DataFrame,
    horizon: int,
    freq: str,
    *,
    future: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    quantiles: Sequence[float] = QUANTILE_LEVELS,
) -> pd.DataFrame:
    """Forecast every series of a long panel `horizon` periods past its last date.

    `history`: unique_id, ds, y (units per period, ≥ 0; missing periods are
    missing, not zero) plus optional regressor columns — promotion columns where 0
    means "no effect" (promotion or display flag, feature share, discount depth, pre-sale
    flag), and prices (`price`, `..._price`: the actual selling price, > 0, modelled as a
    log-log elasticity against the series' usual price) — then `future` must give them for
    every series and horizon period (the promotions plan). Each series' effects are its own
    estimate shrunk toward its group's pooled one and act as multipliers on every model.
    `freq`: "D", a weekly alias ("W-SUN", ...), "MS" or "QS". `events`: calendar anchors
    (event, ds), default restock's Chinese retail calendar (daily and weekly data). Series
    ending before the panel's last date are forecast from the panel's end (their missing
    last periods are forecast but not returned); `forecast_panel` with
    `EngineConfig(from_own_end=True)` forecasts each from its own end. Returns unique_id,
    ds, model, mean and one column per quantile (`q10`, `q50`, ...), monotone and ≥ 0.
    """
    return forecast_panel(history, horizon, freq, future=future, events=events,
                          quantiles=quantiles).forecasts
