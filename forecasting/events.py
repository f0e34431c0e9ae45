"""Calendar and promotion effects learnt from history, as multipliers on a date grid.

Per group of series (a category, or the whole panel) the log ratio of the
group's demand to its centred rolling median is regressed on event-window
dummies (build-up, event day(s), after-event dip; windows in
`forecasting.calendar.EVENT_WINDOWS`), day-of-week dummies and the group's
promotion share. Only windows seen at least twice in history and significant
(|t| ≥ 2.5) keep their coefficient; the rest count as no effect. Nothing about
the size or sign of a window is fixed by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.calendar import EVENT_WINDOWS, event_anchor_dates
from forecasting.columns import DS, EVENT
from forecasting.numeric import nanmean

T_MIN = 2.5
# Largest |log multiplier| an event window may get. Festival goods (mooncakes, Spring Festival
# gift boxes) sell 50–150× their off-season rate in the weeks before the festival; a cap at
# e^3 ≈ 20× truncated that, and the remainder fell to a week-of-year season index that cannot
# follow a lunar date (it moves by up to ~3 weeks a year): the peak was under-forecast by ~half.
# The t ≥ 2.5 and seen-twice rules guard against noise; the cap only stops absurd values.
MAX_LOG_EFFECT = 6.0
MIN_OCCURRENCES = 2


@dataclass(frozen=True)
class EventDesign:
    """Event-window dummies over a date grid: `matrix[t, k]` = share of period t inside window k."""

    columns: list[tuple[str, str]]
    matrix: np.ndarray
    # first and last grid index touched by each occurrence of each column
    occurrences: list[list[tuple[int, int]]]


@dataclass
class GroupEffects:
    """Learnt multipliers for one group at one cutoff."""

    multiplier: np.ndarray  # (len(grid),) event multiplier per grid period, 1 = no effect
    regressor_betas: dict[str, float] = field(default_factory=dict)
    window_multipliers: dict[tuple[str, str], float] = field(default_factory=dict)
    # Per regressor and series id: the series' own effect shrunk toward the group's pooled
    # estimate (`series_regressor_betas`); None = the group's betas for every series.
    series_betas: dict[str, dict[str, float]] | None = None


def event_design(grid: pd.DatetimeIndex, freq: str, events: pd.DataFrame | None) -> EventDesign:
    """Dummies of every (event, window) over `grid`; weekly periods get the share of their 7 days.

    `events` has columns `event`, `ds` (anchor dates). Monthly and quarterly grids get no
    event columns: a month blurs every window into its level.
    """
    if events is None or events.empty or freq.startswith(("M", "Q")):
        return EventDesign([], np.zeros((len(grid), 0)), [])
    daily = freq == "D"
    day_index = pd.date_range(grid[0] - pd.Timedelta(days=6 if not daily else 0), grid[-1], freq="D")
    position = {day: i for i, day in enumerate(day_index)}
    columns: list[tuple[str, str]] = []
    day_dummies: list[np.ndarray] = []
    day_occurrences: list[list[tuple[int, int]]] = []
    for name, anchors in events.groupby(EVENT)[DS]:
        windows = EVENT_WINDOWS.get(str(name), {"day": (0, 0)})
        for window, (lo, hi) in windows.items():
            column = np.zeros(len(day_index))
            spans = []
            for anchor in pd.DatetimeIndex(anchors):
                first, last = anchor + pd.Timedelta(days=lo), anchor + pd.Timedelta(days=hi)
                idx = [position[d] for d in pd.date_range(first, last) if d in position]
                if idx:
                    column[idx] = 1.0
                    spans.append((min(idx), max(idx)))
            if spans:
                columns.append((str(name), window))
                day_dummies.append(column)
                day_occurrences.append(spans)
    if not columns:
        return EventDesign([], np.zeros((len(grid), 0)), [])
    day_matrix = np.column_stack(day_dummies)
    if daily:
        return EventDesign(columns, day_matrix, day_occurrences)
    # A weekly period labelled ds covers the 7 days ending on ds.
    cumulative = np.vstack([np.zeros((1, day_matrix.shape[1])), np.cumsum(day_matrix, axis=0)])
    ends = np.array([position[d] for d in grid]) + 1
    matrix = (cumulative[ends] - cumulative[ends - 7]) / 7.0
    occurrences = [[(s // 7, e // 7) for s, e in spans] for spans in day_occurrences]
    return EventDesign(columns, matrix, occurrences)


def learn_group_effects(
    values: np.ndarray,
    design: EventDesign,
    cutoff: int,
    freq: str,
    regressors: dict[str, np.ndarray] | None = None,
    skip_events: set[str] | None = None,
) -> GroupEffects:
    """Learn event multipliers and promotion betas for one group from `values[:, :cutoff]`.

    `values` (series × grid) holds demand with NaN for missing periods;
    `regressors` maps a name to a (series × grid) array where 0 means "no
    effect" (promotion flag, discount depth). Returns multipliers for the whole
    grid, so that future periods get the effects learnt from the past. Events named in
    `skip_events` get no effect (their season index carries them).
    """
    n_grid = design.matrix.shape[0]
    regressors = regressors or {}
    empty = GroupEffects(np.ones(n_grid), {name: 0.0 for name in regressors})
    train = values[:, :cutoff]
    with np.errstate(all="ignore"):
        level = nanmean(train, axis=1)
    usable = np.isfinite(level) & (level > 0)
    if usable.sum() == 0 or cutoff < 28:
        return empty
    with np.errstate(all="ignore"):
        normalised = nanmean(train[usable] / level[usable, None], axis=0)
    log_level = np.log(normalised + 0.05)
    window = {"D": 91}.get(freq, 13)
    baseline = (
        pd.Series(log_level).rolling(window, center=True, min_periods=window // 3).median().to_numpy()
    )
    response = log_level - baseline
    blocks: list[np.ndarray] = []
    names: list[tuple[str, str] | str] = []
    for k, column in enumerate(design.columns):
        if skip_events and column[0] in skip_events:
            continue
        seen = sum(1 for first, last in design.occurrences[k] if last < cutoff and first >= 0)
        if seen >= MIN_OCCURRENCES:
            blocks.append(design.matrix[:cutoff, k])
            names.append(column)
    for name, matrix in regressors.items():
        with np.errstate(all="ignore"):
            share = nanmean(np.where(np.isnan(train[usable]), np.nan, matrix[usable][:, :cutoff]), axis=0)
        if np.nanmax(np.abs(np.nan_to_num(share)), initial=0.0) > 0:
            blocks.append(np.nan_to_num(share))
            names.append(name)
    if not blocks:
        return empty
    design_rows = np.column_stack(blocks)
    nuisance = [np.ones(cutoff)]
    if freq == "D":
        weekday = np.arange(cutoff) % 7
        nuisance += [(weekday == d).astype(float) for d in range(1, 7)]
    full = np.column_stack([design_rows, *nuisance])
    ok = np.isfinite(response)
    if ok.sum() <= full.shape[1] + 10:
        return empty
    X, r = full[ok], response[ok]
    beta, *_ = np.linalg.lstsq(X, r, rcond=None)
    dof = max(ok.sum() - full.shape[1], 1)
    sigma2 = float(np.sum((r - X @ beta) ** 2) / dof)
    covariance = np.linalg.pinv(X.T @ X) * sigma2
    se = np.sqrt(np.clip(np.diag(covariance), 1e-18, None))
    t_values = beta / se
    kept = (np.abs(t_values) >= T_MIN) & np.isfinite(beta)
    effects = GroupEffects(np.ones(n_grid), {name: 0.0 for name in regressors})
    log_multiplier = np.zeros(n_grid)
    for k, name in enumerate(names):
        coefficient = float(np.clip(beta[k], -MAX_LOG_EFFECT, MAX_LOG_EFFECT)) if kept[k] else 0.0
        if isinstance(name, tuple):
            effects.window_multipliers[name] = float(np.exp(coefficient))
            if coefficient:
                column = design.columns.index(name)
                log_multiplier += coefficient * design.matrix[:, column]
        else:
            effects.regressor_betas[name] = coefficient
    effects.multiplier = np.exp(log_multiplier)
    return effects


def series_regressor_betas(values: np.ndarray, regressors: dict[str, np.ndarray], multiplier: np.ndarray,
                           cutoff: int, freq: str) -> dict[str, np.ndarray]:
    """Each series' own regressor effects (log-linear: for a price column the regressor is log of
    price over its usual price, so the effect is a log-log elasticity), shrunk toward its group.

    Per series: log(demand + ½·its mean) with the event multipliers divided out, less its
    centred rolling median (13 periods; 91 days), regressed on its regressors (OLS, centred).
    The group's pooled estimate is the precision-weighted mean of the series' estimates; the
    spread between series beyond their sampling noise (DerSimonian–Laird τ²) sets how far each
    series keeps its own: β_i = (τ²·b_i + v_i·b_pool) / (τ² + v_i). A series whose regressors
    never moved gets the pooled estimate.
    """
    names = list(regressors)
    n = values.shape[0]
    out = {name: np.zeros(n) for name in names}
    if not names or cutoff < 20:
        return out
    window = {"D": 91}.get(freq, 13)
    own = np.full((n, len(names)), np.nan)
    variance = np.full((n, len(names)), np.nan)
    log_event = np.log(multiplier[:cutoff])
    for i in range(n):
        y = values[i, :cutoff]
        ok = ~np.isnan(y)
        if ok.sum() < 12 or not np.any(y[ok] > 0):
            continue
        log_y = np.log(y + 0.5 * np.nanmean(y)) - log_event
        baseline = pd.Series(np.where(ok, log_y, np.nan)).rolling(
            window, center=True, min_periods=max(3, window // 3)).median().to_numpy()
        response = log_y - baseline
        X = np.column_stack([regressors[name][i, :cutoff] for name in names])
        rows = ok & np.isfinite(response)
        X, r = X[rows], response[rows]
        if r.size == 0:  # nothing finite to learn from (and np.std of no rows warns)
            continue
        moving = np.std(X, axis=0) > 1e-9
        if not moving.any() or r.size <= moving.sum() + 5:
            continue
        Xc = X[:, moving] - X[:, moving].mean(axis=0)
        rc = r - r.mean()
        beta, *_ = np.linalg.lstsq(Xc, rc, rcond=None)
        dof = max(r.size - moving.sum() - 1, 1)
        sigma2 = float(np.sum((rc - Xc @ beta) ** 2) / dof)
        cov = np.linalg.pinv(Xc.T @ Xc) * sigma2
        own[i, moving] = beta
        variance[i, moving] = np.clip(np.diag(cov), 1e-8, None)
    for k, name in enumerate(names):
        b, v = own[:, k], variance[:, k]
        seen = np.isfinite(b) & np.isfinite(v)
        if not seen.any():
            continue
        w = 1.0 / v[seen]
        pooled = float(np.sum(w * b[seen]) / np.sum(w))
        q = float(np.sum(w * (b[seen] - pooled) ** 2))
        denominator = float(np.sum(w) - np.sum(w**2) / np.sum(w))
        tau2 = max(0.0, (q - (seen.sum() - 1)) / denominator) if denominator > 0 else 0.0
        shrunk = np.full(n, pooled)
        shrunk[seen] = (tau2 * b[seen] + v[seen] * pooled) / (tau2 + v[seen])
        out[name] = np.clip(shrunk, -MAX_LOG_EFFECT, MAX_LOG_EFFECT)
    return out


def default_events(start: pd.Timestamp, end: pd.Timestamp, names: Sequence[str]) -> pd.DataFrame:
    """restock's Chinese retail calendar (anchors) between two dates, for the enabled event names."""
    return event_anchor_dates(start.date(), end.date(), names)
