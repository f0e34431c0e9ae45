"""forecasting: history cleansing, calendar features, models, selection, backtests, quantiles, runs.

Public API: `forecast` (a frame), `forecast_panel` (a `ForecastResult` with the
per-series selection), `total_demand` (window totals for the optimizer).
"""

from forecasting.engine import EngineConfig, ForecastResult, forecast, forecast_panel
from forecasting.forecasters import REGISTRY, Forecaster, make_forecaster
from forecasting.totals import total_demand, total_quantile

__all__ = [
    "REGISTRY",
    "EngineConfig",
    "ForecastResult",
    "Forecaster",
    "forecast",
    "forecast_panel",
    "make_forecaster",
    "total_demand",
    "total_quantile",
]
