"""forecasting: history cleansing, calendar features, models, selection, backtests, quantiles, runs."""
