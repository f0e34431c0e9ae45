"""Contract: every registered forecaster fits a series and predicts h finite, non-negative values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.forecasters import REGISTRY, Forecaster, ModelContext, make_forecaster

SERIES = 20 + 10 * np.sin(np.arange(120) * 2 * np.pi / 12) + np.arange(120) * 0.05


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_forecaster_honours_the_protocol(name: str) -> None:
    context = ModelContext(season_length=12, start=pd.Timestamp("2020-01-05"), freq="W-SUN")
    model = make_forecaster(name, context)
    assert isinstance(model, Forecaster)
    prediction = model.fit(SERIES).predict(8, quantiles=(0.1, 0.5, 0.9))
    assert prediction.mean.shape == (8,)
    assert np.all(np.isfinite(prediction.mean))
    assert np.all(prediction.mean >= 0)
    low, mid, high = (prediction.quantiles[q] for q in (0.1, 0.5, 0.9))
    assert np.all(low <= mid) and np.all(mid <= high) and np.all(low >= 0)


def test_seasonal_naive_repeats_the_last_season() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    mean = make_forecaster("seasonal_naive", ModelContext(season_length=3)).fit(y).predict(4).mean
    assert mean.tolist() == [4.0, 5.0, 6.0, 4.0]


def test_window_average_is_the_mean_of_the_last_eight_periods() -> None:
    y = np.array([100.0] * 4 + [2.0] * 8)
    assert make_forecaster("window_average").fit(y).predict(2).mean.tolist() == [2.0, 2.0]


def test_window_average_against_a_curve_reaches_back_to_eight_periods_of_curve() -> None:
    # A winter good in summer: the last 8 weeks carry 0.16 of curve and one stray sale,
    # which read alone would put the level at 6× the truth; the window reaches back
    # over the last peak until it holds 8 periods' worth of curve.
    curve = np.array([3.0] * 4 + [0.02] * 8)
    y = 5.0 * curve
    y[-1] += 1.0
    future = np.array([[3.0], [3.0]])
    mean = make_forecaster("window_average").fit(y, curve[:, None]).predict(2, future).mean
    assert mean == pytest.approx([15.0 + 3.0 / (0.16 + 3 * 3.0)] * 2)
    flat = np.ones(12)
    share = make_forecaster("window_average").fit(flat * 4.0, flat[:, None]).predict(1, flat[:1, None])
    assert share.mean.tolist() == [4.0]  # a flat curve keeps the last eight periods


def test_a_series_with_gaps_is_refused_by_a_model() -> None:
    with pytest.raises(ValueError, match="missing"):
        make_forecaster("theta").fit(np.array([1.0, np.nan, 2.0]))


def test_unknown_model_names_the_registered_ones() -> None:
    with pytest.raises(ValueError, match="registered"):
        make_forecaster("nope")


def test_seasonal_naive_follows_a_season_clock_when_given_one() -> None:
    # A festival clock: positions 0, 1, 2, 0, 1 (a short "year" of 3 periods, then 2); ahead 2, 0, 1.
    y = np.array([1.0, 9.0, 3.0, 4.0, 8.0])
    clock = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    mean = make_forecaster("seasonal_naive", ModelContext(season_length=52, positions=clock)).fit(y)
    assert mean.predict(3).mean.tolist() == [3.0, 4.0, 8.0]
