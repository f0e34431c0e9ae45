"""The one forecast hand-off: window totals of the latest COMPLETE run; partial runs never reach it."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from forecasting import forecast_panel
from forecasting.handoff import answerable_window_demand, complete_forecast, demand_columns
from forecasting.models import ForecastRun
from kernel.errors import NotFound
from kernel.orm import unit_of_work
from replenishment.demand import QUANTILE_LEVELS


def test_adapter_returns_window_quantiles_and_leaves_out_what_the_run_cannot_answer() -> None:
    rng = np.random.default_rng(5)
    ds = pd.date_range(end="2026-08-30", periods=400)
    history = pd.DataFrame({"unique_id": "TEE", "ds": ds, "y": rng.poisson(20, 400).astype(float)})
    run = forecast_panel(history, 60, "D", events=pd.DataFrame(columns=["event", "ds"]))
    windows = pd.DataFrame(
        [
            ("TEE", "protection", date(2026, 8, 31), date(2026, 9, 20)),
            ("TEE", "season", date(2026, 11, 15), date(2027, 2, 28)),  # past the 60-day horizon
            ("MUG", "protection", date(2026, 8, 31), date(2026, 9, 13)),  # not forecast
        ],
        columns=["unique_id", "window_id", "start", "end"],
    )
    frame = answerable_window_demand(run, windows, QUANTILE_LEVELS)
    assert list(frame.columns) == demand_columns(QUANTILE_LEVELS)
    assert frame[["unique_id", "window_id"]].values.tolist() == [["TEE", "protection"]]
    row = frame.iloc[0]
    assert 21 * 20 * 0.8 < row["mean"] < 21 * 20 * 1.2
    quantiles = row[["q10", "q50", "q80", "q90", "q95", "q99"]].to_numpy(dtype=float)
    assert np.all(np.diff(quantiles) >= 0)


def _run(session, as_of: date, scope: str, status: str = "succeeded") -> int:  # type: ignore[no-untyped-def]
    run = ForecastRun(
        as_of=as_of, started_at=pd.Timestamp("2026-08-31T02:00:00+08:00").to_pydatetime(), status=status,
        horizon=182, quantiles=list(QUANTILE_LEVELS), parameters={}, library_versions={}, effects=[],
        duration_s=1.0, scope=scope,
    )
    session.add(run)
    session.flush()
    return int(run.id)


def test_a_proposal_reads_the_latest_complete_run_as_of_its_week_never_a_partial_one(engine: Engine) -> None:
    with unit_of_work(engine) as session:
        old_complete = _run(session, date(2026, 8, 23), "complete")
        _run(session, date(2026, 8, 30), "partial")  # newer, but made with --sku
        _run(session, date(2026, 8, 30), "complete", status="failed")
        _run(session, date(2026, 9, 6), "complete")  # after the week
    with unit_of_work(engine) as session:
        chosen = complete_forecast(session, date(2026, 8, 31))
    assert (chosen.run_id, chosen.as_of) == (old_complete, date(2026, 8, 23))


def test_with_only_a_partial_run_the_proposal_is_refused_with_what_to_run(engine: Engine) -> None:
    with unit_of_work(engine) as session:
        partial = _run(session, date(2026, 8, 30), "partial")
    with unit_of_work(engine) as session, pytest.raises(NotFound) as error:
        complete_forecast(session, date(2026, 8, 31))
    assert f"run(s) {partial} are partial" in str(error.value)
    assert "run `restock forecast` without --sku" in str(error.value)
