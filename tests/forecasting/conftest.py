"""Tiny synthetic panels shared by the forecasting tests (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

WEEKDAY_PATTERN = np.array([0.8, 0.8, 0.9, 1.0, 1.1, 1.3, 1.1])


def seasonal_series(uid: str, days: int = 1000, level: float = 40.0, seed: int = 0,
                    end: str = "2026-08-30", noise: bool = True, yearly: float = 0.4) -> pd.DataFrame:
    """Daily demand = level × yearly cosine × weekday pattern (Poisson noise when `noise`)."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range(end=end, periods=days, freq="D")
    truth = truth_curve(ds, level, yearly)
    y = rng.poisson(truth).astype(float) if noise else truth
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": y})


def truth_curve(ds: pd.DatetimeIndex, level: float = 40.0, yearly: float = 0.4) -> np.ndarray:
    season = 1 + yearly * np.cos(2 * np.pi * (ds.dayofyear.to_numpy() - 15) / 365.25)
    return level * season * WEEKDAY_PATTERN[ds.dayofweek.to_numpy()]


@pytest.fixture
def seasonal_panel() -> pd.DataFrame:
    return pd.concat([seasonal_series(f"S{i}", level=10 + 15 * i, seed=i) for i in range(3)])
