"""One SKU's history and stored forecast side by side, by week (for `restock forecast show` and its chart).

Read-only: the sales history as recorded (units, returned, fraud units removed as
the forecast removes them) and one stored run's daily mean and quantiles,
summed per week (Monday to Sunday). Quantiles of a week are not the sum of daily
quantiles; the weekly band shown is the run's window total (`total_demand`) per week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecasting.models import DailySales, ForecastRun, ForecastSeries
from kernel.catalog import Sku
from kernel.errors import NotFound

WEEK_COLUMNS = ("week", "units", "mean", "q10", "q50", "q90")


@dataclass(frozen=True)
class SkuForecastView:
    """A SKU's weekly history (`history`: week, units) and its forecast from run `run_id`
    (`forecast`: week, mean, q10, q50, q90 in units per week, from the run's window totals)."""

    sku: str
    name: str
    run_id: int
    as_of: date
    scope: str
    model: str
    demand_class: str
    fallback_reason: str | None
    history: pd.DataFrame
    forecast: pd.DataFrame
    # The run's season total for a seasonal SKU (forecasting.seasons: total, its parts and reasons).
    season_total: dict[str, Any] | None = None


def sku_forecast_view(
    session: Session, sku_code: str, run_id: int | None = None, history_weeks: int = 52
) -> SkuForecastView:
    """The SKU's last `history_weeks` full weeks of sales and the forecast of run `run_id`
    (default: the latest succeeded run that forecast this SKU, complete or partial)."""
    from forecasting.services import load_run
    from forecasting.totals import total_demand

    sku = session.scalars(select(Sku).where(Sku.code == sku_code)).first()
    if sku is None:
        raise NotFound(f"SKU {sku_code!r} does not exist")
    query = (
        select(ForecastRun)
        .join(ForecastSeries, ForecastSeries.run_id == ForecastRun.id)
        .where(ForecastSeries.sku_id == sku.id, ForecastRun.status == "succeeded")
    )
    if run_id is not None:
        query = query.where(ForecastRun.id == run_id)
    run = session.scalars(query.order_by(ForecastRun.as_of.desc(), ForecastRun.id.desc())).first()
    if run is None:
        where = f"run {run_id}" if run_id is not None else "any succeeded forecast run"
        raise NotFound(f"SKU {sku_code} is not in {where}: run `restock forecast`")
    series = session.scalars(
        select(ForecastSeries).where(ForecastSeries.run_id == run.id, ForecastSeries.sku_id == sku.id)
    ).one()

    last_sunday = run.as_of - timedelta(days=(run.as_of.weekday() + 1) % 7)
    first_monday = last_sunday - timedelta(days=7 * history_weeks - 1)
    rows = session.execute(
        select(DailySales.date, DailySales.units, DailySales.fraud_units)
        .where(DailySales.sku_id == sku.id, DailySales.date >= first_monday, DailySales.date <= last_sunday)
        .order_by(DailySales.date)
    ).all()
    sales = pd.DataFrame(rows, columns=["date", "units", "fraud_units"])
    weeks = pd.date_range(first_monday, last_sunday, freq="W-MON")
    history = pd.DataFrame({"week": weeks.date, "units": 0})
    if not sales.empty:
        sales["week"] = [d - timedelta(days=d.weekday()) for d in sales["date"]]
        sold = (sales["units"] - sales["fraud_units"]).groupby(sales["week"]).sum()
        history["units"] = history["week"].map(sold).fillna(0).astype(int)

    result = load_run(session, int(run.id))
    days = result.forecasts[result.forecasts["unique_id"] == sku_code]["ds"]
    start, end = days.min().date(), days.max().date()
    monday = start + timedelta(days=(7 - start.weekday()) % 7)
    windows = []
    while monday + timedelta(days=6) <= end:
        windows.append((sku_code, monday.isoformat(), monday, monday + timedelta(days=6)))
        monday += timedelta(days=7)
    forecast = pd.DataFrame(columns=list(WEEK_COLUMNS))
    if windows:
        frame = pd.DataFrame(windows, columns=["unique_id", "window_id", "window_start", "window_end"])
        totals = total_demand(result, frame, quantiles=(0.1, 0.5, 0.9))
        forecast = pd.DataFrame(
            {
                "week": totals["window_start"].dt.date,
                "mean": totals["mean"].round(1),
                "q10": totals["q10"].round(1),
                "q50": totals["q50"].round(1),
                "q90": totals["q90"].round(1),
            }
        )
    return SkuForecastView(
        sku=sku.code,
        name=sku.name,
        run_id=int(run.id),
        as_of=run.as_of,
        scope=run.scope,
        model=series.model,
        demand_class=series.demand_class,
        fallback_reason=series.fallback_reason,
        history=history,
        forecast=forecast,
        season_total=series.season_total,
    )


def plot_sku_forecast(view: SkuForecastView, path: str) -> None:
    """Write a PNG chart: weekly sales history, the forecast mean and its 10–90 % band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    try:
        ax.step(
            pd.to_datetime(view.history["week"]),
            view.history["units"],
            where="post",
            label="sales (units/week)",
        )
        if not view.forecast.empty:
            weeks = pd.to_datetime(view.forecast["week"])
            ax.fill_between(
                weeks,
                view.forecast["q10"],
                view.forecast["q90"],
                step="post",
                alpha=0.25,
                label="10–90 % band",
            )
            ax.step(weeks, view.forecast["mean"], where="post", label=f"forecast mean ({view.model})")
        ax.axvline(pd.Timestamp(view.as_of), color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"{view.sku} {view.name} — run {view.run_id} ({view.scope}) as of {view.as_of}")
        ax.set_ylabel("units per week")
        ax.legend(loc="upper left")
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
