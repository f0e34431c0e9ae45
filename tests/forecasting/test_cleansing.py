"""Cleansing removes fraud, keeps returns apart, imputes stockouts and caps spikes off event days."""

from __future__ import annotations

import pandas as pd

from forecasting.cleansing import cap_outliers, cleanse, impute_stockouts, remove_fraud, separate_returns


def _sales(units: list[int], **columns: list) -> pd.DataFrame:
    frame = pd.DataFrame({
        "unique_id": "A", "ds": pd.date_range("2026-01-05", periods=len(units)), "units": units,
    })
    for name, values in columns.items():
        frame[name] = values
    return frame


def test_fraud_units_are_removed_from_demand() -> None:
    out = remove_fraud(_sales([10, 8, 3], fraud_units=[4, 0, 5]))
    assert out["y"].tolist() == [6.0, 8.0, 0.0]


def test_returns_stay_apart_by_default_and_are_netted_only_when_configured() -> None:
    demand = remove_fraud(_sales([10, 8], fraud_units=[0, 0], returned_units=[3, 1]))
    assert separate_returns(demand)["y"].tolist() == [10.0, 8.0]
    assert separate_returns(demand, returns_as_demand=True)["y"].tolist() == [7.0, 7.0]


def test_stockout_day_is_imputed_from_the_same_weekday_and_gives_more_than_zero() -> None:
    units = [10] * 35
    stockout = [False] * 35
    units[14], stockout[14] = 0, True
    units[7] = 12  # the same weekday a week earlier
    units[21] = 14  # and a week later
    demand = remove_fraud(_sales(units, stockout=stockout))
    out = impute_stockouts(demand)
    # same weekday at -14, -7, +7, +14 days: 10, 12, 14, 10 → median 11
    assert out.loc[14, "y"] == 11.0
    assert bool(out.loc[14, "imputed"])
    assert out["y"].sum() > demand["y"].sum()


def test_imputation_never_lowers_what_was_sold() -> None:
    units = [2] * 29
    stockout = [False] * 29
    units[14], stockout[14] = 9, True
    out = impute_stockouts(remove_fraud(_sales(units, stockout=stockout)))
    assert out.loc[14, "y"] == 9.0


def test_spike_is_capped_but_not_on_an_event_day() -> None:
    units = [10, 11, 9, 10, 12, 10, 9] * 5
    units[17] = 300
    demand = remove_fraud(_sales(units))
    capped = cap_outliers(demand)
    assert capped.loc[17, "y"] < 40 and bool(capped.loc[17, "capped"])
    spike_day = demand.loc[17, "ds"]
    kept = cap_outliers(demand, event_days=[spike_day])
    assert kept.loc[17, "y"] == 300.0 and not bool(kept.loc[17, "capped"])


def test_cleanse_chains_every_step() -> None:
    units = [10] * 35
    units[3] = 15
    stockout = [False] * 35
    stockout[20] = True
    units[20] = 1
    out = cleanse(_sales(units, fraud_units=[5 if i == 3 else 0 for i in range(35)],
                         returned_units=[1] * 35, stockout=stockout))
    assert out.loc[3, "y"] == 10.0
    assert out.loc[20, "y"] == 10.0
    assert list(out.columns) == ["unique_id", "ds", "y", "returned_units", "imputed", "capped"]
