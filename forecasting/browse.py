"""Read side of stored history and forecast runs for one SKU, for charts and tables.

Returns plain frames: the daily history the engine saw (units sold, stockout flag) and a
stored run's daily mean with its P10-P90 band, plus the calendar events in the range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecasting.calendar import EVENT_NAMES, event_anchor_dates
from forecasting.columns import DS, EVENT
from forecasting.models import DailySales, ForecastRun, ForecastValue, Promotion
from kernel.catalog import Sku
from kernel.errors import NotFound


@dataclass(frozen=True)
class SkuSeries:
    """History (`ds`, `y`, `stockout`) and forecast (`ds`, `mean`, `lo`, `hi`) of one SKU.

    `lo`/`hi` are the run's lowest and highest stored quantiles at or inside 10 % / 90 %;
    `events` lists (`ds`, `event`) calendar events and promotions within the range.
    """

    sku: str
    history: pd.DataFrame
    forecast: pd.DataFrame
    events: pd.DataFrame
    run_id: int | None
    band: tuple[str, str]


def sku_series(session: Session, sku_code: str, *, since: date, until: date, run_id: int | None) -> SkuSeries:
    """The SKU's daily history from `since` and the run's forecast up to `until` (inclusive)."""
    sku = session.scalar(select(Sku).where(Sku.code == sku_code))
    if sku is None:
        raise NotFound(f"no SKU {sku_code!r}")
    rows = session.execute(
        select(DailySales.date, DailySales.units, DailySales.fraud_units, DailySales.stockout)
        .where(DailySales.sku_id == sku.id, DailySales.date >= since, DailySales.date <= until)
        .order_by(DailySales.date)
    ).all()
    history = pd.DataFrame(
        [(pd.Timestamp(d), max(int(u) - int(f or 0), 0), bool(s)) for d, u, f, s in rows],
        columns=["ds", "y", "stockout"],
    )
    forecast = pd.DataFrame(columns=["ds", "mean", "lo", "hi"])
    band = ("q10", "q90")
    if run_id is not None:
        run = session.get(ForecastRun, run_id)
        if run is None:
            raise NotFound(f"forecast run {run_id} does not exist")
        levels = sorted(float(q) for q in run.quantiles)
        low = max((q for q in levels if q <= 0.1 + 1e-9), default=levels[0])
        high = min((q for q in levels if q >= 0.9 - 1e-9), default=levels[-1])
        band = (f"q{round(low * 100)}", f"q{round(high * 100)}")
        values = session.execute(
            select(ForecastValue.date, ForecastValue.mean, ForecastValue.quantiles)
            .where(
                ForecastValue.run_id == run_id, ForecastValue.sku_id == sku.id, ForecastValue.date <= until
            )
            .order_by(ForecastValue.date)
        ).all()
        forecast = pd.DataFrame(
            [(pd.Timestamp(d), float(m), _q(q, low), _q(q, high)) for d, m, q in values],
            columns=["ds", "mean", "lo", "hi"],
        )
    # Member day falls every month: too frequent to mark on a two-year chart.
    names = [name for name in EVENT_NAMES if name != "member_day"]
    events = event_anchor_dates(since, until, names)
    in_range = (events[DS] >= pd.Timestamp(since)) & (events[DS] <= pd.Timestamp(until))
    events = events.loc[in_range, [DS, EVENT]].rename(columns={DS: "ds", EVENT: "event"})
    promos = session.execute(
        select(Promotion.start_date, Promotion.name).where(
            Promotion.start_date >= since,
            Promotion.start_date <= until,
            (Promotion.sku_id == sku.id)
            | (Promotion.category_id == sku.category_id)
            | (Promotion.sku_id.is_(None) & Promotion.category_id.is_(None)),
        )
    ).all()
    if promos:
        extra = pd.DataFrame([(pd.Timestamp(d), n) for d, n in promos], columns=["ds", "event"])
        events = pd.concat([events, extra], ignore_index=True)
    events["ds"] = pd.to_datetime(events["ds"])
    return SkuSeries(
        sku_code, history, forecast, events.sort_values("ds").reset_index(drop=True), run_id, band
    )


def _q(quantiles: dict[str, float], level: float) -> float:
    for key, value in quantiles.items():
        try:
            if abs(float(key.lstrip("q")) / (100 if key.startswith("q") else 1) - level) < 1e-9:
                return float(value)
        except ValueError:
            continue
    raise KeyError(level)
