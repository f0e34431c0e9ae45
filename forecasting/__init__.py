"""forecasting: history cleansing, calendar features, models, selection, backtests, quantiles, runs.

Public API: `forecast` (a frame), `forecast_panel` (a `ForecastResult` with the
per-series selection), `total_demand` (window totals for the optimizer),
`latest_run` (the newest stored run as of a date, as a `ForecastResult`),
`QUANTILE_LEVELS` / `QUANTILE_COLUMNS` (the stored and optimised quantile levels).

The names are imported on first use (PEP 562 module `__getattr__`): importing
`forecasting.models` (the ORM tables) must not pull statsforecast and the engine
into every CLI start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forecasting.columns import QUANTILE_COLUMNS, QUANTILE_LEVELS
    from forecasting.engine import EngineConfig, ForecastResult, forecast, forecast_panel
    from forecasting.forecasters import REGISTRY, Forecaster, make_forecaster
    from forecasting.handoff import DemandSource, FrameDemand, StoredForecast, complete_forecast, history_end
    from forecasting.models import ForecastRun
    from forecasting.services import latest_run
    from forecasting.totals import total_demand, total_quantile

# public name → the submodule defining it
_LAZY = {
    "DemandSource": "forecasting.handoff",
    "FrameDemand": "forecasting.handoff",
    "StoredForecast": "forecasting.handoff",
    "complete_forecast": "forecasting.handoff",
    "history_end": "forecasting.handoff",
    "EngineConfig": "forecasting.engine",
    "ForecastResult": "forecasting.engine",
    "forecast": "forecasting.engine",
    "forecast_panel": "forecasting.engine",
    "REGISTRY": "forecasting.forecasters",
    "Forecaster": "forecasting.forecasters",
    "make_forecaster": "forecasting.forecasters",
    "total_demand": "forecasting.totals",
    "total_quantile": "forecasting.totals",
    "QUANTILE_LEVELS": "forecasting.columns",
    "QUANTILE_COLUMNS": "forecasting.columns",
    "latest_run": "forecasting.services",
    "ForecastRun": "forecasting.models",
}

__all__ = [
    "DemandSource",
    "FrameDemand",
    "StoredForecast",
    "complete_forecast",
    "history_end",
    "QUANTILE_COLUMNS",
    "QUANTILE_LEVELS",
    "REGISTRY",
    "EngineConfig",
    "ForecastResult",
    "ForecastRun",
    "Forecaster",
    "forecast",
    "forecast_panel",
    "latest_run",
    "make_forecaster",
    "total_demand",
    "total_quantile",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'forecasting' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
