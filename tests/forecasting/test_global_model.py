"""The global LightGBM model: features without leakage, determinism, small data, selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.engine import EngineConfig, forecast_panel
from forecasting.global_model import (
    EVENT_INTENSITY,
    GLOBAL_MODEL,
    SEASON_INDEX,
    GlobalSettings,
    fit_predict_group,
    global_forecasts,
    lags_for,
    period_features,
)
from forecasting.panel import prepare_panel
from forecasting.profiles import Layout, learn_profiles

FREQ = "W-MON"
SMALL = GlobalSettings(n_estimators=40, min_rows=50)


def priced_panel(n_series: int = 8, weeks: int = 120, horizon: int = 13, seed: int = 3
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weekly units driven by price (elasticity -2.5) and display (×1.8) around each series' level."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2020-01-06", periods=weeks + horizon, freq=FREQ)
    rows = []
    for i in range(n_series):
        usual = 2.0 + 0.3 * i
        price = usual * np.where(rng.random(len(ds)) < 0.25, rng.uniform(0.6, 0.9, len(ds)), 1.0)
        display = (rng.random(len(ds)) < 0.15).astype(float)
        truth = (20 + 12 * i) * (price / usual) ** -2.5 * np.where(display > 0, 1.8, 1.0)
        rows.append(pd.DataFrame({"unique_id": f"P{i}", "ds": ds, "y": rng.poisson(truth).astype(float),
                                  "price": price, "display": display}))
    frame = pd.concat(rows, ignore_index=True)
    cut = ds[weeks - 1]
    return frame[frame["ds"] <= cut].reset_index(drop=True), frame[frame["ds"] > cut].drop(columns="y")


def _panel_and_profiles(history: pd.DataFrame, future: pd.DataFrame, cutoff: int | None = None):
    panel = prepare_panel(history, 13, FREQ, future)
    cutoff = panel.n_history if cutoff is None else cutoff
    return panel, cutoff, learn_profiles(panel, cutoff, FREQ, None)


def test_features_at_an_origin_read_no_target_after_it_and_the_plan_after_it() -> None:
    history, future = priced_panel()
    panel, cutoff, profiles = _panel_and_profiles(history, future, cutoff=90)
    rows = np.arange(len(panel.ids))
    layout = Layout.for_freq(FREQ)
    periods, features = period_features(panel, rows, cutoff, 13, layout, profiles["__panel__"], None)
    assert periods.shape == (len(rows), 90)
    np.testing.assert_array_equal(periods, panel.values[:, :90])
    # Everything after the origin changed: the targets before it and the features are the same.
    changed = panel.values.copy()
    changed[:, 90:] = 1e6
    panel_changed = type(panel)(panel.ids, panel.groups, panel.grid, panel.n_history, changed,
                                panel.regressors)
    profile = profiles["__panel__"]
    periods2, features2 = period_features(panel_changed, rows, cutoff, 13, layout, profile, None)
    np.testing.assert_array_equal(periods, periods2)
    for name in features:
        np.testing.assert_array_equal(features[name], features2[name])
    # Future price and display are the plan's values for the 13 periods after the origin.
    np.testing.assert_array_equal(features["display"][:, 90:103], panel.regressors["display"][:, 90:103])
    assert features["price"].shape == (len(rows), 103)
    assert EVENT_INTENSITY not in features  # no events on this panel
    assert np.allclose(features[SEASON_INDEX][0], profiles["__panel__"].season_index[
        features["season_position"][0].astype(int)])


def test_forecast_from_an_origin_does_not_change_when_later_targets_do() -> None:
    history, future = priced_panel()
    panel, cutoff, profiles = _panel_and_profiles(history, future, cutoff=90)
    rows = np.arange(len(panel.ids))
    layout = Layout.for_freq(FREQ)
    first, fit = fit_predict_group(panel, rows, cutoff, 13, layout, profiles["__panel__"], None, False, SMALL)
    assert fit.skipped is None and fit.rows > 0 and fit.fit_s > 0
    changed = panel.values.copy()
    changed[:, 90:] = changed[:, 90:] * 50 + 7
    later = type(panel)(panel.ids, panel.groups, panel.grid, panel.n_history, changed, panel.regressors)
    again, _ = fit_predict_group(later, rows, cutoff, 13, layout, profiles["__panel__"], None, False, SMALL)
    np.testing.assert_array_equal(first, again)
    assert first.shape == (len(rows), 13) and np.all(np.isfinite(first)) and np.all(first >= 0)


def test_a_cheaper_price_in_the_plan_forecasts_more() -> None:
    history, future = priced_panel()
    panel, cutoff, profiles = _panel_and_profiles(history, future)
    rows = np.arange(len(panel.ids))
    layout = Layout.for_freq(FREQ)
    base, _ = fit_predict_group(panel, rows, cutoff, 13, layout, profiles["__panel__"], None, False, SMALL)
    cheap = {**panel.regressors, "price": panel.regressors["price"].copy()}
    cheap["price"][:, cutoff:cutoff + 13] = np.log(0.65)  # 35 % below the usual price
    discounted = type(panel)(panel.ids, panel.groups, panel.grid, panel.n_history, panel.values, cheap)
    profile = profiles["__panel__"]
    more, _ = fit_predict_group(discounted, rows, cutoff, 13, layout, profile, None, False, SMALL)
    assert more.sum() > 1.3 * base.sum()


def test_same_input_gives_the_same_forecast() -> None:
    history, future = priced_panel()
    config = EngineConfig(horizon=13, freq=FREQ, events=(), global_model=SMALL)
    one = forecast_panel(history, 13, FREQ, future=future, config=config)
    two = forecast_panel(history, 13, FREQ, future=future, config=config)
    pd.testing.assert_frame_equal(one.forecasts, two.forecasts)
    assert one.series["model"].tolist() == two.series["model"].tolist()


def test_too_few_series_skips_the_model_with_a_reason() -> None:
    history, future = priced_panel(n_series=3)
    config = EngineConfig(horizon=13, freq=FREQ, events=(), global_model=SMALL)
    result = forecast_panel(history, 13, FREQ, future=future, config=config)
    fits = result.params[GLOBAL_MODEL]
    assert fits and all(f["skipped"] == "3 series (fewer than 5)" for f in fits)
    assert not any(GLOBAL_MODEL in scores for scores in result.series["scores"])
    assert np.all(np.isfinite(result.forecasts["mean"]))


def test_too_few_rows_skips_the_model_with_a_reason() -> None:
    history, future = priced_panel(weeks=16)
    panel = prepare_panel(history, 13, FREQ, future)
    profiles = learn_profiles(panel, panel.n_history, FREQ, None)
    out = global_forecasts(panel, [panel.n_history], [13], [profiles], FREQ, {}, GlobalSettings())
    (fit,) = out.fits
    assert fit.skipped is not None and "training rows" in fit.skipped
    assert np.all(np.isnan(out.periods[panel.n_history]))
    # The engine still forecasts every series, without the global model.
    result = forecast_panel(history, 13, FREQ, future=future,
                            config=EngineConfig(horizon=13, freq=FREQ, events=()))
    assert len(result.series) == 8 and np.all(np.isfinite(result.forecasts["mean"]))


def test_lags_stay_within_what_the_history_feeds() -> None:
    assert lags_for(Layout.for_freq(FREQ), 40) == [1, 2, 3, 4, 8, 13]
    assert lags_for(Layout.for_freq("MS"), 30) == [1, 2, 3, 6, 12]
    assert lags_for(Layout.for_freq("QS"), 3) == [1]


def test_the_global_model_competes_in_selection_and_wins_where_price_drives_demand() -> None:
    history, future = priced_panel()
    config = EngineConfig(horizon=13, freq=FREQ, events=(), global_model=SMALL)
    result = forecast_panel(history, 13, FREQ, future=future, config=config)
    # Scored on the same backtest origins as every statistical candidate.
    for scores in result.series["scores"]:
        assert GLOBAL_MODEL in scores and {"ets", "theta", "seasonal_naive"} <= set(scores)
    assert result.series["model"].str.contains(GLOBAL_MODEL).any()
    fits = result.params[GLOBAL_MODEL]
    assert len(fits) == 4 and all(f["skipped"] is None for f in fits)  # 3 backtest origins + final
    without = forecast_panel(history, 13, FREQ, future=future,
                             config=EngineConfig(horizon=13, freq=FREQ, events=(), global_model=None))
    assert not without.series["model"].str.contains(GLOBAL_MODEL).any()
    assert GLOBAL_MODEL not in without.params


def test_daily_panels_get_week_forecasts_spread_over_days() -> None:
    from tests.forecasting.conftest import seasonal_series

    history = pd.concat([seasonal_series(f"D{i}", days=500, level=10 + 5 * i, seed=i) for i in range(6)])
    config = EngineConfig(horizon=28, freq="D", events=(), global_model=SMALL)
    result = forecast_panel(history, 28, "D", config=config)
    assert all(GLOBAL_MODEL in s for s in result.series["scores"])
    assert np.all(np.isfinite(result.forecasts["mean"])) and (result.forecasts["mean"] >= 0).all()


@pytest.mark.parametrize("freq", ["MS", "QS"])
def test_coarse_panels_use_differences_and_forecast(freq: str) -> None:
    rng = np.random.default_rng(5)
    periods = 60 if freq == "MS" else 40
    ds = pd.date_range("2010-01-01", periods=periods, freq=freq)
    history = pd.concat([pd.DataFrame({"unique_id": f"M{i}", "ds": ds,
                                       "y": (100 + 10 * i) * (1 + 0.01 * np.arange(periods))
                                       + rng.normal(0, 3, periods)}) for i in range(6)])
    config = EngineConfig(horizon=8, freq=freq, global_model=SMALL)
    result = forecast_panel(history, 8, freq, config=config)
    assert all(GLOBAL_MODEL in s for s in result.series["scores"])
    assert np.all(np.isfinite(result.forecasts["mean"]))


def test_series_beyond_the_training_cap_are_still_forecast() -> None:
    history, future = priced_panel()
    panel, cutoff, profiles = _panel_and_profiles(history, future)
    rows = np.arange(len(panel.ids))
    capped = GlobalSettings(n_estimators=40, min_rows=50, max_train_series=5)
    out, fit = fit_predict_group(panel, rows, cutoff, 13, Layout.for_freq(FREQ), profiles["__panel__"],
                                 None, False, capped)
    assert fit.train_series == 5 and fit.series == 8
    assert np.all(np.isfinite(out)) and out.shape == (8, 13)


def test_the_forecasting_setting_switches_the_global_model_off() -> None:
    from forecasting.services import engine_config
    from forecasting.settings import ForecastingSettings, ForecastSettings

    assert engine_config(ForecastSettings()).global_model == GlobalSettings()
    off = ForecastSettings(forecasting=ForecastingSettings(global_model=False))
    assert engine_config(off).global_model is None


def test_a_festival_anchored_group_is_skipped_with_its_reason() -> None:
    history, future = priced_panel()
    groups = pd.Series({f"P{i}": "mooncakes" if i < 6 else "other" for i in range(8)})
    panel = prepare_panel(history, 13, FREQ, future, groups)
    anchors = {"mooncakes": "mid_autumn"}
    profiles = learn_profiles(panel, panel.n_history, FREQ, None, anchors)
    out = global_forecasts(panel, [panel.n_history], [13], [profiles], FREQ, anchors, SMALL)
    fits = {f.group: f for f in out.fits}
    assert fits["mooncakes"].skipped == "season anchored on mid_autumn"
    assert fits["other"].skipped == "2 series (fewer than 5)"
    assert np.all(np.isnan(out.periods[panel.n_history]))
