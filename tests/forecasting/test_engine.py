"""The engine forecasts any panel, recovers known patterns, selects by backtest and falls back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import EngineConfig, forecast, forecast_panel
from forecasting.engine import demand_class
from forecasting.forecasters import REGISTRY, WindowAverage, registered

from .conftest import seasonal_series, truth_curve

QUANTILE_COLUMNS = ["q10", "q50", "q80", "q90", "q95", "q99"]
NO_EVENTS = pd.DataFrame(columns=["event", "ds"])


def _only(model: str, horizon: int = 91) -> EngineConfig:
    models = (model,)
    return EngineConfig(horizon=horizon, smooth_models=models, intermittent_models=models,
                        short_models=models, prophet_max_series=1 if model == "prophet" else 0)


@pytest.mark.parametrize("model", sorted(set(REGISTRY) - {"prophet"}))
def test_each_model_recovers_a_known_weekly_and_yearly_pattern(model: str) -> None:
    history = seasonal_series("A", days=1000, noise=False)
    result = forecast_panel(history, 91, "D", events=NO_EVENTS, config=_only(model))
    truth = truth_curve(pd.DatetimeIndex(result.forecasts["ds"]))
    mean = result.forecasts["mean"].to_numpy()
    assert result.series["model"].iloc[0] == model
    assert np.mean(np.abs(mean - truth)) / truth.mean() < 0.08
    weekday_profile = pd.Series(mean).groupby(result.forecasts["ds"].dt.dayofweek).mean()
    assert weekday_profile.idxmax() == 5  # Saturday, as in the pattern


def test_prophet_recovers_the_pattern_where_it_is_allowed() -> None:
    history = seasonal_series("A", days=800, noise=False)
    result = forecast_panel(history, 28, "D", events=NO_EVENTS,
                            config=EngineConfig(horizon=28, smooth_models=("prophet",),
                                                prophet_max_series=1, backtest_origins=1))
    truth = truth_curve(pd.DatetimeIndex(result.forecasts["ds"]))
    assert result.series["model"].iloc[0] == "prophet"
    assert np.mean(np.abs(result.forecasts["mean"].to_numpy() - truth)) / truth.mean() < 0.1


def test_forecast_returns_one_row_per_series_and_day_with_the_documented_columns(seasonal_panel) -> None:
    out = forecast(seasonal_panel, 14, "D")
    assert list(out.columns) == ["unique_id", "ds", "model", "mean", *QUANTILE_COLUMNS]
    assert len(out) == 3 * 14
    assert out["ds"].min() == pd.Timestamp("2026-08-31")


def test_quantiles_are_monotone_non_negative_and_cover_held_out_demand() -> None:
    panel = pd.concat([seasonal_series(f"S{i}", days=1091, level=8 + 4 * i, seed=10 + i)
                       for i in range(4)])
    cutoff = pd.Timestamp("2026-08-30") - pd.Timedelta(days=91)
    train, test = panel[panel["ds"] <= cutoff], panel[panel["ds"] > cutoff]
    result = forecast_panel(train, 91, "D", events=NO_EVENTS)
    frame = result.forecasts
    values = frame[QUANTILE_COLUMNS].to_numpy()
    assert np.all(np.diff(values, axis=1) >= -1e-9)
    assert np.all(values >= 0)
    scored = frame.merge(test, on=["unique_id", "ds"])
    coverage = (scored["y"] <= scored["q90"]).mean()
    assert 0.82 <= coverage <= 0.97
    stored = pd.DataFrame(list(result.series["coverage"]))
    assert stored["q90"].between(0.8, 0.98).all()


def test_same_input_gives_the_same_output(seasonal_panel) -> None:
    first = forecast(seasonal_panel, 30, "D")
    second = forecast(seasonal_panel.sample(frac=1.0, random_state=3), 30, "D")
    pd.testing.assert_frame_equal(first, second)


class _Broken(WindowAverage):
    name = "broken"
    route = "period"

    def _mean(self, h, X_future):  # type: ignore[no-untyped-def]
        raise RuntimeError("solver exploded")


class _Negative(WindowAverage):
    name = "negative"
    route = "period"

    def _mean(self, h, X_future):  # type: ignore[no-untyped-def]
        return np.full(h, -1.0)


def test_a_failing_model_falls_back_to_the_next_and_the_reason_is_stored() -> None:
    with registered("broken", _Broken), registered("negative", _Negative):
        history = seasonal_series("A", days=600)
        config = EngineConfig(horizon=28, smooth_models=("broken", "negative", "seasonal_naive"))
        result = forecast_panel(history, 28, "D", events=NO_EVENTS, config=config)
    assert "broken" not in REGISTRY and "negative" not in REGISTRY
    row = result.series.iloc[0]
    assert row["model"] == "seasonal_naive"
    assert "broken failed in backtest" in row["fallback_reason"]
    assert "solver exploded" in row["fallback_reason"]
    assert "negative values" in row["fallback_reason"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5, 6, 5, 7, 6, 5, 6, 5] * 10, "smooth"),
        ([1, 30, 2, 25, 1, 40, 3, 20] * 10, "erratic"),
        ([0, 0, 5, 0, 0, 5, 0, 4] * 10, "intermittent"),
        ([0, 0, 1, 0, 0, 30, 0, 2] * 10, "lumpy"),
        ([0, 0, 0, 0] * 20, "zero"),
        ([3, 4, 5], "short"),
    ],
)
def test_syntetos_boylan_classes(values: list[int], expected: str) -> None:
    assert demand_class(np.array(values, dtype=float), season_periods=40) == expected


def test_intermittent_series_get_croston_family_candidates() -> None:
    rng = np.random.default_rng(4)
    ds = pd.date_range(end="2026-08-30", periods=700)
    y = np.where(rng.random(700) < 0.1, rng.integers(1, 4, 700), 0).astype(float)
    result = forecast_panel(pd.DataFrame({"unique_id": "P", "ds": ds, "y": y}), 28, "D", events=NO_EVENTS)
    row = result.series.iloc[0]
    assert row["demand_class"] == "intermittent"
    assert {"sba", "tsb", "seasonal_naive"} <= set(row["scores"])
    assert "theta" not in row["scores"]


def test_weekly_and_monthly_panels_work() -> None:
    weeks = pd.date_range(end="2026-08-30", periods=160, freq="W-SUN")
    season = 1 + 0.3 * np.sin(2 * np.pi * np.arange(160) / 52)
    weekly = pd.DataFrame({"unique_id": "W", "ds": weeks, "y": 100 * season})
    out = forecast(weekly, 13, "W-SUN")
    assert len(out) == 13 and (out["ds"].dt.dayofweek == 6).all()
    assert np.allclose(out["mean"], 100 * (1 + 0.3 * np.sin(2 * np.pi * np.arange(160, 173) / 52)), rtol=0.1)
    months = pd.date_range(end="2026-08-01", periods=48, freq="MS")
    monthly = pd.DataFrame({"unique_id": "M", "ds": months,
                            "y": 50 + 20 * (months.month.isin([11, 12]))})
    out = forecast(monthly, 6, "MS")
    assert list(out["ds"].dt.month) == [9, 10, 11, 12, 1, 2]
    assert out["mean"].iloc[2] > out["mean"].iloc[0] + 10


def test_gaps_all_zero_single_point_and_short_series_are_forecast() -> None:
    gappy = seasonal_series("gappy", days=500)
    gappy = gappy.drop(gappy.index[100:160])
    zero = pd.DataFrame({"unique_id": "zero", "ds": pd.date_range(end="2026-08-30", periods=300), "y": 0.0})
    single = pd.DataFrame({"unique_id": "single", "ds": [pd.Timestamp("2026-08-30")], "y": [4.0]})
    short = seasonal_series("short", days=40)
    result = forecast_panel(pd.concat([gappy, zero, single, short]), 28, "D", events=NO_EVENTS)
    series = result.series.set_index("unique_id")
    assert series.loc["zero", "model"] == "zero" and "no demand" in series.loc["zero", "fallback_reason"]
    assert series.loc["single", "demand_class"] == "short"
    assert "too short to backtest" in series.loc["single", "fallback_reason"]
    assert series.loc["short", "demand_class"] == "short"
    assert series.loc["gappy", "demand_class"] == "smooth"
    forecasts = result.forecasts.set_index("unique_id")
    assert (forecasts.loc["zero", "mean"] == 0).all()
    assert forecasts.loc["single", "mean"].mean() == pytest.approx(4.0, rel=0.5)
    assert forecasts.loc["gappy", "mean"].mean() > 20


def test_a_new_series_gets_its_group_curve_times_a_share() -> None:
    panel = pd.concat([seasonal_series(f"S{i}", days=500, level=20, seed=i) for i in range(3)])
    groups = pd.Series({"S0": "g", "S1": "g", "S2": "g"})
    new = pd.DataFrame({"unique_id": ["N1", "N2"], "group": ["g", "g"], "share": [1.0, 0.5]})
    result = forecast_panel(panel, 28, "D", events=NO_EVENTS, groups=groups, new_series=new)
    means = result.forecasts.groupby("unique_id")["mean"].mean()
    assert means["N1"] == pytest.approx(means[["S0", "S1", "S2"]].median(), rel=0.25)
    assert means["N2"] == pytest.approx(means["N1"] / 2, rel=1e-6)
    assert result.series.set_index("unique_id").loc["N1", "demand_class"] == "new"


def test_promotion_regressor_lifts_the_forecast_on_promotion_days() -> None:
    rng = np.random.default_rng(2)
    frames, futures = [], []
    for i in range(6):
        ds = pd.date_range(end="2026-08-30", periods=600)
        promo = ((ds.day >= 5) & (ds.day <= 7)).astype(float)
        y = rng.poisson(10 * (1 + 1.5 * promo)).astype(float)
        frames.append(pd.DataFrame({"unique_id": f"S{i}", "ds": ds, "y": y, "promo": promo}))
        fds = pd.date_range("2026-08-31", periods=28)
        futures.append(pd.DataFrame({"unique_id": f"S{i}", "ds": fds,
                                     "promo": ((fds.day >= 5) & (fds.day <= 7)).astype(float)}))
    out = forecast(pd.concat(frames), 28, "D", future=pd.concat(futures), events=NO_EVENTS)
    on_promo = out["ds"].dt.day.between(5, 7)
    assert out.loc[on_promo, "mean"].mean() > 1.8 * out.loc[~on_promo, "mean"].mean()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda h: pd.concat([h, h.iloc[[3]]]), "series 'A': column 'ds' has duplicate date"),
        (lambda h: h.assign(y=h["y"].where(h.index != 5, -1.0)), "series 'A': column 'y' is negative"),
        (lambda h: h.assign(y=h["y"].astype(object).where(h.index != 5, "many")),
         "series 'A': column 'y' is not numeric"),
        (lambda h: h.drop(columns="y"), "no column 'y'"),
    ],
)
def test_bad_history_is_refused_naming_series_and_column(mutate, message: str) -> None:
    history = seasonal_series("A", days=60)
    with pytest.raises(ValueError, match=message):
        forecast(mutate(history), 7, "D")


def test_a_regressor_missing_in_future_is_refused() -> None:
    history = seasonal_series("A", days=60).assign(promo=0.0)
    with pytest.raises(ValueError, match="future"):
        forecast(history, 7, "D")
    future = pd.DataFrame({"unique_id": "A", "ds": pd.date_range("2026-08-31", periods=7)})
    with pytest.raises(ValueError, match="regressor column 'promo' is missing in future"):
        forecast(history, 7, "D", future=future)
    future = future.assign(promo=0.0).iloc[:5]
    with pytest.raises(ValueError, match="series 'A': regressor column 'promo' has no future value"):
        forecast(history, 7, "D", future=future)


def test_dates_off_the_weekly_grid_are_refused() -> None:
    history = pd.DataFrame({"unique_id": "A", "ds": pd.date_range("2026-01-05", periods=20, freq="W-MON"),
                            "y": 1.0})
    with pytest.raises(ValueError, match="not on the W-SUN grid"):
        forecast(history, 4, "W-SUN")


def test_quantiles_widen_beyond_the_backtest_horizon_only_when_errors_grew_there() -> None:
    rng = np.random.default_rng(8)
    ds = pd.date_range(end="2026-08-30", periods=900)
    steady = pd.DataFrame({"unique_id": "steady", "ds": ds, "y": rng.poisson(30, 900).astype(float)})
    level = 30 * np.exp(np.cumsum(rng.normal(0, 0.03, 900)))
    drifting = pd.DataFrame({"unique_id": "drifting", "ds": ds, "y": rng.poisson(level).astype(float)})
    result = forecast_panel(pd.concat([steady, drifting]), 182, "D", events=NO_EVENTS)
    width = ((result.forecasts["q90"] - result.forecasts["q10"]) / result.forecasts["mean"]).groupby(
        result.forecasts["unique_id"])
    early = width.apply(lambda w: w.iloc[:60].mean())
    late = width.apply(lambda w: w.iloc[-60:].mean())
    assert late["steady"] / early["steady"] < 1.15
    assert late["drifting"] / early["drifting"] > 1.15


def test_a_series_whose_last_periods_are_missing_is_forecast_from_where_its_data_ends() -> None:
    months = pd.date_range(end="2026-08-01", periods=40, freq="MS")
    steady = pd.DataFrame({"unique_id": "steady", "ds": months, "y": 100.0})
    stopped = steady.assign(unique_id="stopped").iloc[:-2]
    result = forecast_panel(pd.concat([steady, stopped]), 4, "MS", events=NO_EVENTS)
    row = result.series.set_index("unique_id").loc["stopped"]
    assert row["model"] != "history_mean" and row["fallback_reason"] is None
    stopped_forecast = result.forecasts[result.forecasts["unique_id"] == "stopped"]
    assert list(stopped_forecast["ds"].dt.month) == [9, 10, 11, 12]
    assert np.allclose(stopped_forecast["mean"], 100.0, rtol=0.05)


def _winter_rate(dates: pd.DatetimeIndex, peak: float) -> np.ndarray:
    """A down-jacket-like daily rate: a smooth winter bump (mid-Nov to end of Feb), ~0 in summer."""
    # Days from 15 Nov, wrapping over the year end; the season lasts 106 days.
    since = (dates - pd.to_datetime(dates.year.astype(str) + "-11-15")).days.to_numpy() % 365
    bump = np.where(since < 106, np.sin(np.pi * (since + 0.5) / 106), 0.0)
    return 0.02 + peak * bump


def test_a_strongly_seasonal_intermittent_series_is_forecast_near_its_peak_total() -> None:
    # Near-zero summers end the history, so the backtest origins see no peak and a level read
    # from the off-season would carry into the winter: the whole-season total is what a
    # pre-build buys, so it must land within ±15 % of the known expected demand.
    rng = np.random.default_rng(11)
    dates = pd.date_range("2023-08-31", "2026-08-30", freq="D")
    peaks = [1.5, 2.5, 4.0, 6.0]
    history = pd.concat([
        pd.DataFrame({"unique_id": f"DJK-{k}", "ds": dates,
                      "y": rng.poisson(_winter_rate(dates, peak)).astype(float)})
        for k, peak in enumerate(peaks)
    ])
    result = forecast_panel(history, 182, "D", events=NO_EVENTS,
                            groups=pd.Series("down_jackets", index=[f"DJK-{k}" for k in range(len(peaks))]))
    assert set(result.series["demand_class"]) <= {"intermittent", "lumpy"}
    frame = result.forecasts
    winter = frame[(frame["ds"] >= "2026-11-15") & (frame["ds"] <= "2027-02-28")]
    season = pd.date_range("2026-11-15", "2027-02-28", freq="D")
    expected = sum(_winter_rate(season, peak).sum() for peak in peaks)
    assert winter["mean"].sum() == pytest.approx(expected, rel=0.15)
    summer_rate = frame.loc[frame["ds"] < "2026-10-15", "mean"].sum() / len(peaks) / 45
    assert summer_rate < 0.2  # the off-season stays near zero: the level is not smeared flat


class _Doubler(WindowAverage):
    """A model declared only by its class: twice the window average, on raw periods."""

    name = "doubler"
    route = "period_raw"

    def _mean(self, h, X_future):  # type: ignore[no-untyped-def]
        return np.full(h, 2.0 * float(self._y[-8:].mean()))


def test_a_model_registered_in_a_test_runs_in_the_engine_and_the_registry_is_restored() -> None:
    before = dict(REGISTRY)
    with pytest.raises(ValueError, match="unknown model 'doubler'"):
        EngineConfig(horizon=14, smooth_models=("doubler",))
    history = seasonal_series("A", days=400, noise=False)
    with registered("doubler", _Doubler):
        config = EngineConfig(horizon=14, smooth_models=("doubler",), combine_top=1)
        result = forecast_panel(history, 14, "D", events=NO_EVENTS, config=config)
    assert before == REGISTRY
    row = result.series.iloc[0]
    assert row["model"] == "doubler"
    assert "doubler" in row["scores"]
    weekly = history.set_index("ds")["y"].resample("W-SUN", label="right").sum()
    # Its own route: the last 8 whole event-free weeks, doubled, spread over 7 days by weekday.
    last_weeks = weekly[weekly.index <= history["ds"].max()].iloc[-8:].mean()
    assert result.forecasts["mean"].iloc[:7].sum() == pytest.approx(2 * last_weeks, rel=0.02)


def test_a_model_without_a_route_is_refused_at_registration() -> None:
    class NoRoute:
        name = "no_route"

    from forecasting.forecasters import register

    with pytest.raises(ValueError, match="must declare a route"):
        register("no_route", NoRoute)  # type: ignore[arg-type]
    assert "no_route" not in REGISTRY


def test_category_profile_is_its_own_model_reading_the_group_curve() -> None:
    from forecasting.forecasters import CategoryProfile, route_of

    assert REGISTRY["category_profile"] is CategoryProfile
    assert CategoryProfile.name == "category_profile"
    assert route_of("category_profile") == ("period_share", "group")
    assert route_of("window_average") == ("period_share", "own")


def test_quarterly_panels_are_forecast_with_a_four_quarter_season() -> None:
    ds = pd.date_range("2001-01-01", periods=40, freq="QS")
    pattern = np.tile([10.0, 20.0, 40.0, 30.0], 10)
    history = pd.DataFrame({"unique_id": "Q", "ds": ds, "y": pattern})
    out = forecast(history, 4, "QS", events=NO_EVENTS)
    assert out["ds"].tolist() == list(pd.date_range("2011-01-01", periods=4, freq="QS"))
    assert out["mean"].to_numpy() == pytest.approx([10.0, 20.0, 40.0, 30.0], rel=0.05)


def test_series_ending_early_are_forecast_from_their_own_end_when_asked() -> None:
    ds = pd.date_range("2001-01-01", periods=60, freq="MS")
    pattern = np.tile([10.0, 12.0, 14.0, 30.0, 12.0, 10.0, 9.0, 8.0, 11.0, 13.0, 20.0, 25.0], 5)
    long = pd.DataFrame({"unique_id": "long", "ds": ds, "y": pattern})
    short = pd.DataFrame({"unique_id": "short", "ds": ds[:48], "y": pattern[:48] * 2})
    history = pd.concat([short, long])
    by_panel = forecast_panel(history, 6, "MS", events=NO_EVENTS)
    by_own = forecast_panel(history, 6, "MS", events=NO_EVENTS,
                            config=EngineConfig(horizon=6, freq="MS", from_own_end=True))
    panel_short = by_panel.forecasts[by_panel.forecasts["unique_id"] == "short"]
    own_short = by_own.forecasts[by_own.forecasts["unique_id"] == "short"]
    assert panel_short["ds"].min() == pd.Timestamp("2006-01-01")  # the panel's end
    assert own_short["ds"].tolist() == list(pd.date_range("2005-01-01", periods=6, freq="MS"))
    assert own_short["mean"].to_numpy() == pytest.approx(2 * pattern[:6], rel=0.1)
    assert by_own.series["unique_id"].tolist() == ["long", "short"]
    alone = forecast_panel(long, 6, "MS", events=NO_EVENTS)
    pd.testing.assert_frame_equal(
        by_own.forecasts[by_own.forecasts["unique_id"] == "long"].reset_index(drop=True),
        alone.forecasts.reset_index(drop=True))


def _priced_panel(elasticity: float, weeks: int = 160, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    ds = pd.date_range("2020-01-06", periods=weeks, freq="W-MON")
    for k in range(5):
        price = np.where(rng.random(weeks) < 0.2, 1.5, 2.0) * (1 + 0.1 * k)
        mean = 50.0 * (price / (2.0 * (1 + 0.1 * k))) ** elasticity
        frames.append(pd.DataFrame({"unique_id": f"P{k}", "ds": ds, "y": rng.poisson(mean).astype(float),
                                    "price": price, "display": 0.0}))
    return pd.concat(frames, ignore_index=True)


def test_a_planned_price_cut_lifts_the_forecast_by_the_learnt_log_log_elasticity() -> None:
    panel = _priced_panel(-2.5)
    cut = panel["ds"].max() - pd.Timedelta(weeks=13)
    train, test = panel[panel["ds"] <= cut], panel[panel["ds"] > cut].copy()
    test["price"] = np.where(test["ds"].dt.day % 2 == 0, 0.75, 1.0) * test.groupby("unique_id")[
        "price"].transform("max")
    out = forecast_panel(train, 13, "W-MON", future=test[["unique_id", "ds", "price", "display"]],
                         events=NO_EVENTS, config=EngineConfig(horizon=13, freq="W-MON", events=()))
    merged = out.forecasts.merge(test, on=["unique_id", "ds"])
    on_cut = merged[merged["ds"].dt.day % 2 == 0]["mean"].mean()
    regular = merged[merged["ds"].dt.day % 2 == 1]["mean"].mean()
    assert on_cut / regular == pytest.approx(0.75 ** -2.5, rel=0.2)


def test_a_price_must_be_positive() -> None:
    panel = _priced_panel(-1.0, weeks=60)
    panel.loc[3, "price"] = -1.0
    future = panel[panel["ds"] == panel["ds"].max()].assign(ds=panel["ds"].max() + pd.Timedelta(weeks=1))
    with pytest.raises(ValueError, match="'price' is a price and must be positive"):
        forecast_panel(panel, 1, "W-MON", future=future[["unique_id", "ds", "price", "display"]],
                       events=NO_EVENTS)


def _monthly_panel(n: int = 6, months: int = 96, seed: int = 3) -> pd.DataFrame:
    """Noisy trending monthly series with a yearly season (where candidates disagree)."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2015-01-01", periods=months, freq="MS")
    frames = []
    for i in range(n):
        season = 1 + 0.4 * np.sin(2 * np.pi * (np.arange(months) + i) / 12)
        trend = 100 + i * np.arange(months) * 0.4
        y = np.maximum(trend * season * rng.lognormal(0, 0.15, months), 0)
        frames.append(pd.DataFrame({"unique_id": f"M{i}", "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)


def test_the_median_combination_is_the_median_of_its_members_forecasts() -> None:
    history = _monthly_panel()
    # Statistical members only: each is rerun alone below as the one smooth model.
    result = forecast_panel(history, 12, "MS", events=NO_EVENTS,
                            config=EngineConfig(horizon=12, global_model=None))
    chosen = result.series.set_index("unique_id")["model"]
    medians = chosen[chosen.str.startswith("median(")]
    assert not medians.empty
    uid = medians.index[0]
    members = medians.iloc[0][len("median("):-1].split(",")
    assert len(members) >= 3
    singles = []
    for member in members:
        alone = forecast_panel(history, 12, "MS", events=NO_EVENTS, config=EngineConfig(
            horizon=12, smooth_models=(member,), combine_top=1, combination_margin=None, global_model=None))
        frame = alone.forecasts
        singles.append(frame.loc[frame["unique_id"] == uid, "mean"].to_numpy())
    mine = result.forecasts.loc[result.forecasts["unique_id"] == uid, "mean"].to_numpy()
    assert np.allclose(mine, np.median(singles, axis=0))
    # Its backtest score is stored like any candidate's, and it is what the series was scored on.
    row = result.series.set_index("unique_id").loc[uid]
    assert row["score"] == pytest.approx(row["scores"][medians.iloc[0]]["mase"])


def test_a_single_model_displaces_the_median_only_when_clearly_better_on_the_backtest() -> None:
    history = _monthly_panel()
    result = forecast_panel(history, 12, "MS", events=NO_EVENTS)
    margin = EngineConfig(horizon=12).combination_margin
    for row in result.series.itertuples():
        medians = [name for name in row.scores if name.startswith("median(")]
        assert len(medians) == 1
        median_score = row.scores[medians[0]]["mase"]
        if not row.model.startswith("median("):
            assert row.score < (1 - margin) * median_score
    off = forecast_panel(history, 12, "MS", events=NO_EVENTS,
                         config=EngineConfig(horizon=12, combination_margin=None))
    assert not off.series["model"].str.startswith("median(").any()
    with pytest.raises(ValueError, match="combination_margin"):
        EngineConfig(horizon=12, combination_margin=1.5)


def test_a_monthly_off_season_far_below_the_floor_is_forecast_at_its_own_level() -> None:
    # A resort: 1,000 a month in its four peak months, 20 otherwise; the index of the off-season
    # months is ~0.06, under the weekly floor of 0.2 that would read them as 3× their level.
    ds = pd.date_range("2012-01-01", periods=120, freq="MS")
    rng = np.random.default_rng(1)
    y = np.where(ds.month.isin([6, 7, 8, 9]), 1000.0, 20.0) * rng.lognormal(0, 0.05, ds.size)
    history = pd.DataFrame({"unique_id": "R", "ds": ds, "y": y})
    result = forecast_panel(history, 12, "MS", events=NO_EVENTS, config=EngineConfig(
        horizon=12, smooth_models=("ets",), combine_top=1, combination_margin=None))
    frame = result.forecasts.assign(month=result.forecasts["ds"].dt.month)
    off = frame[~frame["month"].isin([6, 7, 8, 9])]["mean"]
    peak = frame[frame["month"].isin([6, 7, 8, 9])]["mean"]
    assert off.between(14, 28).all()
    assert peak.between(850, 1150).all()


def test_the_season_index_follows_the_latest_seasons_when_the_pattern_drifts() -> None:
    from forecasting.profiles import RECENT_SEASONS, season_ratios

    # For 14 years the peak is in December, for the last 7 in July.
    years = 21
    months = np.tile(np.arange(12), years)
    old = np.where(months == 11, 2.0, 1.0)
    new = np.where(months == 6, 2.0, 1.0)
    periods = np.where(np.arange(12 * years) < 12 * 14, old, new)[None, :] * 100
    raw, counts, _ = season_ratios(periods, months, 12)
    assert raw[0, 6] > 1.5 > raw[0, 11]
    assert counts.max() <= RECENT_SEASONS
    every, _, _ = season_ratios(periods, months, 12, recent_seasons=None)
    assert every[0, 11] > every[0, 6]
