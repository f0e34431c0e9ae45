"""Per-series season totals: what a seasonal SKU will sell over its next season, checked against its past.

A pre-build buys a whole season per SKU in one order, so the season total is the number that
matters. For each series of a group that has season windows (`seasons`: group, start, end,
one row per year; the caller computes them — fixed month-days or days around a festival):

- `model_total` — the engine's forecast summed over the upcoming season (the part of it after
  the origin and inside the horizon);
- `last_season` / `season_before` — the series' own cleansed demand over the same part of the
  previous two seasons (NaN where its history does not cover them: a launch);
- `last_season_demand` / `season_before_demand` — the same with the stockout days re-estimated
  from the group's day-by-day profile over that season (`decensored_sums`): the cleansing's
  neighbour median reads a stockout at a festival peak from the weeks after it, when the season is
  over, so a censored season would otherwise be carried into the next one;
- `trend` — the group's year-on-year ratio (Σ last season / Σ season before over the series
  that have both, stockout days re-estimated), shrunk toward 1 by its noise (`group_trend`: one
  season's promotion or calendar quirk is not a trend): the series' sampling noise plus the
  calendar's between-year movement (`calendar_variance`: the spread of the group's 4-week
  year-on-year ratios over the last year beyond their sampling noise — a trend moves every block
  alike, events and promotions falling on other days do not; not for a season that moves with a
  festival, whose windows are aligned on it: `moves_with_a_festival`), clipped to 0.5–2;
  `naive_total = last_season_demand × trend`;
- `share_total` — the group's Σ naive_total split by each series' share of the group
  (`share_split`), read from its last two years of daily demand instead of its one last season
  (`share_levels`): every series of a group rides one day profile (season, weekdays, events,
  the group's promotions) times its own level and log-linear drift, fitted by negative-binomial
  likelihood with stockout days left out; each series' drift is shrunk toward the group's by
  empirical Bayes (the spread of true drifts against each estimate's standard error,
  DerSimonian–Laird), and its level is read at the middle of the upcoming season part.
  `own_trend` = the shrunk yearly drift factor. One season's total carries its sampling noise
  (≈ 10–15 % for a SKU selling a hundred or two a season) into the next; two years of days and
  the months since the season halve it, while a drift that is clearly there is kept;
- `weight` — how far to trust the model over the split total, from the same point of past
  seasons: the engine is re-run on the group's series at the origin one and two years back
  (52 and 104 weeks, history before it only) and the model's and the split's totals, both made
  from the history up to that origin alone, are scored on what the season then sold (its demand,
  stockout days re-estimated); weight = E_split² / (E_model² + E_split²), errors pooled over the
  series' own past seasons and its group's (2 pseudo-seasons of the group), 0.25 without any past
  season. Where the scored season is the first in the history (no season before it to carry),
  the carried total's relative error is taken as the Poisson noise of two seasons, √(2 / sold) —
  a floor, so the model must beat sampling noise to get weight;
- `total` = weight × model_total + (1 − weight) × share_total (naive_total where no split
  exists; the model alone without a last season). A total outside 0.5–2× of last season keeps
  that ratio only with a reason (the group's trend, the series' own two-season trend, its share
  of the group over two years far from its last season × trend, a launch, stockout-censored
  history); otherwise it is held at the band's edge, and that is stored as the reason.

The forecast's daily means and quantiles inside the season are scaled by total / model_total,
so the optimizer's window totals (`forecasting.total_demand`) read the season total.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecasting.columns import DS, GROUP, MEAN, UNIQUE_ID, Y

SEASON_START = "season_start"
SEASON_END = "season_end"
YEAR_DAYS = 364  # 52 weeks: the same weekday one year back
TREND_BOUNDS = (0.5, 2.0)
TREND_MIN_SERIES = 3  # series with both seasons needed to measure a group's trend at all
# A fixed-date season starts on the same day of the year give or take a leap day (and the 364-day
# year of a weekday-aligned window); a festival's season moves by 10-20 days between years.
FIXED_SEASON_SLACK_DAYS = 3
# `calendar_variance` compares the last year with the one before in blocks of this many days.
CALENDAR_BLOCK_DAYS = 28
BAND = (0.5, 2.0)  # a total outside this multiple of last season needs a reason
GROUP_PSEUDO_SEASONS = 2.0
# Weight on the model's total when no past season could be scored (thin history): the total is
# shrunk toward last season × trend until the model has shown it can do better.
UNSCORED_WEIGHT = 0.25
# Share of last season's days that were stockouts (imputed) above which it is called censored.
CENSORED_SHARE = 0.1
# Last season's demand with stockout days re-estimated at least this multiple of its cleansed
# sales also calls it censored (a few stockout days at the peak can hold most of a season).
CENSORED_LIFT = 1.25
RANK_ONE_ITERATIONS = 30
# The share fit (`share_levels`) reads this many years of daily history before the origin.
SHARE_YEARS = 2
SHARE_ITERATIONS = 8  # alternations between the group's day profile and the series' levels
SHARE_NEWTON_STEPS = 5  # Newton steps on each series' (log level, slope) per alternation
# A split total this multiple away from last season × trend is a reason of its own (the series'
# share of its group read from two years, not its one last season).
SHARE_REASON = 1.25

COLUMNS = [UNIQUE_ID, GROUP, SEASON_START, SEASON_END, "days", "model_total", "last_season",
           "season_before", "last_season_demand", "season_before_demand", "trend", "naive_total",
           "own_trend", "share_total", "weight", "total", "ratio_to_last_season", "past_seasons_scored",
           "reasons"]


@dataclass(frozen=True)
class SeasonPart:
    """The part of a group's upcoming season the forecast covers, and the same part of past seasons."""

    group: str
    start: pd.Timestamp  # of the part (the day after the origin when in season)
    end: pd.Timestamp
    past: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]  # last season, the one before, ...


def season_parts(seasons: pd.DataFrame, origin: pd.Timestamp, last_day: pd.Timestamp,
                 years_back: int = 3) -> dict[str, SeasonPart]:
    """Per group: its first season ending after `origin` and starting by `last_day`, clipped to
    (origin, last_day], with the same days-from-start part of its previous seasons."""
    for column in (GROUP, SEASON_START, SEASON_END):
        if column not in seasons.columns:
            raise ValueError(f"seasons has no column {column!r} (needs group, season_start, season_end)")
    parts: dict[str, SeasonPart] = {}
    frame = seasons.assign(**{SEASON_START: pd.to_datetime(seasons[SEASON_START]),
                              SEASON_END: pd.to_datetime(seasons[SEASON_END])})
    for group, rows in frame.groupby(GROUP, sort=True):
        rows = rows.sort_values(SEASON_START).reset_index(drop=True)
        upcoming = rows[(rows[SEASON_END] > origin) & (rows[SEASON_START] <= last_day)]
        if upcoming.empty:
            continue
        k = int(upcoming.index[0])
        start, end = rows.loc[k, SEASON_START], rows.loc[k, SEASON_END]
        skip = max(0, (origin + pd.Timedelta(days=1) - start).days)
        length = (min(end, last_day) - start).days + 1 - skip
        if length <= 0:
            continue
        past = []
        for j in range(k - 1, max(k - 1 - years_back, -1), -1):
            past_start = rows.loc[j, SEASON_START] + pd.Timedelta(days=skip)
            past_end = min(past_start + pd.Timedelta(days=length - 1), rows.loc[j, SEASON_END])
            past.append((past_start, past_end))
        parts[str(group)] = SeasonPart(str(group), start + pd.Timedelta(days=skip),
                                       start + pd.Timedelta(days=skip + length - 1), tuple(past))
    return parts


def moves_with_a_festival(part: SeasonPart) -> bool:
    """True when the part's seasons start on different calendar days from year to year (a season
    anchored on a lunar festival, which moves by weeks), False for a fixed-date season.

    Its windows are aligned on the festival, so comparing two of them already compares like with
    like; `calendar_variance`'s 364-day blocks would instead read the festival's own move as
    calendar movement and shrink any real trend of the group to nothing.
    """
    starts = [part.start, *(span[0] for span in part.past)]
    days = [(start - pd.Timestamp(start.year, 1, 1)).days for start in starts]
    return max(days) - min(days) > FIXED_SEASON_SLACK_DAYS


def window_sums(history: pd.DataFrame, ids: list[str], span: tuple[pd.Timestamp, pd.Timestamp],
                column: str = Y) -> pd.Series:
    """Σ column over [span] per series; NaN where the series' history does not cover every day."""
    start, end = span
    days = (end - start).days + 1
    inside = history[(history[DS] >= start) & (history[DS] <= end) & history[UNIQUE_ID].isin(ids)]
    grouped = inside.groupby(UNIQUE_ID, observed=True)[column]
    sums = grouped.sum().reindex(ids)
    covered = grouped.count().reindex(ids).fillna(0)
    return sums.where(covered >= days)


def day_matrix(history: pd.DataFrame, ids: list[str], days: pd.DatetimeIndex) -> np.ndarray:
    """Σ y per day (rows, `days`) and series (columns, `ids`); NaN where a series has no record."""
    inside = history[(history[DS] >= days[0]) & (history[DS] <= days[-1]) & history[UNIQUE_ID].isin(ids)]
    return inside.pivot_table(index=DS, columns=UNIQUE_ID, values=Y, aggfunc="sum",
                              observed=True).reindex(index=days, columns=ids).to_numpy(dtype=float)


def stockout_matrix(imputed: pd.DataFrame | None, ids: list[str], days: pd.DatetimeIndex) -> np.ndarray:
    """True on the days (rows) and series (columns) flagged as stockouts (`imputed`: unique_id,
    ds, imputed), as `day_matrix` lays them out."""
    out = np.zeros((len(days), len(ids)), dtype=bool)
    if imputed is None or imputed.empty:
        return out
    when = pd.to_datetime(imputed[DS])
    flags = imputed[(when >= days[0]) & (when <= days[-1]) & imputed[UNIQUE_ID].astype(str).isin(ids)
                    & imputed["imputed"].astype(bool)]
    rows = days.get_indexer(pd.to_datetime(flags[DS]))
    cols = pd.Index(ids).get_indexer(flags[UNIQUE_ID].astype(str))
    keep = (rows >= 0) & (cols >= 0)
    out[rows[keep], cols[keep]] = True
    return out


def decensored_sums(history: pd.DataFrame, censored: pd.DataFrame | None, ids: list[str],
                    span: tuple[pd.Timestamp, pd.Timestamp]) -> pd.Series:
    """Σ y over [span] per series with its stockout days' demand re-estimated from the group.

    Demand over the span is read as a product: series level a_i × day profile b_d (the Poisson
    rank-one model), fitted by alternating maximum likelihood on the in-stock series-days only;
    a stockout day (`censored`: unique_id, ds, imputed = True) then counts a_i · b_d instead of
    its recorded value. Each day's profile comes from the series in stock that day, so a stockout
    at a festival's peak is filled at the peak's height, not from the weeks around it. A series
    that is out of stock on every day of the span, or a day on which every series is, keeps the
    recorded values. NaN where the history does not cover every day of the span (as `window_sums`).
    """
    plain = window_sums(history, ids, span)
    if censored is None or censored.empty or not ids:
        return plain
    days = pd.date_range(*span)
    out_of_stock = stockout_matrix(censored, ids, days)
    if not out_of_stock.any():
        return plain
    filled = decensor_matrix(day_matrix(history, ids, days), out_of_stock)
    totals = pd.Series(np.nansum(filled, axis=0), index=ids)
    return totals.where(plain.notna())


def decensor_matrix(values: np.ndarray, out_of_stock: np.ndarray) -> np.ndarray:
    """`values` (days × series, NaN = no record) with out-of-stock cells replaced by a_i · b_d of
    the rank-one Poisson fit on the in-stock cells (see `decensored_sums`)."""
    observed = ~out_of_stock & ~np.isnan(values)
    y = np.where(observed, values, 0.0)
    level = y.sum(axis=0) / np.maximum(observed.sum(axis=0), 1)
    profile = np.ones(values.shape[0])
    for _ in range(RANK_ONE_ITERATIONS):
        exposure = (observed * level[None, :]).sum(axis=1)
        profile = np.divide(y.sum(axis=1), exposure, out=np.zeros_like(exposure), where=exposure > 0)
        weight = (observed * profile[:, None]).sum(axis=0)
        level = np.divide(y.sum(axis=0), weight, out=np.zeros_like(weight), where=weight > 0)
    # Only cells with both a level (some in-stock day of the series carrying profile) and a
    # profile (some in-stock series with a level that day) are re-estimated.
    has_level = (observed * profile[:, None]).sum(axis=0) > 0
    has_profile = (observed * level[None, :]).sum(axis=1) > 0
    fill = out_of_stock & has_level[None, :] & has_profile[:, None]
    return np.where(fill, level[None, :] * profile[:, None], values)


def group_trend(last: pd.Series, before: pd.Series, calendar: float = 0.0) -> float:
    """The group's year-on-year ratio Σ last / Σ before, shrunk toward no change by its own noise.

    Over the series with both seasons: log T = log(Σ last / Σ before), its standard error by the
    delta method of a ratio of sums, se = √Σ(last − T·before)² / Σ last, and the positive-part
    James–Stein factor max(0, 1 − (se² + calendar) / (log T)²) on log T; a trend within its noise
    of 1 is 1. `calendar` is the variance of log T that the calendar alone gives between years
    (events and promotions falling differently in the two windows: `calendar_variance`), which no
    number of series averages away. Fewer than `TREND_MIN_SERIES` series: 1. Clipped to
    `TREND_BOUNDS`.
    """
    both = last.notna() & before.notna()
    total_last, total_before = float(last[both].sum()), float(before[both].sum())
    if both.sum() < TREND_MIN_SERIES or total_before <= 0 or total_last <= 0:
        return 1.0
    ratio = total_last / total_before
    log_ratio = float(np.log(ratio))
    if log_ratio == 0.0:
        return 1.0
    spread = float(np.sqrt(np.sum((last[both] - ratio * before[both]) ** 2))) / total_last
    factor = max(0.0, 1.0 - (spread**2 + max(calendar, 0.0)) / log_ratio**2)
    return float(np.clip(np.exp(factor * log_ratio), *TREND_BOUNDS))


def calendar_variance(history: pd.DataFrame, ids: list[str], origin: pd.Timestamp) -> float:
    """The variance the calendar alone gives a group's year-on-year log ratio.

    A season window's total moves between years with what falls in it (platform events,
    promotions, a festival's weekday), a trend or not; `group_trend`'s standard error counts only
    the series' sampling noise, which shrinks with the number of series while the calendar's
    movement does not. This reads the movement from the group itself: the last `YEAR_DAYS` before
    the origin are cut into `CALENDAR_BLOCK_DAYS` blocks, each compared with the same block a year
    before, r_j = log(Σ this year / Σ a year before) over the series that cover both, with its
    sampling variance by the delta method (as `group_trend`, at least the Poisson 1 / Σ). A trend
    moves every block alike; the spread of the r_j beyond their sampling noise (τ², DerSimonian–
    Laird, `drift_variance`) is what the calendar does to a block's ratio. A season's ratio is
    taken to move as much as a block's: its calendar effects are not independent between blocks
    (a festival or a promotion programme moving shifts several at once), so no averaging over a
    season's blocks is assumed. With less than two years of history, as many blocks as the history
    holds a year before; 0 with fewer than `TREND_MIN_SERIES` blocks or series covering them.
    A lunar festival moves by weeks against the 364-day comparison, so a festival group's blocks
    spread widely: `season_totals` does not use it for a season that moves with a festival
    (`moves_with_a_festival`), whose festival-aligned windows keep the sampling noise alone.
    """
    inside = history[(history[DS] <= origin) & history[UNIQUE_ID].isin(ids)]
    if inside.empty:
        return 0.0
    # Blocks counted back from the origin, as many as the history holds a year before.
    blocks = min(YEAR_DAYS, (origin - inside[DS].min()).days + 1 - YEAR_DAYS) // CALENDAR_BLOCK_DAYS
    if blocks < TREND_MIN_SERIES:
        return 0.0
    span = blocks * CALENDAR_BLOCK_DAYS
    days = pd.date_range(origin - pd.Timedelta(days=YEAR_DAYS + span - 1), origin)
    values = inside[inside[DS] >= days[0]].pivot_table(index=DS, columns=UNIQUE_ID, values=Y, aggfunc="sum",
                                                       observed=True).reindex(index=days).to_numpy(dtype=float)
    full = ~np.isnan(values).any(axis=0)
    if full.sum() < TREND_MIN_SERIES:
        return 0.0
    values = np.maximum(values[:, full], 0.0)
    ratios, variances = [], []
    for j in range(blocks):
        now = slice(len(days) - (j + 1) * CALENDAR_BLOCK_DAYS, len(days) - j * CALENDAR_BLOCK_DAYS)
        this = values[now].sum(axis=0)
        then = values[now.start - YEAR_DAYS:now.stop - YEAR_DAYS].sum(axis=0)
        total_this, total_then = float(this.sum()), float(then.sum())
        if total_this <= 0 or total_then <= 0:
            continue
        ratio = total_this / total_then
        ratios.append(np.log(ratio))
        variances.append(max(float(np.sum((this - ratio * then) ** 2)) / total_this**2, 1.0 / total_this))
    return drift_variance(np.asarray(ratios), np.asarray(variances))


def carried_trend(history: pd.DataFrame, ids: list[str], part: SeasonPart, origin: pd.Timestamp,
                  last: pd.Series, before: pd.Series) -> float:
    """The group trend a season part is carried forward by: `group_trend` of the two past seasons'
    totals with the calendar's between-year variance read at `origin` (`calendar_variance`), none
    for a season that moves with a festival (`moves_with_a_festival`)."""
    calendar = 0.0 if moves_with_a_festival(part) else calendar_variance(history, ids, origin)
    return group_trend(last, before, calendar)


SHARE_COLUMNS = ["level", "slope", "slope_se", "own_trend", "drift_spread"]


def share_levels(history: pd.DataFrame, imputed: pd.DataFrame | None, ids: list[str],
                 origin: pd.Timestamp, target: pd.Timestamp) -> pd.DataFrame:
    """Each series' level relative to its group at the `target` day, read from its last
    `SHARE_YEARS` years of daily demand up to `origin` (one row per id, `SHARE_COLUMNS`).

    The group's series share one day profile b_d (season, weekdays, events, the group's promotions
    and trend); each series is a level with its own log-linear drift on top:
    y_id ~ NB(b_d · exp(α_i + g_i t_d)), t in years from the origin. Fitted by alternating
    b_d = Σ_i y_id / Σ_i exp(α_i + g_i t_d) with Newton steps on each (α_i, g_i) under
    negative-binomial weights 1 / (1 + μ/k), k by moments over the group; stockout days
    (`imputed`) and days without a record are left out. The slopes are centred (the group's own
    trend lives in b_d) and each is shrunk toward the group's by empirical Bayes: the spread of
    true drifts τ² by DerSimonian–Laird (`drift_variance`, 0 below `TREND_MIN_SERIES` series),
    g*_i = g_i · τ² / (τ² + se_i²) — a drift within its noise is no drift. Then α_i is re-read at
    g*_i and `level` = exp(α_i + g*_i t_target): only ratios between a group's series mean anything.
    `own_trend` = exp(g*_i), the series' yearly drift factor against its group; `slope`, `slope_se`
    the unshrunk g_i and its standard error; `drift_spread` = τ. A series with no demand in the
    window has level 0; one the window does not reach at all, NaN.
    """
    out = pd.DataFrame(np.nan, index=pd.Index(ids, name=UNIQUE_ID), columns=SHARE_COLUMNS)
    if not ids:
        return out
    start = origin - pd.Timedelta(days=SHARE_YEARS * YEAR_DAYS - 1)
    inside = history[(history[DS] >= start) & (history[DS] <= origin) & history[UNIQUE_ID].isin(ids)]
    if inside.empty:
        return out
    days = pd.date_range(max(start, inside[DS].min()), origin)
    values = day_matrix(inside, ids, days)
    observed = ~np.isnan(values) & ~stockout_matrix(imputed, ids, days)
    y = np.where(observed, np.maximum(values, 0.0), 0.0)
    t = ((days - origin).days.to_numpy() / YEAR_DAYS)[:, None]
    sums = y.sum(axis=0)
    seen = observed.any(axis=0)
    active = sums > 0
    mask = observed & active[None, :]
    alpha = np.where(active, np.log(np.maximum(sums, 1e-12) / np.maximum(observed.sum(axis=0), 1)), 0.0)
    slope = np.zeros(len(ids))
    inv_k = 0.0

    def profile(slopes: np.ndarray, levels: np.ndarray) -> np.ndarray:
        exposure = (mask * np.exp(levels[None, :] + slopes[None, :] * t)).sum(axis=1)
        return np.divide(y.sum(axis=1), exposure, out=np.zeros_like(exposure), where=exposure > 0)

    def information(mu: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        w = mu / (1.0 + mu * inv_k)
        return w.sum(axis=0), (w * t).sum(axis=0), (w * t * t).sum(axis=0)

    for _ in range(SHARE_ITERATIONS):
        b = profile(slope, alpha)
        for _ in range(SHARE_NEWTON_STEPS):
            mu = mask * b[:, None] * np.exp(alpha[None, :] + slope[None, :] * t)
            s0, s1, s2 = information(mu)
            weighted = (y - mu) / (1.0 + mu * inv_k) * mask
            r0, r1 = weighted.sum(axis=0), (weighted * t).sum(axis=0)
            det = s0 * s2 - s1**2
            ok = active & (det > 1e-9 * np.maximum(s0 * s2, 1e-300))
            safe = np.where(ok, det, 1.0)
            alpha = alpha + np.where(ok, np.clip((s2 * r0 - s1 * r1) / safe, -2.0, 2.0), 0.0)
            slope = slope + np.where(ok, np.clip((s0 * r1 - s1 * r0) / safe, -2.0, 2.0), 0.0)
        slope = np.where(active, slope - np.sum(sums * slope) / max(float(sums.sum()), 1e-12), 0.0)
        mu = mask * b[:, None] * np.exp(alpha[None, :] + slope[None, :] * t)
        # Each day's profile is fitted from that day's series, so a residual is smaller than the
        # noise by its leverage h = μ_id / Σ_j μ_jd: E(y − μ)² = (1 − h)(μ + μ²/k).
        day_total = mu.sum(axis=1, keepdims=True)
        kept = 1.0 - np.divide(mu, day_total, out=np.zeros_like(mu), where=day_total > 0)
        excess = float(np.sum(mask * ((y - mu) ** 2 - kept * mu)))
        inv_k = max(0.0, excess / max(float(np.sum(kept * mu**2)), 1e-12))
    b = profile(slope, alpha)
    mu = mask * b[:, None] * np.exp(alpha[None, :] + slope[None, :] * t)
    s0, s1, s2 = information(mu)
    det = s0 * s2 - s1**2
    fitted = active & (det > 1e-9 * np.maximum(s0 * s2, 1e-300))
    se2 = np.where(fitted, s0 / np.where(fitted, det, 1.0), np.inf)
    tau2 = drift_variance(slope[fitted], se2[fitted])
    shrunk = np.where(fitted, slope * tau2 / (tau2 + se2), 0.0) if tau2 > 0 else np.zeros(len(ids))
    exposure = (mask * b[:, None] * np.exp(shrunk[None, :] * t)).sum(axis=0)
    target_years = (target - origin).days / YEAR_DAYS
    level = (np.divide(sums, exposure, out=np.zeros_like(sums), where=exposure > 0)
             * np.exp(shrunk * target_years))
    level = np.where(active & (exposure <= 0), np.nan, level)
    out["level"] = np.where(seen, level, np.nan)
    out["slope"] = np.where(fitted, slope, np.nan)
    out["slope_se"] = np.where(fitted, np.sqrt(np.where(fitted, se2, 0.0)), np.nan)
    out["own_trend"] = np.where(seen, np.exp(shrunk), np.nan)
    out["drift_spread"] = float(np.sqrt(tau2))
    return out


def drift_variance(slopes: np.ndarray, variances: np.ndarray) -> float:
    """τ², the spread of the series' true drifts, from their estimates and sampling variances
    (DerSimonian–Laird: Q = Σ w (g − ḡ)², w = 1/se², τ² = max(0, (Q − (n − 1)) / (Σw − Σw²/Σw)));
    0 below `TREND_MIN_SERIES` series. Weighting by precision keeps a just-launched series, whose
    drift is all noise, from swamping the estimate."""
    keep = np.isfinite(slopes) & np.isfinite(variances) & (variances > 0)
    if keep.sum() < TREND_MIN_SERIES:
        return 0.0
    w = 1.0 / variances[keep]
    g = slopes[keep]
    q = float(np.sum(w * (g - np.sum(w * g) / w.sum()) ** 2))
    scale = float(w.sum() - np.sum(w**2) / w.sum())
    return max(0.0, (q - (keep.sum() - 1)) / scale) if scale > 0 else 0.0


def share_split(naive: pd.Series, levels: pd.Series) -> pd.Series:
    """The group's naive season total Σ naive split by the series' levels (`share_levels`).

    Over the series with a last season (naive ≥ 0, a series that sold nothing in it included:
    one season's zero is one draw too) and a finite level: share_total_i = Σ_j naive_j · level_i /
    Σ_j level_j, so the group keeps its last season × trend while each series gets its share read
    from two years instead of one season. NaN elsewhere (a launch without a last season) and when
    the group sold nothing or the levels sum to 0.
    """
    level = levels.reindex(naive.index)
    both = naive.notna() & (naive >= 0) & level.notna()
    out = pd.Series(np.nan, index=naive.index)
    group_total, level_sum = float(naive[both].sum()), float(level[both].sum())
    if both.any() and group_total > 0 and level_sum > 0:
        out[both] = group_total * level[both] / level_sum
    return out


ForecastFn = Callable[[list[str], pd.Timestamp], pd.DataFrame]


def season_totals(history: pd.DataFrame, forecasts: pd.DataFrame, groups: pd.Series,
                  seasons: pd.DataFrame, origin: pd.Timestamp, last_day: pd.Timestamp,
                  refit: ForecastFn | None = None, imputed: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per series of a seasonal group (columns `COLUMNS`); see the module docstring.

    `history`: unique_id, ds, y — the cleansed demand the engine saw (daily); `forecasts`: the
    engine's unique_id, ds, mean (rows are made for its series); `groups`: unique_id → group, for
    every series of the history (a group's demand, trend and shares are read over all of them,
    forecast in this run or not); `refit(ids, origin)` returns
    forecasts (unique_id, ds, mean) of those series made at an earlier origin from their history
    up to it alone (the engine re-run), used to score model against naive totals at the same point of past
    seasons; `imputed`: unique_id, ds, imputed (stockout days whose demand was estimated).
    """
    history = history.assign(**{DS: pd.to_datetime(history[DS]), UNIQUE_ID: history[UNIQUE_ID].astype(str)})
    group_of = groups.astype(str)
    parts = season_parts(seasons, origin, last_day)
    rows: list[dict[str, Any]] = []
    forecast_ids = set(forecasts[UNIQUE_ID].astype(str))
    history_ids = set(history[UNIQUE_ID].unique())
    for group, part in parts.items():
        in_group = set(group_of.index[group_of == group].astype(str))
        ids = sorted(in_group & forecast_ids)
        if not ids:
            continue
        # What belongs to the group (its demand re-estimated, its trend, each series' share of it)
        # is read over every series of the group in the history, forecast in this run or not: a
        # run of a few SKUs gives them the totals the full run would.
        members = sorted((in_group & history_ids) | set(ids))
        model_total = window_sums(forecasts.rename(columns={MEAN: Y}).assign(
            **{UNIQUE_ID: forecasts[UNIQUE_ID].astype(str)}), ids, (part.start, part.end)).fillna(0.0)
        past = [window_sums(history, members, span) for span in part.past[:2]]
        demand = [decensored_sums(history, imputed, members, span) for span in part.past[:2]]
        nothing = pd.Series(np.nan, index=members)
        last = past[0] if past else nothing
        before = past[1] if len(past) > 1 else nothing
        last_d = demand[0] if demand else nothing
        before_d = demand[1] if len(demand) > 1 else nothing
        trend = carried_trend(history, members, part, origin, last_d, before_d)
        levels = share_levels(history, imputed, members, origin, part.start + (part.end - part.start) / 2)
        shares = share_split(last_d * trend, levels["level"])
        model_err, naive_err, scored = _past_season_errors(history, ids, part, refit, origin, imputed,
                                                           members)
        group_model = float(np.nanmean(model_err.to_numpy())) if model_err.notna().any() else np.nan
        group_naive = float(np.nanmean(naive_err.to_numpy())) if naive_err.notna().any() else np.nan
        censored = _censored_share(imputed, ids, part.past[0]) if imputed is not None and part.past else None
        for uid in ids:
            m, l1, l2 = float(model_total[uid]), float(last[uid]), float(before[uid])
            d1, d2 = float(last_d[uid]), float(before_d[uid])
            reasons: list[dict[str, Any]] = []
            split = np.nan
            weight = _weight(model_err.get(uid, np.nan), naive_err.get(uid, np.nan), int(scored.get(uid, 0)),
                             group_model, group_naive)
            if np.isnan(l1):
                naive, total, weight = np.nan, m, 1.0
                reasons.append({"code": "launch", "detail": "no complete last season: model total only"})
            elif d1 <= 0:
                naive = 0.0
                split = float(shares[uid])
                total = weight * m + (1 - weight) * (split if np.isfinite(split) else 0.0)
                if total > 0:
                    reasons.append({"code": "no_sales_last_season"})
            else:
                naive = d1 * trend
                split = float(shares[uid])
                carried = split if np.isfinite(split) else naive
                total = weight * m + (1 - weight) * carried
                ratio = total / l1 if l1 > 0 else np.inf
                if not BAND[0] <= ratio <= BAND[1]:
                    if abs(np.log(trend)) >= np.log(1.25):
                        reasons.append({"code": "category_trend", "trend": round(trend, 3)})
                    if not np.isnan(d2) and d2 > 0 and (d1 / d2 < BAND[0] or d1 / d2 > BAND[1]):
                        reasons.append({"code": "own_trend", "last_season": round(d1, 2),
                                        "season_before": round(d2, 2)})
                    if np.isfinite(split) and abs(np.log(max(split, 1e-12) / naive)) >= np.log(SHARE_REASON):
                        reasons.append({"code": "share_of_group", "naive_total": round(naive, 2),
                                        "share_total": round(split, 2),
                                        "own_trend": round(float(levels.loc[uid, "own_trend"]), 3)})
                    if np.isnan(l2):
                        reasons.append({"code": "launch", "detail": "one season of history"})
                    share = censored.get(uid, 0.0) if censored is not None else 0.0
                    if share >= CENSORED_SHARE or (l1 > 0 and d1 / l1 >= CENSORED_LIFT):
                        reasons.append({"code": "stockout_censored", "share_of_days": round(share, 3),
                                        "last_season_demand": round(d1, 2)})
                    if not reasons:
                        held = float(np.clip(total, BAND[0] * l1, BAND[1] * l1))
                        reasons.append({"code": "held_to_band", "unheld_total": round(total, 2),
                                        "band": list(BAND)})
                        total = held
            rows.append({
                UNIQUE_ID: uid, GROUP: group, SEASON_START: part.start, SEASON_END: part.end,
                "days": (part.end - part.start).days + 1, "model_total": m, "last_season": l1,
                "season_before": l2, "last_season_demand": d1, "season_before_demand": d2,
                "trend": trend, "naive_total": naive, "own_trend": float(levels.loc[uid, "own_trend"]),
                "share_total": split, "weight": weight,
                "total": float(max(total, 0.0)),
                "ratio_to_last_season": float(total / l1) if l1 and l1 > 0 else np.nan,
                "past_seasons_scored": int(scored.get(uid, 0)), "reasons": reasons,
            })
    return pd.DataFrame(rows, columns=COLUMNS)


def _weight(own_model: float, own_naive: float, n_own: int, group_model: float, group_naive: float
            ) -> float:
    """E_naive² / (E_model² + E_naive²), squared errors pooled with the group's as pseudo-seasons."""
    def pooled(own: float, group: float) -> float:
        own_sq = own**2 * n_own if np.isfinite(own) and n_own else 0.0
        group_sq = group**2 * GROUP_PSEUDO_SEASONS if np.isfinite(group) else 0.0
        n = (n_own if np.isfinite(own) else 0) + (GROUP_PSEUDO_SEASONS if np.isfinite(group) else 0)
        return (own_sq + group_sq) / n if n else np.nan

    model_sq, naive_sq = pooled(own_model, group_model), pooled(own_naive, group_naive)
    if not (np.isfinite(model_sq) and np.isfinite(naive_sq)) or model_sq + naive_sq <= 0:
        return UNSCORED_WEIGHT
    return float(naive_sq / (model_sq + naive_sq))


def _past_season_errors(history: pd.DataFrame, ids: list[str], part: SeasonPart, refit: ForecastFn | None,
                        origin: pd.Timestamp, imputed: pd.DataFrame | None = None,
                        members: list[str] | None = None) -> tuple[pd.Series, pd.Series, pd.Series]:
    """RMS relative error of the model's and of the carried (last × trend split by shares) season
    totals per series of `ids`, at the same point of the past seasons (origins 52 and 104 weeks
    back), against that season's demand (stockout days re-estimated, as the carried total's
    seasons are). The group's demand, trend and shares are read over `members` (default `ids`)."""
    members = sorted(set(members or ids) | set(ids))
    empty = pd.Series(np.nan, index=ids)
    if refit is None or not part.past:
        return empty, empty, pd.Series(0, index=ids)
    model_sq: dict[str, list[float]] = {uid: [] for uid in ids}
    naive_sq: dict[str, list[float]] = {uid: [] for uid in ids}
    first_day = history[DS].min()
    spans = list(part.past)
    lead = part.start - origin  # how far before the season part the origin lies
    for k, span in enumerate(spans, start=1):
        # The same point of that past season: as far before its part as today is before this one
        # (a lunar season moves by weeks between years; a fixed one by a day).
        past_origin = span[0] - lead
        actual = decensored_sums(history, imputed, members, span)
        previous = [decensored_sums(history, imputed, members, s) for s in spans[k:k + 2]]
        if past_origin - first_day < pd.Timedelta(days=YEAR_DAYS // 2) or actual.isna().all():
            break
        last = previous[0] if previous else pd.Series(np.nan, index=members)
        trend = (carried_trend(history, members, part, past_origin, last, previous[1])
                 if len(previous) > 1 else 1.0)
        # The candidate as it would have been made then: last × trend split by the series' shares
        # read from the history up to that origin alone.
        levels = share_levels(history, imputed, members, past_origin, span[0] + (span[1] - span[0]) / 2)
        carried = share_split(last * trend, levels["level"]).fillna(last * trend)
        fitted = refit(ids, past_origin)
        fitted = fitted.assign(**{UNIQUE_ID: fitted[UNIQUE_ID].astype(str)}).rename(columns={MEAN: Y})
        model = window_sums(fitted, ids, span)
        for uid in ids:
            a, m, last_total = actual.get(uid, np.nan), model.get(uid, np.nan), carried.get(uid, np.nan)
            if np.isnan(a) or np.isnan(m):
                continue
            scale = max(a, 1.0)
            model_sq[uid].append(((m - a) / scale) ** 2)
            if np.isnan(last_total):
                # No season before that one to carry forward (the first season in the history):
                # the naive total's error is at least the Poisson noise of two seasons, 2 / a.
                naive_sq[uid].append(2.0 / scale)
            else:
                naive_sq[uid].append(((last_total - a) / scale) ** 2)
    count = pd.Series({uid: len(v) for uid, v in model_sq.items()})
    model_rms = pd.Series({uid: np.sqrt(np.mean(v)) if v else np.nan for uid, v in model_sq.items()})
    naive_rms = pd.Series({uid: np.sqrt(np.mean(v)) if v else np.nan for uid, v in naive_sq.items()})
    return model_rms, naive_rms, count


def _censored_share(imputed: pd.DataFrame, ids: list[str], span: tuple[pd.Timestamp, pd.Timestamp]
                    ) -> dict[str, float]:
    start, end = span
    frame = imputed[(pd.to_datetime(imputed[DS]) >= start) & (pd.to_datetime(imputed[DS]) <= end)]
    frame = frame[frame[UNIQUE_ID].astype(str).isin(ids)]
    if frame.empty:
        return {}
    share = frame.groupby(frame[UNIQUE_ID].astype(str))["imputed"].mean()
    return {str(k): float(v) for k, v in share.items()}


def apply_totals(forecasts: pd.DataFrame, totals: pd.DataFrame, value_columns: list[str]) -> pd.DataFrame:
    """Scale each series' means and quantiles inside its season part by total / model_total."""
    if totals.empty:
        return forecasts
    out = forecasts.copy()
    uid = out[UNIQUE_ID].astype(str)
    for row in totals.itertuples(index=False):
        inside = ((uid == getattr(row, UNIQUE_ID)) & (out[DS] >= row.season_start)
                  & (out[DS] <= row.season_end))
        if row.model_total > 0:
            factor = row.total / row.model_total
            out.loc[inside, value_columns] = out.loc[inside, value_columns].to_numpy() * factor
        elif row.total > 0 and inside.any():
            # The model saw no season at all: spread the total evenly over the part's days.
            spread = row.total / inside.sum()
            out.loc[inside, value_columns] = out.loc[inside, value_columns].to_numpy() + spread
    return out


def describe(row: dict[str, Any]) -> str:
    """One line in words for a season-total row (the stored numbers, rounded)."""
    parts = [f"season {pd.Timestamp(row[SEASON_START]).date()}..{pd.Timestamp(row[SEASON_END]).date()}: "
             f"{row['total']:.0f} units"]
    if row.get("last_season") is not None and np.isfinite(row["last_season"]):
        parts.append(f"last season {row['last_season']:.0f}")
    if row.get("season_before") is not None and np.isfinite(row["season_before"]):
        parts.append(f"the one before {row['season_before']:.0f}")
    demand = row.get("last_season_demand")
    recounted = demand is not None and np.isfinite(demand) and abs(demand - row["last_season"]) >= 0.5
    if recounted:
        parts.append(f"last season's demand with stockout days re-estimated {demand:.0f}")
    carried = "last season's demand" if recounted else "last season"
    naive = row.get("naive_total")
    split = row.get("share_total")
    if split is not None and np.isfinite(split):
        carry = (f" + {split:.0f} × {1 - row['weight']:.2f} (the category's last season × trend "
                 f"{row['trend']:.2f}, split by shares of two years; own drift "
                 f"{row.get('own_trend', 1.0):.2f}/year; {carried} × trend alone {naive:.0f})")
    elif naive is not None and np.isfinite(naive):
        carry = f" + {carried} × category trend {row['trend']:.2f} × {1 - row['weight']:.2f}"
    else:
        carry = ""
    parts.append(f"model {row['model_total']:.0f} × weight {row['weight']:.2f}" + carry)
    for reason in row.get("reasons") or []:
        parts.append(reason["code"].replace("_", " "))
    return "; ".join(parts)
