"""Per-series season totals: the parts of seasons compared, the blend, the band and its reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import EngineConfig, forecast_panel
from forecasting.seasons import (
    BAND,
    apply_totals,
    decensor_matrix,
    decensored_sums,
    group_trend,
    season_parts,
    season_totals,
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
