"""Per-series season totals: the parts of seasons compared, the blend, the band and its reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting import EngineConfig, forecast_panel
from forecasting.seasons import (
    BAND,
    CALENDAR_BLOCK_DAYS,
    SHARE_REASON,
    YEAR_DAYS,
    SeasonPart,
    apply_totals,
    calendar_variance,
    decensor_matrix,
    decensored_sums,
    describe,
    drift_variance,
    group_trend,
    moves_with_a_festival,
    season_parts,
    season_totals,
    share_levels,
    share_split,
    window_sums,
)

NO_EVENTS = pd.DataFrame(columns=["event", "ds"])


def _winters(group: str = "g") -> pd.DataFrame:
    return pd.DataFrame({"group": group,
                         "season_start": pd.to_datetime([f"{y}-11-15" for y in range(2022, 2027)]),
                         "season_end": pd.to_datetime([f"{y + 1}-02-28" for y in range(2022, 2027)])})


def _daily(uid: str, per_winter_day: list[float], start: str = "2023-09-01", end: str = "2026-08-30"
           ) -> pd.DataFrame:
    ds = pd.date_range(start, end)
    y = np.zeros(len(ds))
    for k, year in enumerate(range(2023, 2026)):
        inside = (ds >= f"{year}-11-15") & (ds <= f"{year + 1}-02-28")
        y[inside] = per_winter_day[k]
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": y})


def test_season_part_is_the_next_season_and_the_same_days_of_past_ones() -> None:
    parts = season_parts(_winters(), pd.Timestamp("2026-08-30"), pd.Timestamp("2027-02-28"))
    part = parts["g"]
    assert (part.start, part.end) == (pd.Timestamp("2026-11-15"), pd.Timestamp("2027-02-28"))
    assert part.past[0] == (pd.Timestamp("2025-11-15"), pd.Timestamp("2026-02-28"))
    # In season: the rest of it, and the same days from the start of past seasons.
    inside = season_parts(_winters(), pd.Timestamp("2026-12-14"), pd.Timestamp("2027-06-01"))["g"]
    assert inside.start == pd.Timestamp("2026-12-15")
    assert inside.past[0] == (pd.Timestamp("2025-12-15"), pd.Timestamp("2026-02-28"))
    # A horizon ending mid-season clips the part, and past parts to the same length.
    clipped = season_parts(_winters(), pd.Timestamp("2026-08-30"), pd.Timestamp("2026-12-14"))["g"]
    assert clipped.end == pd.Timestamp("2026-12-14")
    assert clipped.past[0] == (pd.Timestamp("2025-11-15"), pd.Timestamp("2025-12-14"))


def _forecast(uid: str, per_day: float) -> pd.DataFrame:
    ds = pd.date_range("2026-08-31", "2027-02-28")
    mean = np.where((ds >= "2026-11-15"), per_day, 0.0)
    return pd.DataFrame({"unique_id": uid, "ds": ds, "mean": mean, "q90": mean * 1.5})


def test_total_blends_model_and_last_season_times_trend_and_holds_outliers_to_the_band() -> None:
    history = pd.concat([_daily("A", [1.0, 1.0, 1.0]), _daily("B", [1.0, 1.0, 1.0])])
    forecasts = pd.concat([_forecast("A", 1.0), _forecast("B", 0.05)])  # B: the model lost its season
    groups = pd.Series({"A": "g", "B": "g"})
    totals = season_totals(history, forecasts, groups, _winters(), pd.Timestamp("2026-08-30"),
                           pd.Timestamp("2027-02-28")).set_index("unique_id")
    days = 106  # 15 Nov 2026 .. 28 Feb 2027
    assert totals.loc["A", "last_season"] == pytest.approx(days)
    assert totals.loc["A", "season_before"] == pytest.approx(days)
    assert totals.loc["A", "trend"] == pytest.approx(1.0)
    assert totals.loc["A", "weight"] == pytest.approx(0.25)  # nothing scored: shrunk to last season
    assert totals.loc["A", "total"] == pytest.approx(days)
    assert totals.loc["A", "reasons"] == []
    b = totals.loc["B"]
    unheld = 0.25 * 0.05 * days + 0.75 * days
    assert b["total"] == pytest.approx(unheld)  # 0.76× last season: inside the band
    # Three series down to 0.3/day after 1/day: the group's trend (clear of noise, clipped to 0.5)
    # and each series' own trend explain a total below half of last season, kept with the reasons.
    low_ids = ["B", "C", "D"]
    forecasts_low = pd.concat([_forecast(uid, 0.0) for uid in low_ids])
    history_low = pd.concat([_daily(uid, [1.0, 1.0, 0.3]) for uid in low_ids])
    low = season_totals(history_low, forecasts_low, pd.Series(dict.fromkeys(low_ids, "g")), _winters(),
                        pd.Timestamp("2026-08-30"), pd.Timestamp("2027-02-28"))
    low = low.set_index("unique_id").loc["B"]
    assert low["trend"] == pytest.approx(0.5)
    codes = [reason["code"] for reason in low["reasons"]]
    assert "own_trend" in codes and "category_trend" in codes
    assert low["total"] / low["last_season"] == pytest.approx(0.75 * 0.5)


def test_a_total_far_from_last_season_without_a_reason_is_held_at_the_band_edge() -> None:
    history = _daily("A", [1.0, 1.0, 1.0])
    forecasts = _forecast("A", 40.0)
    totals = season_totals(history, forecasts, pd.Series({"A": "g"}), _winters(),
                           pd.Timestamp("2026-08-30"), pd.Timestamp("2027-02-28"))
    row = totals.iloc[0]
    assert row["total"] == pytest.approx(2.0 * 106)
    assert row["reasons"][0]["code"] == "held_to_band"
    assert row["reasons"][0]["unheld_total"] == pytest.approx(0.25 * 40 * 106 + 0.75 * 106, rel=1e-3)


def test_a_series_launched_after_last_season_keeps_the_model_total_with_the_reason() -> None:
    history = _daily("N", [0.0, 0.0, 0.0], start="2026-05-01")
    totals = season_totals(history, _forecast("N", 2.0), pd.Series({"N": "g"}), _winters(),
                           pd.Timestamp("2026-08-30"), pd.Timestamp("2027-02-28"))
    row = totals.iloc[0]
    assert np.isnan(row["last_season"]) and row["total"] == pytest.approx(2.0 * 106)
    assert row["reasons"][0]["code"] == "launch"


def test_applying_totals_scales_only_the_season_days() -> None:
    forecasts = _forecast("A", 1.0)
    forecasts.loc[forecasts["ds"] < "2026-11-15", "mean"] = 3.0
    totals = pd.DataFrame([{"unique_id": "A", "season_start": pd.Timestamp("2026-11-15"),
                            "season_end": pd.Timestamp("2027-02-28"), "model_total": 106.0,
                            "total": 53.0}])
    out = apply_totals(forecasts, totals, ["mean", "q90"])
    inside = out["ds"] >= "2026-11-15"
    assert out.loc[inside, "mean"].sum() == pytest.approx(53.0)
    assert out.loc[inside, "q90"].sum() == pytest.approx(53.0 * 1.5)
    assert (out.loc[~inside, "mean"] == 3.0).all()


def test_engine_stores_season_totals_and_its_forecast_sums_to_them() -> None:
    rng = np.random.default_rng(3)
    frames = []
    for k, level in enumerate([2.0, 5.0, 9.0]):
        frame = _daily(f"S{k}", [level, level * 1.1, level * 0.9])
        frame["y"] = rng.poisson(frame["y"] + 0.05).astype(float)
        frames.append(frame)
    history = pd.concat(frames)
    groups = pd.Series({f"S{k}": "g" for k in range(3)})
    result = forecast_panel(history, 182, "D", events=NO_EVENTS, groups=groups,
                            config=EngineConfig(horizon=182, freq="D", events=()), seasons=_winters())
    totals = result.season_totals.set_index("unique_id")
    assert sorted(totals.index) == ["S0", "S1", "S2"]
    assert (totals["past_seasons_scored"] >= 1).all()  # scored at the same point of last winter
    for uid, row in totals.iterrows():
        rows = result.forecasts[(result.forecasts["unique_id"] == uid)
                                & result.forecasts["ds"].between(row["season_start"], row["season_end"])]
        assert rows["mean"].sum() == pytest.approx(row["total"], rel=1e-6)
        assert 0.5 <= row["total"] / row["last_season"] <= 2.0


# ----------------------------------------------------------------- stockout days re-estimated


def test_rank_one_fill_puts_a_peak_stockout_at_the_peak_height() -> None:
    # Three series share a day profile (a festival peak on days 3-4); B is out of stock at the peak.
    profile = np.array([1.0, 2.0, 4.0, 8.0, 8.0, 1.0])
    levels = np.array([1.0, 3.0, 0.5])
    values = profile[:, None] * levels[None, :]
    out = np.zeros(values.shape, dtype=bool)
    out[3:5, 1] = True
    censored = values.copy()
    censored[3:5, 1] = 1.0  # what sold while out of stock
    filled = decensor_matrix(censored, out)
    assert filled[3:5, 1] == pytest.approx([24.0, 24.0])  # a · b exactly on noise-free data
    assert (filled[~out] == censored[~out]).all()  # in-stock days are never touched


def test_rank_one_fill_leaves_what_it_cannot_estimate() -> None:
    values = np.array([[2.0, 5.0], [3.0, 1.0], [4.0, 0.0]])
    out = np.array([[False, True], [False, True], [True, True]])
    filled = decensor_matrix(values, out)
    # Series 2 is out of stock on every day (no level), day 3 has no series in stock (no profile).
    assert filled[:, 1] == pytest.approx(values[:, 1])
    assert filled[2, 0] == pytest.approx(4.0)
    # A single series: its own stockout days have no profile from another series that day.
    assert decensor_matrix(values[:, :1], out[:, :1]) == pytest.approx(values[:, :1])
    # Nothing out of stock: unchanged; an all-zero season stays zero.
    assert (decensor_matrix(values, np.zeros_like(out)) == values).all()
    zeros = np.zeros((3, 2))
    assert (decensor_matrix(zeros, out) == 0).all()


def _festival_group(stockout_b: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two gift boxes over two festival seasons (ramp to a peak, then nothing); B may run out at
    last season's peak, and the cleansing's neighbour median filled it from the dead weeks after."""
    frames, flags = [], []
    ds = pd.date_range("2024-09-01", "2026-08-30")
    season = np.zeros(len(ds))
    for year in (2024, 2025):
        inside = (ds >= f"{year + 1}-01-01") & (ds <= f"{year + 1}-01-20")
        season[inside] = np.linspace(1.0, 10.0, inside.sum())
    for uid, level in (("A", 1.0), ("B", 2.0)):
        y = season * level
        flag = np.zeros(len(ds), dtype=bool)
        if uid == "B" and stockout_b:
            flag = (ds >= "2026-01-11") & (ds <= "2026-01-20")
            y = np.where(flag, 0.5, y)  # the neighbour median after the season: almost nothing
        frames.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y}))
        flags.append(pd.DataFrame({"unique_id": uid, "ds": ds, "imputed": flag}))
    return pd.concat(frames), pd.concat(flags)


def _festival_seasons() -> pd.DataFrame:
    return pd.DataFrame({"group": "g",
                         "season_start": pd.to_datetime([f"{y}-01-01" for y in range(2025, 2028)]),
                         "season_end": pd.to_datetime([f"{y}-01-20" for y in range(2025, 2028)])})


def _flat_forecast(uid: str, per_day: float) -> pd.DataFrame:
    ds = pd.date_range("2026-08-31", "2027-02-27")
    return pd.DataFrame({"unique_id": uid, "ds": ds, "mean": per_day})


def test_a_stockout_censored_last_season_is_carried_forward_as_demand_with_its_reason() -> None:
    history, flags = _festival_group(stockout_b=True)
    forecasts = pd.concat([_flat_forecast("A", 0.1), _flat_forecast("B", 0.1)])
    groups = pd.Series({"A": "g", "B": "g"})
    span = (pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-20"))
    full = float(np.linspace(1.0, 10.0, 20).sum())
    demand = decensored_sums(history, flags, ["A", "B"], span)
    assert demand["A"] == pytest.approx(full)
    assert demand["B"] == pytest.approx(2 * full)  # the ten peak days at A's profile × B's level
    assert window_sums(history, ["B"], span)["B"] < 0.6 * 2 * full  # as cleansed: cut by the stockout
    totals = season_totals(history, forecasts, groups, _festival_seasons(), pd.Timestamp("2026-08-30"),
                           pd.Timestamp("2027-02-27"), imputed=flags).set_index("unique_id")
    b = totals.loc["B"]
    assert b["last_season_demand"] == pytest.approx(2 * full)
    assert b["last_season"] == pytest.approx(window_sums(history, ["B"], span)["B"])
    assert b["trend"] == pytest.approx(1.0)  # measured on demand: both seasons sold the same
    assert b["naive_total"] == pytest.approx(2 * full)
    codes = [reason["code"] for reason in b["reasons"]]
    assert b["total"] / b["last_season"] > BAND[1] and "stockout_censored" in codes
    assert "held_to_band" not in codes
    # Without the stockout flags the same history is read as sold, and the band holds it.
    plain = season_totals(history, forecasts, groups, _festival_seasons(), pd.Timestamp("2026-08-30"),
                          pd.Timestamp("2027-02-27")).set_index("unique_id").loc["B"]
    assert plain["last_season_demand"] == pytest.approx(plain["last_season"])


def test_one_past_season_zero_past_season_and_a_launch() -> None:
    history, flags = _festival_group(stockout_b=False)
    one_season = history[history["ds"] >= "2025-06-01"]  # only last season in the history
    forecasts = pd.concat([_flat_forecast("A", 0.1), _flat_forecast("B", 0.1)])
    groups = pd.Series({"A": "g", "B": "g", "Z": "g", "N": "g"})
    zero = one_season[one_season["unique_id"] == "A"].assign(unique_id="Z", y=0.0)
    launch = one_season[(one_season["unique_id"] == "A") & (one_season["ds"] >= "2026-06-01")].assign(
        unique_id="N")
    frames = pd.concat([one_season, zero, launch])
    forecasts = pd.concat([forecasts, _flat_forecast("Z", 0.0), _flat_forecast("N", 0.5)])
    totals = season_totals(frames, forecasts, groups, _festival_seasons(), pd.Timestamp("2026-08-30"),
                           pd.Timestamp("2027-02-27"), imputed=flags).set_index("unique_id")
    a = totals.loc["A"]
    assert np.isnan(a["season_before"]) and np.isnan(a["season_before_demand"])
    assert a["trend"] == 1.0 and a["naive_total"] == pytest.approx(a["last_season"])
    z = totals.loc["Z"]
    assert z["last_season"] == 0.0 and z["total"] == 0.0 and z["reasons"] == []
    n = totals.loc["N"]
    assert np.isnan(n["last_season"]) and n["total"] == pytest.approx(n["model_total"])
    assert [reason["code"] for reason in n["reasons"]] == ["launch"]


def test_a_model_scored_on_the_first_season_in_history_meets_the_noise_of_carrying_it() -> None:
    # Only one earlier season to score the model on: last season carried has no season before it,
    # so the naive error is its two-season Poisson noise, 2 / sold; a model far off gets little weight.
    history, flags = _festival_group(stockout_b=False)
    forecasts = pd.concat([_flat_forecast("A", 0.1), _flat_forecast("B", 0.1)])
    groups = pd.Series({"A": "g", "B": "g"})

    def refit(ids: list[str], past_origin: pd.Timestamp) -> pd.DataFrame:
        days = pd.date_range(past_origin + pd.Timedelta(days=1), periods=182)
        return pd.concat([pd.DataFrame({"unique_id": uid, "ds": days, "mean": 1.0}) for uid in ids])

    totals = season_totals(history, forecasts, groups, _festival_seasons(), pd.Timestamp("2026-08-30"),
                           pd.Timestamp("2027-02-27"), refit=refit, imputed=flags).set_index("unique_id")
    assert (totals["past_seasons_scored"] == 1).all()
    assert (totals["weight"] < 0.05).all()


def test_group_trend_is_kept_when_clear_and_shrunk_to_one_within_its_noise() -> None:
    before = pd.Series([100.0, 200.0, 50.0, 80.0])
    clear = group_trend(before * 1.3, before)  # every series up 30 %: no noise at all
    assert clear == pytest.approx(1.3)
    noisy = pd.Series([60.0, 260.0, 60.0, 70.0])  # Σ 450 vs 430, the series all over the place
    assert group_trend(noisy, before) == 1.0
    # Partly: log T shrunk by 1 − se²/(log T)², se = √Σ(last − T·before)² / Σ last.
    last = pd.Series([125.0, 230.0, 60.0, 90.0])
    ratio = last.sum() / before.sum()
    se = np.sqrt(((last - ratio * before) ** 2).sum()) / last.sum()
    factor = 1 - se**2 / np.log(ratio) ** 2
    assert 0 < factor < 1
    assert group_trend(last, before) == pytest.approx(ratio**factor)
    # Too few series with both seasons, or no sales before: no trend.
    assert group_trend(pd.Series([200.0, 300.0]), pd.Series([100.0, 100.0])) == 1.0
    assert group_trend(pd.Series([1.0, 2.0, 3.0]), pd.Series([0.0, 0.0, 0.0])) == 1.0
    assert group_trend(last, pd.Series([np.nan] * 4)) == 1.0


@settings(max_examples=20, deadline=None)
@given(growth=st.floats(-0.6, 0.6), level=st.floats(0.5, 50.0))
def test_a_trend_that_moves_every_block_alike_has_no_calendar_variance(growth: float, level: float) -> None:
    # Noise-free: every day is its day a year before × e^growth, so every block's ratio is the
    # same and none of the season's movement is the calendar's: the trend is kept in full.
    origin = pd.Timestamp("2026-08-30")
    ds = pd.date_range("2023-09-01", origin)
    t = (ds - origin).days.to_numpy() / YEAR_DAYS
    shape = 0.05 + np.exp(-0.5 * ((np.mod(t, 1.0) - 0.4) / 0.08) ** 2)  # a winter bump, 364-day period
    history = pd.concat([pd.DataFrame({"unique_id": uid, "ds": ds,
                                       "y": level * (k + 1) * shape * np.exp(growth * t)})
                         for k, uid in enumerate("ABCD")])
    last, before = (pd.Timestamp("2025-11-15"), pd.Timestamp("2026-02-28")), \
        (pd.Timestamp("2024-11-15"), pd.Timestamp("2025-02-28"))
    ids = list("ABCD")
    calendar = calendar_variance(history, ids, origin)
    assert calendar == pytest.approx(0.0, abs=1e-9)
    now, then = window_sums(history, ids, last), window_sums(history, ids, before)
    trend = group_trend(now, then, calendar)
    assert trend == pytest.approx(now.sum() / then.sum(), rel=1e-6)  # all of it kept
    assert trend == pytest.approx(np.exp(growth), rel=0.01)  # (the windows are 365 days apart, not 364)


def test_a_group_growing_40_percent_a_year_keeps_its_trend() -> None:
    # Six series growing 40 % a year with Poisson noise: the block ratios all read about 1.4, the
    # calendar adds (almost) nothing, and the season's trend is carried as measured.
    rng = np.random.default_rng(5)
    ids = [f"S{k}" for k in range(6)]
    history = pd.concat([_drifting(uid, 8.0, np.log(1.4), rng) for uid in ids])
    origin = pd.Timestamp("2026-08-30")
    last, before = (pd.Timestamp("2025-11-15"), pd.Timestamp("2026-02-28")), \
        (pd.Timestamp("2024-11-15"), pd.Timestamp("2025-02-28"))
    calendar = calendar_variance(history, ids, origin)
    assert calendar < 0.005
    now, then = window_sums(history, ids, last), window_sums(history, ids, before)
    trend = group_trend(now, then, calendar)
    assert trend == pytest.approx(now.sum() / then.sum(), rel=0.01)
    assert trend == pytest.approx(1.4, rel=0.05)
    # And season_totals carries it: each series' naive total is its last season × 1.4 or so.
    forecasts = pd.concat([_forecast(uid, 0.0) for uid in ids])
    totals = season_totals(history, forecasts, pd.Series(dict.fromkeys(ids, "g")), _winters(),
                           origin, pd.Timestamp("2027-02-28"))
    assert totals["trend"].to_numpy() == pytest.approx(trend)


def _promoted(uid: str, level: float, starts: list[str]) -> pd.DataFrame:
    """A flat-drift winter good (noise-free) with 14-day promotions ×1.6 starting on `starts`."""
    frame = _drifting(uid, level, 0.0)
    for start in starts:
        inside = frame["ds"].between(pd.Timestamp(start), pd.Timestamp(start) + pd.Timedelta(days=13))
        frame.loc[inside, "y"] *= 1.6
    return frame


def test_a_season_swing_the_size_of_the_calendars_movement_is_not_carried_as_a_trend() -> None:
    # No trend at all; the group's promotions fall on different days each year, one of them in
    # last winter and none in the winter before. Every series moves alike, so the swing has no
    # sampling noise (the old shrinkage kept it whole); the blocks' spread says it is calendar.
    starts = ["2024-03-10", "2024-06-20", "2024-12-01", "2025-04-25", "2025-07-02", "2025-09-15",
              "2026-01-05", "2026-05-12"]
    ids = list("ABCDE")
    history = pd.concat([_promoted(uid, 10.0 * (k + 1), starts) for k, uid in enumerate(ids)])
    origin = pd.Timestamp("2026-08-30")
    last, before = (pd.Timestamp("2025-11-15"), pd.Timestamp("2026-02-28")), \
        (pd.Timestamp("2024-11-15"), pd.Timestamp("2025-02-28"))
    now, then = window_sums(history, ids, last), window_sums(history, ids, before)
    calendar = calendar_variance(history, ids, origin)
    raw = group_trend(now, then)
    assert raw == pytest.approx(now.sum() / then.sum())  # no sampling noise: kept whole without the calendar
    # Recomputed: 13 blocks of 28 days back from the origin against a year before, their log
    # ratios' spread (DerSimonian–Laird, each variance floored at the Poisson 1/Σ).
    daily = history.groupby("ds")["y"].sum()
    ratios, variances = [], []
    for j in range(YEAR_DAYS // CALENDAR_BLOCK_DAYS):
        end = origin - pd.Timedelta(days=j * CALENDAR_BLOCK_DAYS)
        block = daily[end - pd.Timedelta(days=CALENDAR_BLOCK_DAYS - 1):end].sum()
        year_before = daily[end - pd.Timedelta(days=YEAR_DAYS + CALENDAR_BLOCK_DAYS - 1):
                            end - pd.Timedelta(days=YEAR_DAYS)].sum()
        ratios.append(np.log(block / year_before))
        variances.append(1.0 / block)  # every series moves alike: the floor
    assert calendar == pytest.approx(drift_variance(np.array(ratios), np.array(variances)), rel=1e-6)
    assert calendar > 0
    shrunk = group_trend(now, then, calendar)
    assert shrunk == pytest.approx(raw ** max(0.0, 1 - calendar / np.log(raw) ** 2))
    assert abs(np.log(shrunk)) < 0.5 * abs(np.log(raw))
    # The same calendar over a group growing 40 % a year: the trend is shrunk by the calendar's
    # noise, not lost (the blocks all read about 1.4; their spread is the promotions').
    growing = history.assign(y=history["y"] * 1.4 ** ((history["ds"] - origin).dt.days / YEAR_DAYS))
    now, then = window_sums(growing, ids, last), window_sums(growing, ids, before)
    kept = group_trend(now, then, calendar_variance(growing, ids, origin))
    assert 1.25 < kept < now.sum() / then.sum()
    # Less than two years of history: as many blocks as a year back allows, none below three.
    assert calendar_variance(history[history["ds"] >= "2025-08-01"], ids, origin) == 0.0


# ----------------------------------------------------------------- shares of the group over two years


def _drifting(uid: str, level: float, drift: float, rng: np.random.Generator | None = None,
              start: str = "2023-09-01") -> pd.DataFrame:
    """A winter good on the group's shared profile (a bump in each winter, a little all year) times
    its own yearly drift exp(drift · t), t in years to 2026-08-30; Poisson counts when `rng`."""
    ds = pd.date_range(start, "2026-08-30")
    distance = np.abs(ds.dayofyear.to_numpy() - 15)
    distance = np.minimum(distance, 365 - distance)
    profile = 0.05 + np.exp(-0.5 * (distance / 30.0) ** 2)
    t = (ds - pd.Timestamp("2026-08-30")).days.to_numpy() / 364
    mean = level * profile * np.exp(drift * t)
    y = rng.poisson(mean).astype(float) if rng is not None else mean
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": y})


def test_share_levels_read_each_series_drift_against_its_group() -> None:
    # Noise-free and large: the drifts are measured exactly (centred on the group, whose own
    # trend is the profile's), the spread between them is far above the noise, nothing is shrunk.
    drifts = {"A": 0.2, "B": 0.0, "C": -0.1, "D": 0.05}
    history = pd.concat([_drifting(uid, 200.0, g) for uid, g in drifts.items()])
    origin, target = pd.Timestamp("2026-08-30"), pd.Timestamp("2027-01-15")
    levels = share_levels(history, None, list(drifts), origin, target)
    window = history[history["ds"] > origin - pd.Timedelta(days=2 * 364)]
    weights = window.groupby("unique_id")["y"].sum().reindex(list(drifts))
    assert float(np.sum(weights * levels["slope"])) == pytest.approx(0.0, abs=1e-6)  # centred
    for uid, g in drifts.items():
        assert levels.loc[uid, "slope"] - levels.loc["B", "slope"] == pytest.approx(g, abs=1e-3)
        assert np.log(levels.loc[uid, "own_trend"]) == pytest.approx(levels.loc[uid, "slope"], abs=2e-3)
    # Levels at the target day: equal bases, so their ratios are the drifts carried to it.
    years = (target - origin).days / 364
    assert levels.loc["A", "level"] / levels.loc["B", "level"] == pytest.approx(
        np.exp((0.2 - 0.0) * years), rel=5e-3)
    assert levels["drift_spread"].iloc[0] > 0.05


def test_drifts_within_their_noise_are_shrunk_to_the_groups() -> None:
    # Eight series with one true level and no drift of their own, Poisson counts: whatever slope
    # each shows is noise, and the shrunk slope is smaller than the raw one, same sign.
    rng = np.random.default_rng(11)
    ids = [f"S{k}" for k in range(8)]
    history = pd.concat([_drifting(uid, 3.0, 0.0, rng) for uid in ids])
    levels = share_levels(history, None, ids, pd.Timestamp("2026-08-30"), pd.Timestamp("2027-01-15"))
    shrunk = np.log(levels["own_trend"].to_numpy())
    raw = levels["slope"].to_numpy()
    assert (np.abs(shrunk) <= np.abs(raw) + 1e-12).all()
    assert (shrunk * raw >= 0).all()
    # τ² from the stored slopes and standard errors (DerSimonian–Laird), recomputed.
    tau2 = drift_variance(raw, levels["slope_se"].to_numpy() ** 2)
    assert levels["drift_spread"].iloc[0] == pytest.approx(np.sqrt(tau2))
    factor = tau2 / (tau2 + levels["slope_se"].to_numpy() ** 2)
    assert shrunk == pytest.approx(raw * factor, abs=1e-9)


def test_drift_variance_is_dersimonian_laird_and_zero_when_thin() -> None:
    g = np.array([0.3, -0.2, 0.1, 0.0])
    v = np.array([0.01, 0.02, 0.01, 0.04])
    w = 1 / v
    q = np.sum(w * (g - np.sum(w * g) / w.sum()) ** 2)
    expected = (q - 3) / (w.sum() - np.sum(w**2) / w.sum())
    assert drift_variance(g, v) == pytest.approx(expected)
    assert drift_variance(g[:2], v[:2]) == 0.0  # fewer than TREND_MIN_SERIES
    assert drift_variance(np.zeros(4), v) == 0.0  # all alike: no spread beyond noise
    # A just-launched series, its slope all noise (an enormous standard error), does not swamp it
    # (an unweighted mean(g²) − mean(se²) would be 0); it only adds its degree of freedom.
    with_launch = drift_variance(np.append(g, 5.0), np.append(v, 1e6))
    assert 0.5 * expected < with_launch <= expected


def test_stockout_days_are_left_out_of_the_shares() -> None:
    history = pd.concat([_drifting(uid, 50.0, 0.0) for uid in ("A", "B", "C")])
    cut = (history["unique_id"] == "B") & history["ds"].between("2025-12-01", "2026-01-31")
    flags = history[["unique_id", "ds"]].assign(imputed=cut.to_numpy())
    history.loc[cut, "y"] = 0.0  # sold nothing while out of stock
    levels = share_levels(history, flags, ["A", "B", "C"], pd.Timestamp("2026-08-30"),
                          pd.Timestamp("2027-01-15"))
    assert levels.loc["B", "level"] == pytest.approx(levels.loc["A", "level"], rel=1e-6)
    unflagged = share_levels(history, None, ["A", "B", "C"], pd.Timestamp("2026-08-30"),
                             pd.Timestamp("2027-01-15"))
    assert unflagged.loc["B", "level"] < 0.9 * unflagged.loc["A", "level"]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(naive=st.lists(st.one_of(st.none(), st.floats(0.0, 1e4)), min_size=1, max_size=6),
       levels=st.lists(st.one_of(st.none(), st.floats(0.0, 1e3)), min_size=6, max_size=6))
def test_share_split_keeps_the_groups_total_and_splits_it_by_level(naive: list[float | None],
                                                                   levels: list[float | None]) -> None:
    ids = [f"S{k}" for k in range(len(naive))]
    naive_s = pd.Series([np.nan if v is None else v for v in naive], index=ids, dtype=float)
    level_s = pd.Series([np.nan if v is None else v for v in levels[:len(ids)]], index=ids, dtype=float)
    out = share_split(naive_s, level_s)
    used = naive_s.notna() & level_s.notna()
    assert out[~used].isna().all()  # a launch (no last season) or no level: not split
    if used.any() and level_s[used].sum() > 0 and naive_s[used].sum() > 0:
        assert out[used].sum() == pytest.approx(naive_s[used].sum(), rel=1e-9)
        assert out[used].to_numpy() == pytest.approx(
            (naive_s[used].sum() * level_s[used] / level_s[used].sum()).to_numpy())
        if used.sum() == 1:  # a single series keeps its own last season × trend
            assert out[used].iloc[0] == pytest.approx(naive_s[used].iloc[0])
    else:
        assert out.isna().all()


@settings(max_examples=25, deadline=None, derandomize=True)
@given(launch_days=st.integers(1, 700), zero=st.booleans(), single=st.booleans())
def test_share_levels_edges(launch_days: int, zero: bool, single: bool) -> None:
    # A launch (any length of history), an all-zero series, a group of one: finite, non-negative
    # levels; a series with no demand gets level 0; one alone has no drift to shrink from.
    rng = np.random.default_rng(launch_days)
    frames = [_drifting("A", 4.0, 0.05, rng)]
    if not single:
        frames.append(_drifting("B", 2.0, -0.05, rng))
        start = pd.Timestamp("2026-08-30") - pd.Timedelta(days=launch_days - 1)
        frames.append(_drifting("N", 3.0, 0.0, rng, start=str(start.date())))
    if zero:
        frames.append(_drifting("Z", 1.0, 0.0).assign(y=0.0))
    history = pd.concat(frames)
    ids = sorted(history["unique_id"].unique())
    levels = share_levels(history, None, ids, pd.Timestamp("2026-08-30"), pd.Timestamp("2027-01-15"))
    assert (levels["level"].dropna() >= 0).all()
    assert np.isfinite(levels["own_trend"]).all()
    if zero:
        assert levels.loc["Z", "level"] == 0.0
    if single and not zero:
        assert levels.loc["A", "own_trend"] == 1.0 and levels.loc["A", "level"] > 0


def test_all_zero_group_keeps_zero_totals() -> None:
    history = pd.concat([_drifting(uid, 1.0, 0.0).assign(y=0.0) for uid in ("A", "B", "C")])
    forecasts = pd.concat([_forecast(uid, 0.0) for uid in ("A", "B", "C")])
    totals = season_totals(history, forecasts, pd.Series(dict.fromkeys("ABC", "g")), _winters(),
                           pd.Timestamp("2026-08-30"), pd.Timestamp("2027-02-28"))
    assert (totals["total"] == 0.0).all() and totals["share_total"].isna().all()


def test_last_seasons_noise_is_split_away_by_two_years_of_shares() -> None:
    # Eight series with one true level and no drift, small Poisson counts: each one's last season
    # is one noisy draw. Split by shares read from two years, the totals sit closer to what the
    # next winter holds than last season × trend does (summed over 20 draws), the group's total kept.
    ids = [f"S{k}" for k in range(8)]
    truth = float(_drifting("T", 0.6, 0.0, start="2025-11-15").set_index("ds")
                  .loc["2025-11-15":"2026-02-28", "y"].sum())  # one winter's expected demand
    split_error = naive_error = 0.0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        history = pd.concat([_drifting(uid, 0.6, 0.0, rng) for uid in ids])
        forecasts = pd.concat([_forecast(uid, 0.0) for uid in ids])
        totals = season_totals(history, forecasts, pd.Series(dict.fromkeys(ids, "g")), _winters(),
                               pd.Timestamp("2026-08-30"), pd.Timestamp("2027-02-28")).set_index("unique_id")
        assert totals["share_total"].sum() == pytest.approx(totals["naive_total"].sum())
        split_error += float((totals["share_total"] - truth).abs().sum())
        naive_error += float((totals["naive_total"] - truth).abs().sum())
        for _, row in totals.iterrows():
            assert row["total"] == pytest.approx(row["weight"] * row["model_total"]
                                                 + (1 - row["weight"]) * row["share_total"])
            assert f"{row['share_total']:.0f} × {1 - row['weight']:.2f}" in describe(row.to_dict())
    assert split_error < 0.9 * naive_error


def test_a_split_far_from_last_season_says_so_with_the_stored_numbers() -> None:
    # The horizon reaches one day into winter, so "last season" is one day's count. B sold 9 that
    # day where the group sells about one a day: its share over two years puts it near the others,
    # far below 9 × trend, and the reason quotes both numbers as stored.
    rng = np.random.default_rng(2)
    ids = ["A", "B", "C", "D", "E", "F"]
    frames = [_drifting(uid, 1.0, 0.0, rng) for uid in ids]
    frames[1].loc[frames[1]["ds"] == "2025-11-15", "y"] = 9.0
    history = pd.concat(frames)
    forecasts = pd.concat([_forecast(uid, 0.0) for uid in ids])
    totals = season_totals(history, forecasts, pd.Series(dict.fromkeys(ids, "g")), _winters(),
                           pd.Timestamp("2026-08-30"), pd.Timestamp("2026-11-15")).set_index("unique_id")
    b = totals.loc["B"]
    assert b["days"] == 1 and b["last_season"] == 9.0
    assert b["ratio_to_last_season"] < BAND[0]
    reason = next(r for r in b["reasons"] if r["code"] == "share_of_group")
    assert reason["naive_total"] == pytest.approx(round(b["naive_total"], 2))
    assert reason["share_total"] == pytest.approx(round(b["share_total"], 2))
    assert reason["own_trend"] == pytest.approx(round(b["own_trend"], 3))
    assert abs(np.log(b["share_total"] / b["naive_total"])) >= np.log(SHARE_REASON)
    assert "held_to_band" not in [r["code"] for r in b["reasons"]]
    for _, row in totals.iterrows():  # every total outside the band carries a reason
        if np.isfinite(row["ratio_to_last_season"]) and not BAND[0] <= row["ratio_to_last_season"] <= BAND[1]:
            assert row["reasons"]


@settings(max_examples=20, deadline=None, derandomize=True)
@given(kinds=st.lists(st.sampled_from(["plain", "zero_last", "launch", "all_zero", "drifting"]),
                      min_size=1, max_size=4),
       seed=st.integers(0, 1000))
def test_season_totals_hold_their_rules_on_edge_groups(kinds: list[str], seed: int) -> None:
    # Any mix of a single series, one that sold nothing last winter, a launch after last winter,
    # an all-zero one and a drifting one: totals finite and non-negative, the split keeps the
    # group's last season × trend, a launch keeps the model's total, a total outside the band
    # carries a reason, and the stored total is the blend of its stored parts.
    rng = np.random.default_rng(seed)
    frames, forecasts = [], []
    for k, kind in enumerate(kinds):
        uid = f"S{k}"
        if kind == "launch":
            frame = _drifting(uid, 2.0, 0.0, rng, start="2026-05-01")
        else:
            frame = _drifting(uid, 2.0, 0.3 if kind == "drifting" else 0.0, rng)
        if kind == "zero_last":
            frame.loc[frame["ds"].between("2025-11-15", "2026-02-28"), "y"] = 0.0
        if kind == "all_zero":
            frame["y"] = 0.0
        frames.append(frame)
        forecasts.append(_forecast(uid, float(rng.uniform(0.0, 3.0))))
    ids = [f"S{k}" for k in range(len(kinds))]
    totals = season_totals(pd.concat(frames), pd.concat(forecasts), pd.Series(dict.fromkeys(ids, "g")),
                           _winters(), pd.Timestamp("2026-08-30"), pd.Timestamp("2027-02-28"))
    totals = totals.set_index("unique_id")
    assert np.isfinite(totals["total"]).all() and (totals["total"] >= 0).all()
    split = totals["share_total"].notna()
    if split.any():
        assert totals.loc[split, "share_total"].sum() == pytest.approx(totals.loc[split, "naive_total"].sum())
    for uid, kind in zip(ids, kinds, strict=True):
        row = totals.loc[uid]
        codes = [reason["code"] for reason in row["reasons"]]
        if kind == "launch":
            assert np.isnan(row["last_season"]) and row["total"] == pytest.approx(row["model_total"])
            assert codes == ["launch"]
            continue
        ratio = row["ratio_to_last_season"]
        if np.isfinite(ratio) and not BAND[0] <= ratio <= BAND[1]:
            assert codes
        if "held_to_band" not in codes:
            carried = row["share_total"] if np.isfinite(row["share_total"]) else row["naive_total"]
            assert row["total"] == pytest.approx(row["weight"] * row["model_total"]
                                                 + (1 - row["weight"]) * carried, abs=1e-9)


def test_a_run_of_a_few_series_reads_the_group_over_all_its_series() -> None:
    # Forecasting only S0 (`forecast_only`): the group's demand, trend and shares still come from
    # every series of the group in the history, so S0's total is what the full run gives it.
    rng = np.random.default_rng(4)
    ids = ["S0", "S1", "S2", "S3"]
    history = pd.concat([_drifting(uid, 1.0 + k, 0.1 * (k - 1), rng) for k, uid in enumerate(ids)])
    forecasts = pd.concat([_forecast(uid, 1.0) for uid in ids])
    groups = pd.Series(dict.fromkeys(ids, "g"))
    args = (_winters(), pd.Timestamp("2026-08-30"), pd.Timestamp("2027-02-28"))
    full = season_totals(history, forecasts, groups, *args).set_index("unique_id").loc["S0"]
    alone = season_totals(history, forecasts[forecasts["unique_id"] == "S0"], groups, *args)
    assert list(alone["unique_id"]) == ["S0"]
    row = alone.set_index("unique_id").loc["S0"]
    for column in ("trend", "share_total", "own_trend", "weight", "total"):
        assert row[column] == pytest.approx(full[column])


def _moving_festival_group(growth: float) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Four gift boxes whose season follows a festival that moves by weeks between years, the
    group selling `growth` times as much in the second season as in the first."""
    ds = pd.date_range("2024-09-01", "2026-08-30")
    windows = [("2025-01-10", "2025-01-29", 1.0), ("2026-01-29", "2026-02-17", growth)]
    season = np.full(len(ds), 0.5)  # a little all year: every 4-week block is compared
    for start, end, scale in windows:
        inside = (ds >= start) & (ds <= end)
        season[inside] = scale * np.linspace(2.0, 20.0, inside.sum())
    ids = ["A", "B", "C", "D"]
    history = pd.concat([pd.DataFrame({"unique_id": uid, "ds": ds, "y": season * level})
                         for uid, level in zip(ids, (1.0, 2.0, 3.0, 4.0), strict=True)])
    seasons = pd.DataFrame({"group": "g",
                            "season_start": pd.to_datetime(["2025-01-10", "2026-01-29", "2027-01-18"]),
                            "season_end": pd.to_datetime(["2025-01-29", "2026-02-17", "2027-02-06"])})
    return history, seasons, ids


def test_a_season_that_moves_with_a_festival_keeps_its_trend() -> None:
    history, seasons, ids = _moving_festival_group(growth=1.4)
    origin, last_day = pd.Timestamp("2026-08-30"), pd.Timestamp("2027-02-27")
    part = season_parts(seasons, origin, last_day)["g"]
    assert moves_with_a_festival(part)
    # Read in 364-day blocks, the festival's move from late January to February looks like a
    # calendar swing far beyond the trend's sampling noise: used, it would erase the trend.
    assert calendar_variance(history, ids, origin) > 0.1
    forecasts = pd.concat([_flat_forecast(uid, 0.1) for uid in ids])
    groups = pd.Series("g", index=ids)
    totals = season_totals(history, forecasts, groups, seasons, origin, last_day).set_index("unique_id")
    # the festival windows sold 1.4 times as much; nearly noise-free, the trend is kept whole
    assert totals["trend"].iloc[0] == pytest.approx(1.4, rel=0.01)
    fixed = SeasonPart("g", pd.Timestamp("2026-11-15"), pd.Timestamp("2027-02-28"),
                       ((pd.Timestamp("2025-11-15"), pd.Timestamp("2026-02-28")),
                        (pd.Timestamp("2024-11-15"), pd.Timestamp("2025-02-28"))))
    assert not moves_with_a_festival(fixed)  # Nov 15 every year, a leap day apart at most
