"""Pre-sale deposits (预售定金) as a leading signal of an event's demand (618, Double 11).

Pure: frames in, frames out. From past events restock learns the ratio of an event day's final
units to the deposits paid by the same number of days before it, per category and event, in logs
and shrunk toward the event's pooled ratio:

    log r_c = (n_c · mean_c + K · mean_pooled) / (n_c + K),   K = `SHRINKAGE_PSEUDO_COUNT`.

How far a SKU's outcome strays from (D + ½)·r − ½ depends on its counts: a SKU with one
deposit says little, one with fifty says a lot. The spread of the log estimate is modelled as

    sd² = a · (1/(D + ½) + 1/(Ŷ + ½)) + b²,

count noise scaled by a dispersion `a`, plus `b²`, how far a whole event strays from the others.
Both are fitted (non-negative least squares) to the squared errors of past pairs, each past event
predicted from the other past events (leave one event out), so the spread is that of a
prediction, not of a fit; with one past event, from the residuals around its own mean.

Once deposits of an upcoming event are open, the estimate is combined with the model's own
event-day forecast by inverse variance in logs. The model's spread (from its q10–q90) is taken as
at least its distance from the deposit estimate: an interval that does not reach the other
estimate is not trusted as it stands. The combined spread adds the two estimates' disagreement,
w·(1−w)·Δ², as the variance of a mixture of the two, and the quantiles come from that log-normal.
Only deposits paid on or before the forecast's as-of date are read (`deposits_up_to`), and only
events that ended before it teach ratios.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy.optimize import nnls
from scipy.stats import norm

from forecasting.columns import DS, GROUP, MEAN, UNIQUE_ID, quantile_column

PRESALE_EVENTS = {"e618": (6, 18), "double_11": (11, 11)}
# Deposits open at most this many days before the event (the platforms open them 2–4 weeks ahead).
PRESALE_MAX_DAYS = 40
SHRINKAGE_PSEUDO_COUNT = 10.0
MIN_PAIRS_FOR_OWN_SPREAD = 8
# Smallest spread assumed for either estimate (log scale): neither is ever treated as exact.
MIN_LOG_SD = 0.10
# Fewer past pairs than this: the spread is counting noise alone (dispersion 1, no event shift).
MIN_PAIRS_FOR_SPREAD_MODEL = 6
DEPOSIT_COLUMNS = [UNIQUE_ID, "event", "event_date", "deposit_date", "units"]


@dataclass(frozen=True)
class PresaleRatio:
    """A learnt ratio for one (event, category) at a number of days before the event, with the
    spread model of its estimates: `dispersion` (a) and `event_shift` (b², a variance)."""

    event: str
    group: str
    days_before: int
    log_ratio: float
    sd: float
    pairs: int
    pooled_log_ratio: float
    dispersion: float = 1.0
    event_shift: float = 0.0

    @property
    def ratio(self) -> float:
        return float(np.exp(self.log_ratio))

    def log_sd(self, deposits: float, estimate: float) -> float:
        """Spread (log scale) of the estimate `estimate` made from `deposits` units of deposits."""
        noise = 1.0 / (deposits + 0.5) + 1.0 / (max(estimate, 0.0) + 0.5)
        return max(float(np.sqrt(self.dispersion * noise + self.event_shift)), MIN_LOG_SD)


def event_of(day: date) -> tuple[str, date] | None:
    """The pre-sale event whose deposit window contains `day` or whose day it is (None otherwise)."""
    for name, (month, dom) in PRESALE_EVENTS.items():
        for year in (day.year, day.year + 1):
            anchor = date(year, month, dom)
            if 0 <= (anchor - day).days <= PRESALE_MAX_DAYS:
                return name, anchor
    return None


def deposits_up_to(deposits: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Deposit lines paid on or before `as_of` (the only ones a forecast as of that date may see)."""
    return deposits[pd.to_datetime(deposits["deposit_date"]) <= pd.Timestamp(as_of)]


def cumulative_deposits(deposits: pd.DataFrame, event_date: date, days_before: int) -> pd.Series:
    """Units of deposits per SKU for the event on `event_date` paid at least `days_before` days ahead."""
    cutoff = pd.Timestamp(event_date) - pd.Timedelta(days=days_before)
    part = deposits[(pd.to_datetime(deposits["event_date"]) == pd.Timestamp(event_date))
                    & (pd.to_datetime(deposits["deposit_date"]) <= cutoff)]
    return part.groupby(UNIQUE_ID)["units"].sum()


def learn_ratios(deposits: pd.DataFrame, finals: pd.DataFrame, groups: pd.Series, as_of: date,
                 days_before: int) -> dict[tuple[str, str], PresaleRatio]:
    """Ratios final units ÷ deposits at `days_before`, per (event, category), from events before `as_of`.

    `deposits`: DEPOSIT_COLUMNS (every pre-sale line, any status); `finals`: unique_id, ds, y (the
    event day's demand, fraud removed); `groups`: unique_id → category. An event teaches only when
    its day is before `as_of`, and only deposits paid by `as_of` are read.
    """
    frame = past_pairs(deposits, finals, groups, as_of, days_before)
    out: dict[tuple[str, str], PresaleRatio] = {}
    if frame.empty:
        return out
    for event in frame["event"].unique():
        own_event = frame[frame["event"] == event]
        pooled = float(own_event["log_ratio"].mean())
        pooled_sd = float(own_event["log_ratio"].std(ddof=1)) if len(own_event) > 1 else 0.5
        dispersion, event_shift = spread_model(own_event)
        for group, part in own_event.groupby(GROUP):
            n = len(part)
            mean = shrunk_mean(float(part["log_ratio"].mean()), n, pooled)
            sd = float(part["log_ratio"].std(ddof=1)) if n >= MIN_PAIRS_FOR_OWN_SPREAD else pooled_sd
            out[(str(event), str(group))] = PresaleRatio(str(event), str(group), days_before, mean,
                                                         max(sd, MIN_LOG_SD), n, pooled, dispersion,
                                                         event_shift)
        out[(str(event), "*")] = PresaleRatio(str(event), "*", days_before, pooled,
                                              max(pooled_sd, MIN_LOG_SD), len(own_event), pooled,
                                              dispersion, event_shift)
    return out


def past_pairs(deposits: pd.DataFrame, finals: pd.DataFrame, groups: pd.Series, as_of: date,
               days_before: int) -> pd.DataFrame:
    """One row per (past event day, SKU with deposits by `days_before`): event, event_date, group,
    deposits, final, log_ratio = log((final + ½)/(deposits + ½))."""
    seen = deposits_up_to(deposits, as_of)
    final = finals.set_index([UNIQUE_ID, DS])["y"]
    rows = []
    for (event, event_date), _ in seen.groupby(["event", "event_date"]):
        if pd.Timestamp(event_date) >= pd.Timestamp(as_of):
            continue
        paid = cumulative_deposits(seen, pd.Timestamp(event_date).date(), days_before)
        for uid, units in paid.items():
            if units <= 0:
                continue
            actual = final.get((uid, pd.Timestamp(event_date)))
            if actual is None or not np.isfinite(actual):
                continue
            rows.append((event, pd.Timestamp(event_date), groups.get(uid, "uncategorised"), float(units),
                         float(actual), float(np.log((actual + 0.5) / (units + 0.5)))))
    return pd.DataFrame(rows, columns=["event", "event_date", GROUP, "deposits", "final", "log_ratio"])


def shrunk_mean(own_mean: float, pairs: int, pooled: float) -> float:
    """A category's mean log ratio shrunk toward the event's pooled mean by `SHRINKAGE_PSEUDO_COUNT`."""
    return (pairs * own_mean + SHRINKAGE_PSEUDO_COUNT * pooled) / (pairs + SHRINKAGE_PSEUDO_COUNT)


def spread_model(pairs: pd.DataFrame) -> tuple[float, float]:
    """(a, b²) of sd² = a·(1/(D+½) + 1/(Y+½)) + b², fitted by non-negative least squares to the
    squared errors of `pairs` (one event name, any years): each past event day is predicted from
    the others (its category's shrunk mean), or, with one event day, from its own means.
    Fewer than `MIN_PAIRS_FOR_SPREAD_MODEL` pairs: (1, 0), counting noise alone."""
    if len(pairs) < MIN_PAIRS_FOR_SPREAD_MODEL:
        return 1.0, 0.0
    days = pairs["event_date"]
    errors = np.empty(len(pairs))
    for day in days.unique():
        inside = (days == day).to_numpy()
        teach = pairs[~inside] if (~inside).any() else pairs[inside]
        pooled = float(teach["log_ratio"].mean())
        by_group = teach.groupby(GROUP)["log_ratio"].agg(["mean", "size"])
        centre = [shrunk_mean(float(by_group.at[g, "mean"]), int(by_group.at[g, "size"]), pooled)
                  if g in by_group.index else pooled for g in pairs.loc[inside, GROUP]]
        errors[inside] = pairs.loc[inside, "log_ratio"].to_numpy() - np.asarray(centre)
    noise = 1.0 / (pairs["deposits"].to_numpy() + 0.5) + 1.0 / (pairs["final"].to_numpy() + 0.5)
    design = np.column_stack([noise, np.ones(len(pairs))])
    squared = errors**2
    # A squared error's spread grows with its expectation: weighted least squares, reweighted by the
    # fitted variance (three rounds of a gamma-style fit), so the many noisy small-count pairs do
    # not drown the shift between events.
    weights = np.ones(len(pairs))
    coefficients = np.array([1.0, 0.0])
    for _ in range(3):
        root = np.sqrt(weights)
        coefficients, _ = nnls(design * root[:, None], squared * root)
        fitted = np.maximum(design @ coefficients, MIN_LOG_SD**2)
        weights = 1.0 / fitted**2
    return float(coefficients[0]), float(coefficients[1])


def apply_presale_signal(forecasts: pd.DataFrame, deposits: pd.DataFrame, finals: pd.DataFrame,
                         groups: pd.Series, as_of: date, quantiles: tuple[float, ...]
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecasts with each open pre-sale event's day adjusted by its deposits so far; and the adjustments.

    `forecasts`: unique_id, ds, mean and the quantile columns. Returns (new forecasts, one row per
    adjusted SKU: unique_id, event, event_date, days_before, deposits, ratio, log_sd (the deposit
    estimate's spread), pairs, deposit_estimate, model_mean, mean, weight_deposits, model_log_sd (as
    trusted), combined_log_sd). SKUs without deposits are left as they were.
    """
    columns = ["unique_id", "event", "event_date", "days_before", "deposits", "ratio", "log_sd", "pairs",
               "deposit_estimate", "model_mean", "mean", "weight_deposits", "model_log_sd", "combined_log_sd"]
    out = forecasts.copy()
    seen = deposits_up_to(deposits, as_of)
    upcoming = seen[pd.to_datetime(seen["event_date"]) > pd.Timestamp(as_of)]
    records = []
    for (event, event_date), _ in upcoming.groupby(["event", "event_date"]):
        anchor = pd.Timestamp(event_date).date()
        days_before = (anchor - as_of).days
        ratios = learn_ratios(deposits, finals, groups, as_of, days_before)
        if not ratios:
            continue
        paid = cumulative_deposits(seen, anchor, days_before)
        for uid, units in paid.items():
            group = str(groups.get(uid, "uncategorised"))
            ratio = ratios.get((str(event), group)) or ratios.get((str(event), "*"))
            if ratio is None or units <= 0:
                continue
            rows = (out[UNIQUE_ID] == uid) & (out[DS] == pd.Timestamp(anchor))
            if not rows.any():
                continue
            index = out.index[rows][0]
            model_mean = float(out.at[index, MEAN])
            deposit_log = np.log(units + 0.5) + ratio.log_ratio
            model_log = np.log(max(model_mean, 0.0) + 0.5)
            deposit_sd = ratio.log_sd(units, float(np.exp(deposit_log) - 0.5))
            # the model's interval is trusted only as far as it reaches the deposit estimate
            model_sd = max(_model_log_sd(out.loc[index], quantiles), abs(deposit_log - model_log))
            weight = (1 / deposit_sd**2) / (1 / deposit_sd**2 + 1 / model_sd**2)
            centre = weight * deposit_log + (1 - weight) * model_log
            sd = float(np.sqrt(1 / (1 / deposit_sd**2 + 1 / model_sd**2)
                               + weight * (1 - weight) * (deposit_log - model_log) ** 2))
            mean = float(np.exp(centre + sd**2 / 2) - 0.5)
            out.at[index, MEAN] = max(mean, 0.0)
            for level in quantiles:
                value = float(np.exp(centre + norm.ppf(level) * sd) - 0.5)
                out.at[index, quantile_column(level)] = max(value, 0.0)
            records.append((uid, str(event), anchor, days_before, int(units), round(ratio.ratio, 4),
                            round(deposit_sd, 4), ratio.pairs, round(float(np.exp(deposit_log) - 0.5), 3),
                            round(model_mean, 3), round(max(mean, 0.0), 3), round(float(weight), 4),
                            round(model_sd, 4), round(sd, 4)))
    return out, pd.DataFrame(records, columns=columns)


def _model_log_sd(row: pd.Series, quantiles: tuple[float, ...]) -> float:
    """The model's spread in logs, from its q10–q90 (or widest) interval of the event day."""
    levels = sorted(quantiles)
    low = min(levels, key=lambda q: abs(q - 0.1))
    high = min(levels, key=lambda q: abs(q - 0.9))
    if high <= low:
        return 0.5
    spread = np.log(float(row[quantile_column(high)]) + 0.5) - np.log(float(row[quantile_column(low)]) + 0.5)
    return max(float(spread / (norm.ppf(high) - norm.ppf(low))), MIN_LOG_SD)


def presale_window(anchor: date) -> tuple[date, date]:
    """First and last business dates deposits for the event on `anchor` may be paid."""
    return anchor - timedelta(days=PRESALE_MAX_DAYS), anchor - timedelta(days=1)
