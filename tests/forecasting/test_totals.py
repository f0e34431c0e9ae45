"""Lead-time totals come from aggregated backtest errors, not from summed daily quantiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import forecast_panel, total_demand, total_quantile

from .conftest import seasonal_series

NO_EVENTS = pd.DataFrame(columns=["event", "ds"])


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    ds = pd.date_range(end="2026-08-30", periods=700)
    independent = pd.DataFrame({"unique_id": "iid", "ds": ds, "y": rng.poisson(20, 700).astype(float)})
    return forecast_panel(pd.concat([independent, seasonal_series("seasonal", days=700)]), 60, "D",
                          events=NO_EVENTS)


def test_total_of_independent_days_is_wider_than_a_day_and_narrower_than_summed_daily_q90(run) -> None:
    windows = pd.DataFrame({"unique_id": ["iid", "iid"], "window_id": ["day", "lead"],
                            "window_start": pd.to_datetime(["2026-08-31", "2026-08-31"]),
                            "window_end": pd.to_datetime(["2026-08-31", "2026-09-27"])})
    totals = total_demand(run, windows).set_index("window_id")
    day, lead = totals.loc["day"], totals.loc["lead"]
    assert lead["periods"] == 28
    assert lead["q90"] - lead["q10"] > day["q90"] - day["q10"]
    daily = run.forecasts[(run.forecasts["unique_id"] == "iid")
                          & (run.forecasts["ds"] <= pd.Timestamp("2026-09-27"))]
    assert lead["q90"] < daily["q90"].sum()
    assert lead["mean"] == pytest.approx(daily["mean"].sum())
    # Poisson(20) over 28 days: sd ≈ √560 ≈ 23.7, so the q90 sits about 30 above the mean.
    assert 15 < lead["q90"] - lead["mean"] < 60


def test_totals_are_monotone_and_any_service_level_can_be_read(run) -> None:
    windows = pd.DataFrame({"unique_id": ["seasonal"], "start": ["2026-09-01"], "end": ["2026-10-15"]})
    totals = total_demand(run, windows, quantiles=[0.5, 0.9, 0.97, 0.975])
    row = totals.iloc[0]
    assert row["window_id"] == "2026-09-01..2026-10-15"
    assert row["q50"] <= row["q90"] <= row["q97"] <= row["q97_5"]
    assert total_quantile(totals, 0.97).iloc[0] == pytest.approx(row["q97"])
    assert row["dist"] == "normal" and row["scale"] > 0


def test_window_outside_the_horizon_or_unknown_series_is_refused(run) -> None:
    late = pd.DataFrame({"unique_id": ["iid"], "window_start": ["2026-10-01"], "window_end": ["2026-12-01"]})
    with pytest.raises(ValueError, match="series 'iid'.*outside the forecast horizon"):
        total_demand(run, late)
    unknown = pd.DataFrame({"unique_id": ["nope"], "window_start": ["2026-09-01"],
                            "window_end": ["2026-09-02"]})
    with pytest.raises(ValueError, match="series 'nope'"):
        total_demand(run, unknown)
