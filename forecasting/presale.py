"""Pre-sale deposits (预售定金) as a leading signal of an event's demand (618, Double 11).

Pure: frames in, frames out. From past events restock learns the ratio of an event day's final
units to the deposits paid by the same number of days before it, per category and event, in logs
and shrunk toward the event's pooled ratio:

    log r_c = (n_c · mean_c + K · mean_pooled) / (n_c + K),   K = `SHRINKAGE_PSEUDO_COUNT`,

with the spread `sd` of the log ratios (category's when it has `MIN_PAIRS_FOR_OWN_SPREAD`
pairs, else pooled). Once deposits of an upcoming event are open, a SKU with deposits D gets the
estimate (D + ½)·r − ½ (log-normal with that `sd`), combined with the model's own event-day
forecast by inverse variance in logs; the quantiles come from the combined log-normal, so the
ratio's spread widens them. Only deposits paid on or before the forecast's as-of date are read
(`deposits_up_to`), and only events that ended before it teach ratios.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy.stats import norm

from forecasting.columns import DS, GROUP, MEAN, UNIQUE_ID, quantile_column

PRESALE_EVENTS = {"e618": (6, 18), "double_11": (11, 11)}
# Deposits open at most this many days before the event (the platforms open them 2–4 weeks ahead).
PRESALE_MAX_DAYS = 40
SHRINKAGE_PSEUDO_COUNT = 10.0
MIN_PAIRS_FOR_OWN_SPREAD = 8
# Smallest spread assumed for either estimate (log scale): neither is ever treated as exact.
MIN_LOG_SD = 0.10
DEPOSIT_COLUMNS = [UNIQUE_ID, "event", "event_date", "deposit_date", "units"]


@dataclass(frozen=True)
class PresaleRatio:
    """A learnt ratio for one (event, category) at a number of days before the event."""

    event: str
    group: str
    days_before: int
    log_ratio: float
    sd: float
    pairs: int
    pooled_log_ratio: float

    @property
    def ratio(self) -> float:
        return float(np.exp(self.log_ratio))


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
            rows.append((event, groups.get(uid, "uncategorised"),
                         float(np.log((actual + 0.5) / (units + 0.5)))))
    frame = pd.DataFrame(rows, columns=["event", GROUP, "log_ratio"])
    out: dict[tuple[str, str], PresaleRatio] = {}
    if frame.empty:
        return out
    for event in frame["event"].unique():
        own_event = frame[frame["event"] == event]
        pooled = float(own_event["log_ratio"].mean())
        pooled_sd = float(own_event["log_ratio"].std(ddof=1)) if len(own_event) > 1 else 0.5
        for group, part in own_event.groupby(GROUP):
            n = len(part)
            mean = (n * float(part["log_ratio"].mean()) + SHRINKAGE_PSEUDO_COUNT * pooled) / (
                n + SHRINKAGE_PSEUDO_COUNT)
            sd = float(part["log_ratio"].std(ddof=1)) if n >= MIN_PAIRS_FOR_OWN_SPREAD else pooled_sd
            out[(str(event), str(group))] = PresaleRatio(str(event), str(group), days_before, mean,
                                                         max(sd, MIN_LOG_SD), n, pooled)
        out[(str(event), "*")] = PresaleRatio(str(event), "*", days_before, pooled,
                                              max(pooled_sd, MIN_LOG_SD), len(own_event), pooled)
    return out


def apply_presale_signal(forecasts: pd.DataFrame, deposits: pd.DataFrame, finals: pd.DataFrame,
                         groups: pd.Series, as_of: date, quantiles: tuple[float, ...]
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecasts with each open pre-sale event's day adjusted by its deposits so far; and the adjustments.

    `forecasts`: unique_id, ds, mean and the quantile columns. Returns (new forecasts, one row per
    adjusted SKU: unique_id, event, event_date, days_before, deposits, ratio, log_sd, pairs,
    deposit_estimate, model_mean, mean, weight_deposits). SKUs without deposits are left as they were.
    """
    columns = ["unique_id", "event", "event_date", "days_before", "deposits", "ratio", "log_sd", "pairs",
               "deposit_estimate", "model_mean", "mean", "weight_deposits"]
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
            model_sd = _model_log_sd(out.loc[index], quantiles)
            deposit_log = np.log(units + 0.5) + ratio.log_ratio
            model_log = np.log(max(model_mean, 0.0) + 0.5)
            weight = (1 / ratio.sd**2) / (1 / ratio.sd**2 + 1 / model_sd**2)
            centre = weight * deposit_log + (1 - weight) * model_log
            sd = float(np.sqrt(1 / (1 / ratio.sd**2 + 1 / model_sd**2)))
            mean = float(np.exp(centre + sd**2 / 2) - 0.5)
            out.at[index, MEAN] = max(mean, 0.0)
            for level in quantiles:
                value = float(np.exp(centre + norm.ppf(level) * sd) - 0.5)
                out.at[index, quantile_column(level)] = max(value, 0.0)
            records.append((uid, str(event), anchor, days_before, int(units), round(ratio.ratio, 4),
                            round(ratio.sd, 4), ratio.pairs, round(float(np.exp(deposit_log) - 0.5), 3),
                            round(model_mean, 3), round(max(mean, 0.0), 3), round(float(weight), 4)))
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
