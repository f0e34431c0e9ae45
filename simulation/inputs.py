"""What each week's decisions may know: history cut at the as-of date, cleansed, forecast (pure).

Every number here is computed from sales up to the as-of date (the Sunday before
the proposal Monday) only — no policy sees a later day. Forecasts are refitted
every `refit_weeks` weeks (model selection by backtest, quantile calibration);
in the weeks between, each SKU's forecast is scaled by a level update
(A + F₇) / (F + F₇), clipped to [0.5, 2], where A is the cleansed demand since
the refit, F what the refit forecast for those days and F₇ its forecast of one
week (a one-week prior that keeps one odd day from swinging the level).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from forecasting.columns import DS, GROUP, MEAN, UNIQUE_ID, Y
from forecasting.engine import ForecastResult, forecast_panel
from forecasting.preparation import HISTORY_DAYS, PreparedInputs, fill_zero_days, prepare_inputs
from forecasting.totals import total_demand
from replenishment.demand import QUANTILE_COLUMNS, QUANTILE_LEVELS
from simulation.data import ReplayConfig, ReplayData
from simulation.problems import SkuWindow, sku_windows

LEVEL_CLIP = (0.5, 2.0)
# Days of history cleansed for a week between refits (the level update, the simple rules'
# trailing statistics); the year-ago days come from the refit's longer cut.
WEEKLY_CUT_DAYS = 400
# Horizon the replenishment windows need (lead time + review, or up to a season's end).
BASE_HORIZON_DAYS = 182


@dataclass
class WeekInputs:
    """Everything decided for proposal week `week` may read (as of `as_of` = the day before).

    `windows`: restock's per-SKU decision (mode and demand window); `quantiles`: SKU →
    demand over that window at `QUANTILE_LEVELS` (units); `window_mean`: its mean;
    `level`: the level update applied (1.0 in a refit week); `history`: cleansed daily
    demand of the trailing `history_days` days, SKU → array (oldest first, as of `as_of`);
    `year_ago`: cleansed daily demand one year (364 days: same weekdays) back, from
    `year_ago_offset` days before the proposal Monday's twin to 182 days after it, SKU → array.
    """

    week: date
    as_of: date
    refit_as_of: date
    skus: list[str]
    windows: list[SkuWindow]
    quantiles: dict[str, tuple[float, ...]] = field(default_factory=dict)
    window_mean: dict[str, float] = field(default_factory=dict)
    level: dict[str, float] = field(default_factory=dict)
    history: dict[str, np.ndarray] = field(default_factory=dict)
    year_ago: dict[str, np.ndarray] = field(default_factory=dict)
    year_ago_offset: int = 0


def skus_known(data: ReplayData, as_of: date) -> list[str]:
    """SKUs launched on or before `as_of` (no launch date = always known), sorted."""
    launch = pd.to_datetime(data.skus["launch_date"])
    known = launch.isna() | (launch <= pd.Timestamp(as_of))
    return sorted(data.skus.loc[known, UNIQUE_ID].astype(str))


def single_blas_thread() -> None:
    """Hold numpy's BLAS/OpenMP pools to one thread in this process. The replay runs its own
    processes (`ReplayConfig.jobs`); BLAS threads on top of them contend for the same cores,
    and the small least-squares fits of the forecast ran several times slower that way."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def cut_history(
    data: ReplayData,
    as_of: date,
    config: ReplayConfig,
    skus: list[str],
    horizon: int = BASE_HORIZON_DAYS,
    days: int = HISTORY_DAYS,
) -> PreparedInputs:
    """`prepare_inputs` on the nightly run's history window up to `as_of` only (`days`, three
    years by default): the product's own cleansing, nothing later (promotion flags, which are
    planned ahead, cover `horizon` days after `as_of`). `data.sales` must have a row for every
    day (`with_every_day`)."""
    first = pd.Timestamp(as_of) - pd.Timedelta(days=days - 1)
    ds = data.sales[DS]
    filled = data.sales[(ds >= first) & (ds <= pd.Timestamp(as_of)) & data.sales[UNIQUE_ID].isin(skus)]
    table = data.skus[data.skus[UNIQUE_ID].isin(skus)][[UNIQUE_ID, "sku_id", GROUP, "launch_date"]]
    promotions = data.promotions if data.promotions is not None else _no_promotions()
    return prepare_inputs(
        filled,
        table,
        promotions,
        as_of,
        replace(config.engine, horizon=horizon),
        returns_as_demand=config.returns_as_demand,
        use_promotions=config.use_promotions,
    )


def with_every_day(data: ReplayData) -> ReplayData:
    """`data` whose sales have a row for every day from each SKU's first day (or launch) to the
    last day (`forecasting.preparation.fill_zero_days`): cutting it at an as-of date then gives
    what the nightly run reads on that date."""
    table = data.skus[[UNIQUE_ID, "sku_id", GROUP, "launch_date"]]
    sales = data.sales[data.sales[UNIQUE_ID].isin(table[UNIQUE_ID])]
    return replace(data, sales=fill_zero_days(sales, table, data.last_day))


def _no_promotions() -> pd.DataFrame:
    return pd.DataFrame(columns=["start_date", "end_date", "sku_id", "category_id", "discount_rate", GROUP])


def _daily_matrix(demand: pd.DataFrame, skus: list[str], first: date, last: date) -> dict[str, np.ndarray]:
    """SKU → cleansed demand per day first..last (0 where the SKU had no row)."""
    days = pd.date_range(first, last)
    if demand.empty:
        return {s: np.zeros(len(days)) for s in skus}
    part = demand[(demand[DS] >= days[0]) & (demand[DS] <= days[-1])]
    wide = part.pivot_table(index=UNIQUE_ID, columns=DS, values=Y, aggfunc="sum")
    wide = wide.reindex(index=skus, columns=days).fillna(0.0)
    return {s: wide.loc[s].to_numpy(dtype=float) for s in skus}


def forecast_as_of(
    data: ReplayData, as_of: date, config: ReplayConfig, skus: list[str], horizon: int
) -> tuple[ForecastResult, pd.DataFrame]:
    """The forecast the nightly run would have made on `as_of`, and the cleansed demand behind it."""
    prepared = cut_history(data, as_of, config, skus, horizon)
    engine = replace(config.engine, horizon=horizon)
    result = forecast_panel(
        prepared.history,
        horizon,
        "D",
        future=prepared.future,
        events=prepared.events,
        quantiles=engine.quantiles,
        groups=prepared.groups,
        new_series=prepared.new_series,
        config=engine,
        seasons=season_frame(data, as_of) if config.season_totals else None,
        censored=prepared.demand[[UNIQUE_ID, DS, "imputed"]] if config.season_totals else None,
    )
    return result, prepared.demand


def season_frame(data: ReplayData, as_of: date) -> pd.DataFrame:
    """The engine's `seasons` as the nightly run builds them (`forecasting.services.season_windows`):
    each seasonal category's windows starting in the history's first year … the year after `as_of`."""
    first_year = as_of.year - HISTORY_DAYS // 365 - 1
    rows = []
    for code, info in sorted(data.categories.items()):
        spec = data.seasons.get(info.season) if info.season else None
        if spec is None:
            continue
        for year in range(first_year, as_of.year + 2):
            if year in spec.windows:
                start, end = spec.windows[year]
                rows.append((code, pd.Timestamp(start), pd.Timestamp(end)))
    return pd.DataFrame(rows, columns=[GROUP, "season_start", "season_end"])


def _window_quantiles(run: ForecastResult, windows: dict[date, list[SkuWindow]]) -> dict[date, pd.DataFrame]:
    """Demand quantiles over each week's windows, in one `total_demand` call for the block."""
    horizon = run.forecasts.groupby(UNIQUE_ID)[DS].agg(["min", "max"])
    rows = []
    for week, week_windows in windows.items():
        for win in week_windows:
            if win.mode == "skip" or win.sku not in horizon.index:
                continue
            lo, hi = horizon.loc[win.sku]
            if pd.Timestamp(win.window_start) < lo or pd.Timestamp(win.window_end) > hi:
                continue
            rows.append((win.sku, f"{week}:{win.window_id}", win.window_start, win.window_end))
    empty = pd.DataFrame(columns=[UNIQUE_ID, MEAN, *QUANTILE_COLUMNS])
    if not rows:
        return {week: empty for week in windows}
    frame = pd.DataFrame(rows, columns=[UNIQUE_ID, "window_id", "window_start", "window_end"])
    totals = total_demand(run, frame, quantiles=QUANTILE_LEVELS)
    week_of = totals["window_id"].str.slice(0, 10)
    return {week: totals[week_of == week.isoformat()] for week in windows}


def block_inputs(
    data: ReplayData, config: ReplayConfig, weeks: list[date], forecast: bool = True
) -> list[WeekInputs]:
    """Inputs for consecutive `weeks` sharing one refit (made on the day before the first week).
    Without `forecast` only the cleansed history and the windows are computed."""
    refit_as_of = weeks[0] - timedelta(days=1)
    last_as_of = weeks[-1] - timedelta(days=1)
    known = skus_known(data, last_as_of)
    horizon = BASE_HORIZON_DAYS + 7 * len(weeks)
    run = None
    if forecast:
        run, demand = forecast_as_of(data, refit_as_of, config, known, horizon)
        by_series = run.forecasts.pivot_table(index=UNIQUE_ID, columns=DS, values=MEAN, aggfunc="sum")
    else:
        demand = cut_history(data, refit_as_of, config, skus_known(data, refit_as_of)).demand
    refit_demand = demand
    out = []
    windows_of = {
        week: sku_windows(week, data, config.review_period_days, skus_known(data, week - timedelta(days=1)))
        for week in weeks
    }
    totals_of = _window_quantiles(run, windows_of) if run is not None else {}
    for week in weeks:
        as_of = week - timedelta(days=1)
        skus = skus_known(data, as_of)
        if as_of > refit_as_of:
            # between refits: the recent days cleansed as of this week (a shorter cut: the
            # level update and trailing statistics read the last months only)
            demand = cut_history(data, as_of, config, skus, days=WEEKLY_CUT_DAYS).demand
        windows = windows_of[week]
        if run is not None:
            totals = totals_of[week]
            level = _level_update(demand, by_series, skus, refit_as_of, as_of)
        else:
            totals, level = pd.DataFrame(columns=[UNIQUE_ID, MEAN, *QUANTILE_COLUMNS]), {}
        inputs = WeekInputs(week, as_of, refit_as_of, skus, windows, level=level)
        for row in totals.itertuples(index=False):
            factor = level.get(row.unique_id, 1.0)
            inputs.quantiles[row.unique_id] = tuple(float(getattr(row, c)) * factor for c in QUANTILE_COLUMNS)
            inputs.window_mean[row.unique_id] = float(row.mean) * factor
        history_first = as_of - timedelta(days=max(config.minmax_history_days, 7 * 13) - 1)
        inputs.history = _daily_matrix(demand, skus, history_first, as_of)
        twin = week - timedelta(days=364)
        inputs.year_ago_offset = 7 * config.naive_trend_weeks
        # a year back: from the refit's three-year cut (its days all lie before the refit date)
        inputs.year_ago = _daily_matrix(
            refit_demand,
            skus,
            twin - timedelta(days=inputs.year_ago_offset),
            twin + timedelta(days=BASE_HORIZON_DAYS - 1),
        )
        out.append(inputs)
    return out


def _level_update(
    demand: pd.DataFrame, forecasts: pd.DataFrame, skus: Iterable[str], refit_as_of: date, as_of: date
) -> dict[str, float]:
    if as_of <= refit_as_of:
        return {s: 1.0 for s in skus}
    seen = pd.date_range(refit_as_of + timedelta(days=1), as_of)
    next_week = pd.date_range(as_of + timedelta(days=1), as_of + timedelta(days=7))
    actual = _daily_matrix(demand, list(skus), seen[0].date(), seen[-1].date())
    out = {}
    for sku in skus:
        if sku not in forecasts.index:
            out[sku] = 1.0
            continue
        row = forecasts.loc[sku]
        forecast_seen = float(row.reindex(seen).fillna(0.0).sum())
        prior = float(row.reindex(next_week).fillna(0.0).sum())
        if forecast_seen + prior <= 0:
            out[sku] = 1.0
            continue
        factor = (float(actual[sku].sum()) + prior) / (forecast_seen + prior)
        out[sku] = float(np.clip(factor, *LEVEL_CLIP))
    return out


def refit_blocks(weeks: list[date], refit_weeks: int) -> list[list[date]]:
    """Weeks grouped into refit blocks of `refit_weeks` (the last may be shorter)."""
    return [weeks[i : i + refit_weeks] for i in range(0, len(weeks), refit_weeks)]


def all_week_inputs(
    data: ReplayData,
    config: ReplayConfig,
    forecast: bool = True,
    progress: Callable[[int], None] | None = None,
) -> dict[date, WeekInputs]:
    """Inputs of every replay week; refit blocks run on `config.jobs` processes (each block is
    independent: it reads only sales up to its own dates). `forecast` False skips the models."""
    blocks = refit_blocks(config.weeks(), config.refit_weeks)
    out: dict[date, WeekInputs] = {}
    if config.jobs > 1 and len(blocks) > 1:
        with ProcessPoolExecutor(max_workers=config.jobs, initializer=single_blas_thread) as pool:
            futures = [pool.submit(block_inputs, data, config, block, forecast) for block in blocks]
            for future in futures:
                for inputs in future.result():
                    out[inputs.week] = inputs
                if progress:
                    progress(1)
    else:
        for block in blocks:
            for inputs in block_inputs(data, config, block, forecast):
                out[inputs.week] = inputs
            if progress:
                progress(1)
    return out
