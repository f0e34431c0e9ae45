"""Per-series season totals: the parts of seasons compared, the blend, the band and its reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting import EngineConfig, forecast_panel
from forecasting.seasons import apply_totals, season_parts, season_totals

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
    forecasts_low = pd.concat([_forecast("A", 1.0), _forecast("B", 0.0)])
    history_low = pd.concat([_daily("A", [1.0, 1.0, 1.0]), _daily("B", [1.0, 1.0, 0.3])])
    low = season_totals(history_low, forecasts_low, groups, _winters(), pd.Timestamp("2026-08-30"),
                        pd.Timestamp("2027-02-28")).set_index("unique_id").loc["B"]
    # Last season 0.3/day after 1/day: its own trend explains a low total, kept with that reason.
    assert "own_trend" in [reason["code"] for reason in low["reasons"]]
    assert low["total"] / low["last_season"] < 0.5


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
