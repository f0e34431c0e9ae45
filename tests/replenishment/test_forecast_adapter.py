"""The one adapter to forecasting.total_demand answers the windows it can and leaves out the rest."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from forecasting import forecast_panel
from replenishment.services import DEMAND_COLUMNS, forecast_window_demand


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
    frame = forecast_window_demand(windows, run)
    assert list(frame.columns) == list(DEMAND_COLUMNS)
    assert frame[["unique_id", "window_id"]].values.tolist() == [["TEE", "protection"]]
    row = frame.iloc[0]
    assert 21 * 20 * 0.8 < row["mean"] < 21 * 20 * 1.2
    quantiles = row[["q10", "q50", "q80", "q90", "q95", "q99"]].to_numpy(dtype=float)
    assert np.all(np.diff(quantiles) >= 0)
