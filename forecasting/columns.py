"""Column names of the long-format frames at the forecasting package's boundaries (one place)."""

from __future__ import annotations

UNIQUE_ID = "unique_id"
DS = "ds"
Y = "y"
MODEL = "model"
MEAN = "mean"
GROUP = "group"

# Cleansing inputs (daily sales as recorded) and outputs.
UNITS = "units"
RETURNED_UNITS = "returned_units"
FRAUD_UNITS = "fraud_units"
STOCKOUT = "stockout"
IMPUTED = "imputed"
CAPPED = "capped"

# Calendar frames.
EVENT = "event"
EVENT_DATE = "event_date"

# Lead-time windows read by the replenishment optimizer.
WINDOW_ID = "window_id"
WINDOW_START = "window_start"
WINDOW_END = "window_end"
PERIODS = "periods"
DIST = "dist"
LOC = "loc"
SCALE = "scale"

RESERVED = frozenset({UNIQUE_ID, DS, Y})


def quantile_column(level: float) -> str:
    """`q10` for 0.1, `q97_5` for 0.975: the column holding the quantile at `level`."""
    pct = round(level * 100, 6)
    text = f"{pct:g}".replace(".", "_")
    return f"q{text}"


# The quantile levels a forecast stores by default and the levels of the demand curve the
# replenishment optimizer builds per window (its problem file, version 1, holds quantiles at
# these levels): the one definition.
QUANTILE_LEVELS: tuple[float, ...] = (0.1, 0.5, 0.8, 0.9, 0.95, 0.99)
QUANTILE_COLUMNS: tuple[str, ...] = tuple(quantile_column(level) for level in QUANTILE_LEVELS)
