"""Serial, process-pool and Dask execution give the same forecasts, chunk by chunk."""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting import EngineConfig, forecast_panel
from forecasting.execution import dask_runner, make_runner, process_runner

from .conftest import seasonal_series

NO_EVENTS = pd.DataFrame(columns=["event", "ds"])


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return pd.concat([seasonal_series(f"S{i}", days=400, level=5 + i, seed=i) for i in range(4)])


def _run(panel: pd.DataFrame, runner) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    config = EngineConfig(horizon=14, chunk_size=2, backtest_origins=2)
    seen: list[int] = []
    result = forecast_panel(panel, 14, "D", events=NO_EVENTS, config=config, runner=runner,
                            progress=seen.append)
    assert sum(seen) == 4 and len(seen) == 2
    return result.forecasts


def test_process_pool_matches_serial(panel: pd.DataFrame) -> None:
    serial = _run(panel, make_runner("serial"))
    pd.testing.assert_frame_equal(serial, _run(panel, process_runner(workers=2)))


def test_dask_local_cluster_matches_serial(panel: pd.DataFrame) -> None:
    serial = _run(panel, make_runner("serial"))
    pd.testing.assert_frame_equal(serial, _run(panel, dask_runner(n_workers=1)))


def test_unknown_executor_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown executor"):
        make_runner("threads")
