"""The one hand-off from forecasting to replenishment: demand quantiles per SKU window, typed.

Replenishment asks `complete_forecast(session, as_of)` for the latest COMPLETE
stored run (one that covered every active SKU) with an as-of date on or before
the proposal week, and then `window_demand(windows, levels)` for the demand over
each SKU's window. A partial run (`restock forecast --sku ...`) is kept for
inspection but never reaches a proposal. Anything satisfying `DemandSource`
(a literal frame in tests, a replay's own forecasts) can stand in for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forecasting.columns import MEAN, UNIQUE_ID, WINDOW_ID, quantile_column
from forecasting.models import DailySales, ForecastRun
from kernel.errors import NotFound

if TYPE_CHECKING:  # the engine (statsforecast) loads only when a stored run is read
    from forecasting.engine import ForecastResult

RUN_SCOPES = ("complete", "partial")
WINDOW_COLUMNS = (UNIQUE_ID, WINDOW_ID, "start", "end")


class DemandSource(Protocol):
    """Demand quantiles over windows, from one forecast (run id and as-of date when stored)."""

    @property
    def run_id(self) -> int | None: ...

    @property
    def as_of(self) -> date | None: ...

    def window_demand(self, windows: pd.DataFrame, levels: Sequence[float]) -> pd.DataFrame:
        """`windows`: unique_id, window_id, start, end (inclusive business dates). Returns
        unique_id, window_id, mean and one qNN column per level (units over the window) for
        the windows this source can answer; the others are left out of the answer."""
        ...


def demand_columns(levels: Sequence[float]) -> list[str]:
    """Columns of a `window_demand` answer for these quantile levels."""
    return [UNIQUE_ID, WINDOW_ID, MEAN, *(quantile_column(q) for q in levels)]


@dataclass(frozen=True)
class StoredForecast:
    """A stored, complete forecast run, answering windows through `forecasting.total_demand`."""

    run_id: int
    as_of: date
    result: ForecastResult

    def window_demand(self, windows: pd.DataFrame, levels: Sequence[float]) -> pd.DataFrame:
        return answerable_window_demand(self.result, windows, levels)


@dataclass(frozen=True)
class FrameDemand:
    """Demand given directly: a frame, or a function of the windows (tests, what-if runs)."""

    demand: pd.DataFrame | Callable[[pd.DataFrame], pd.DataFrame]
    run_id: int | None = None
    as_of: date | None = None

    def window_demand(self, windows: pd.DataFrame, levels: Sequence[float]) -> pd.DataFrame:
        frame = self.demand if isinstance(self.demand, pd.DataFrame) else self.demand(windows)
        return frame[[c for c in demand_columns(levels) if c in frame.columns]]


def answerable_window_demand(
    result: ForecastResult, windows: pd.DataFrame, levels: Sequence[float]
) -> pd.DataFrame:
    """`total_demand` for the windows inside the run's horizon for a SKU it forecast; the rest
    (SKU not in the run, window past the horizon) are left out of the answer."""
    from forecasting.totals import total_demand

    columns = demand_columns(levels)
    if windows.empty:
        return pd.DataFrame(columns=columns)
    horizon = result.forecasts.groupby(UNIQUE_ID)["ds"].agg(["min", "max"])
    asked = windows.rename(columns={"start": "window_start", "end": "window_end"})
    span = horizon.reindex(asked[UNIQUE_ID].astype(str))
    answerable = (
        span["min"].notna().to_numpy()
        & (pd.to_datetime(asked["window_start"]).to_numpy() >= span["min"].to_numpy())
        & (pd.to_datetime(asked["window_end"]).to_numpy() <= span["max"].to_numpy())
    )
    if not answerable.any():
        return pd.DataFrame(columns=columns)
    return total_demand(result, asked[answerable], quantiles=tuple(levels))[columns]


def complete_forecast(session: Session, as_of: date) -> StoredForecast:
    """The latest complete succeeded run with an as-of date on or before `as_of`.

    Raises `NotFound` saying what to run when there is none (a partial run is named:
    it was made with `--sku` and does not cover every active SKU).
    """
    from forecasting.services import load_run

    run = session.scalars(
        select(ForecastRun)
        .where(ForecastRun.status == "succeeded", ForecastRun.as_of <= as_of, ForecastRun.scope == "complete")
        .order_by(ForecastRun.as_of.desc(), ForecastRun.id.desc())
        .limit(1)
    ).first()
    if run is None:
        partial = session.scalars(
            select(ForecastRun.id)
            .where(
                ForecastRun.status == "succeeded", ForecastRun.as_of <= as_of, ForecastRun.scope == "partial"
            )
            .order_by(ForecastRun.id.desc())
        ).all()
        seen = f" (run(s) {', '.join(map(str, partial))} are partial: made with --sku)" if partial else ""
        raise NotFound(
            f"no complete forecast run with as-of on or before {as_of}{seen}: run `restock forecast` "
            "without --sku first"
        )
    return StoredForecast(run_id=int(run.id), as_of=run.as_of, result=load_run(session, int(run.id)))


def history_end(session: Session, on_or_before: date | None) -> date | None:
    """The last business date with sales (on or before the given date), None without sales."""
    query = select(func.max(DailySales.date))
    if on_or_before is not None:
        query = query.where(DailySales.date <= on_or_before)
    return session.scalar(query)
