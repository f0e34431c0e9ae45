"""The pre-sale signal: ratios learnt from past events only, deposits after the as-of date never seen,
the event day combined with the model by inverse variance, its spread fitted to past events' errors."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from scipy.stats import norm

from forecasting.presale import (
    DEPOSIT_COLUMNS,
    MIN_PAIRS_FOR_SPREAD_MODEL,
    SHRINKAGE_PSEUDO_COUNT,
    apply_presale_signal,
    event_of,
    learn_ratios,
    spread_model,
)

D11_2024, D11_2025 = pd.Timestamp("2024-11-11"), pd.Timestamp("2025-11-11")
GROUPS = pd.Series({"A": "textiles", "B": "textiles", "C": "kitchen"})
QUANTILES = (0.1, 0.5, 0.9)


def _deposits(rows: list[tuple[str, pd.Timestamp, str, int]]) -> pd.DataFrame:
    records = [(uid, "double_11", event, pd.Timestamp(day), units) for uid, event, day, units in rows]
    return pd.DataFrame(records, columns=DEPOSIT_COLUMNS)


def _finals(values: dict[tuple[str, pd.Timestamp], float]) -> pd.DataFrame:
    return pd.DataFrame([(uid, day, y) for (uid, day), y in values.items()], columns=["unique_id", "ds", "y"])


def _forecast(uid: str, mean: float, q10: float, q50: float, q90: float) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": [uid, uid], "ds": [D11_2025 - pd.Timedelta(days=1), D11_2025],
                         "mean": [5.0, mean], "q10": [1.0, q10], "q50": [5.0, q50], "q90": [9.0, q90]})


def test_event_of_maps_a_deposit_day_to_its_event() -> None:
    assert event_of(date(2025, 10, 24)) == ("double_11", date(2025, 11, 11))
    assert event_of(date(2025, 6, 1)) == ("e618", date(2025, 6, 18))
    assert event_of(date(2025, 8, 1)) is None


def test_ratio_is_final_units_over_deposits_at_the_same_days_before_shrunk_to_the_event() -> None:
    # 2024: A paid 10 units of deposits by 7 days before (2 more later), sold 41; C paid 4, sold 20.
    deposits = _deposits([("A", D11_2024, "2024-10-25", 10), ("A", D11_2024, "2024-11-08", 2),
                          ("C", D11_2024, "2024-10-30", 4)])
    finals = _finals({("A", D11_2024): 41.0, ("C", D11_2024): 20.0})
    ratios = learn_ratios(deposits, finals, GROUPS, date(2025, 11, 4), days_before=7)
    log_a, log_c = np.log(41.5 / 10.5), np.log(20.5 / 4.5)
    pooled = (log_a + log_c) / 2
    expected = (1 * log_a + SHRINKAGE_PSEUDO_COUNT * pooled) / (1 + SHRINKAGE_PSEUDO_COUNT)
    assert np.isclose(ratios[("double_11", "textiles")].log_ratio, expected)
    assert np.isclose(ratios[("double_11", "*")].log_ratio, pooled)
    assert ratios[("double_11", "textiles")].pairs == 1


def test_an_event_on_or_after_the_as_of_date_teaches_nothing() -> None:
    deposits = _deposits([("A", D11_2024, "2024-10-25", 10)])
    finals = _finals({("A", D11_2024): 41.0})
    assert learn_ratios(deposits, finals, GROUPS, date(2024, 11, 11), days_before=7) == {}
    assert learn_ratios(deposits, finals, GROUPS, date(2024, 11, 12), days_before=7) != {}


def test_deposits_paid_after_the_as_of_date_are_never_used() -> None:
    past = [("A", D11_2024, "2024-10-25", 10), ("C", D11_2024, "2024-10-30", 4)]
    finals = _finals({("A", D11_2024): 41.0, ("C", D11_2024): 20.0})
    as_of = date(2025, 11, 4)
    seen = _deposits(past + [("A", D11_2025, "2025-10-26", 6)])
    leaked = _deposits(past + [("A", D11_2025, "2025-10-26", 6), ("A", D11_2025, "2025-11-05", 500),
                               ("B", D11_2025, "2025-11-10", 300)])
    forecast = _forecast("A", 20.0, 10.0, 20.0, 35.0)
    clean, clean_adjustments = apply_presale_signal(forecast, seen, finals, GROUPS, as_of, QUANTILES)
    dirty, dirty_adjustments = apply_presale_signal(forecast, leaked, finals, GROUPS, as_of, QUANTILES)
    pd.testing.assert_frame_equal(clean, dirty)
    pd.testing.assert_frame_equal(clean_adjustments, dirty_adjustments)
    assert clean_adjustments["deposits"].tolist() == [6]
    # a past event's late deposits, paid after the as-of date, do not teach either
    late_past = _deposits(past + [("A", D11_2025, "2025-10-26", 6), ("C", D11_2024, "2025-11-06", 99)])
    again, _ = apply_presale_signal(forecast, late_past, finals, GROUPS, as_of, QUANTILES)
    pd.testing.assert_frame_equal(clean, again)


def test_event_day_combines_model_and_deposits_by_inverse_variance_and_spreads_by_their_gap() -> None:
    past = [("A", D11_2024, "2024-10-25", 10), ("B", D11_2024, "2024-10-25", 5),
            ("C", D11_2024, "2024-10-25", 8)]
    finals = _finals({("A", D11_2024): 41.0, ("B", D11_2024): 12.0, ("C", D11_2024): 40.0})
    deposits = _deposits(past + [("A", D11_2025, "2025-10-26", 6)])
    as_of = date(2025, 11, 4)
    ratio = learn_ratios(deposits, finals, GROUPS, as_of, 7)[("double_11", "textiles")]
    assert (ratio.dispersion, ratio.event_shift) == (1.0, 0.0)  # three pairs: counting noise alone
    forecast = _forecast("A", 20.0, 10.0, 20.0, 35.0)
    out, adjustments = apply_presale_signal(forecast, deposits, finals, GROUPS, as_of, QUANTILES)
    deposit_log = np.log(6.5) + ratio.log_ratio
    deposit_sd = np.sqrt(1 / 6.5 + 1 / np.exp(deposit_log))  # 1/(D + ½) + 1/(Ŷ + ½)
    model_log = np.log(20.5)
    stated_sd = (np.log(35.5) - np.log(10.5)) / (norm.ppf(0.9) - norm.ppf(0.1))
    model_sd = max(stated_sd, abs(deposit_log - model_log))
    weight = deposit_sd**-2 / (deposit_sd**-2 + model_sd**-2)
    centre = weight * deposit_log + (1 - weight) * model_log
    gap = deposit_log - model_log
    sd = np.sqrt((deposit_sd**-2 + model_sd**-2) ** -1 + weight * (1 - weight) * gap**2)
    day = out[out["ds"] == D11_2025].iloc[0]
    assert np.isclose(day["mean"], np.exp(centre + sd**2 / 2) - 0.5)
    assert np.isclose(day["q90"], np.exp(centre + norm.ppf(0.9) * sd) - 0.5)
    assert day["q10"] < day["q50"] < day["q90"]
    row = adjustments.iloc[0]
    assert np.isclose(row["weight_deposits"], round(weight, 4))
    assert np.isclose(row["log_sd"], round(deposit_sd, 4))
    assert np.isclose(row["combined_log_sd"], round(sd, 4))
    # the day before the event is left alone
    assert out.iloc[0].equals(forecast.iloc[0])


def test_a_model_interval_that_misses_the_deposit_estimate_is_widened_to_reach_it() -> None:
    past = [("A", D11_2024, "2024-10-25", 10), ("C", D11_2024, "2024-10-25", 8)]
    finals = _finals({("A", D11_2024): 41.0, ("C", D11_2024): 40.0})
    deposits = _deposits(past + [("A", D11_2025, "2025-10-26", 30)])
    as_of = date(2025, 11, 4)
    narrow_and_low = _forecast("A", 5.0, 4.5, 5.0, 5.5)  # claims ±10 % around 5, deposits say ~130
    _, adjustments = apply_presale_signal(narrow_and_low, deposits, finals, GROUPS, as_of, QUANTILES)
    row = adjustments.iloc[0]
    gap = abs(np.log(row["deposit_estimate"] + 0.5) - np.log(5.5))
    assert np.isclose(row["model_log_sd"], round(gap, 4), atol=1e-3)
    assert row["weight_deposits"] > 0.5 and row["mean"] > 60


def test_spread_model_is_fitted_to_errors_of_each_past_event_predicted_from_the_others() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for year, shift in ((2022, -0.3), (2023, 0.0), (2024, 0.3)):
        day = pd.Timestamp(f"{year}-11-11")
        for _ in range(200):  # deposits and final both Poisson around a SKU's latent rate
            rate = rng.uniform(0.5, 15.0)
            units, final = rng.poisson(rate), rng.poisson(3.0 * rate * np.exp(shift))
            if units > 0:
                rows.append(("double_11", day, "textiles", float(units), float(final),
                             float(np.log((final + 0.5) / (units + 0.5)))))
    pairs = pd.DataFrame(rows, columns=["event", "event_date", "group", "deposits", "final", "log_ratio"])
    dispersion, event_shift = spread_model(pairs)
    assert 0.5 < dispersion < 2.0  # Poisson noise: about 1 on the counting term
    assert event_shift > 0.03  # the ±0.3 shifts between events show up as b², not as count noise
    # one event day alone: its own residuals, no shift between events can be seen
    _, shift_one = spread_model(pairs[pairs["event_date"] == pd.Timestamp("2023-11-11")])
    assert shift_one < event_shift
    # too few pairs: counting noise alone
    assert spread_model(pairs.head(MIN_PAIRS_FOR_SPREAD_MODEL - 1)) == (1.0, 0.0)
    assert spread_model(pairs.head(0)) == (1.0, 0.0)


def test_no_deposits_no_past_event_or_empty_input_changes_nothing() -> None:
    forecast = _forecast("A", 20.0, 10.0, 20.0, 35.0)
    empty = _deposits([])
    as_of = date(2025, 11, 4)
    out, adjustments = apply_presale_signal(forecast, empty, _finals({}), GROUPS, as_of, QUANTILES)
    pd.testing.assert_frame_equal(out, forecast)
    assert adjustments.empty
    only_this_year = _deposits([("A", D11_2025, "2025-10-26", 6)])
    out, adjustments = apply_presale_signal(forecast, only_this_year, _finals({}), GROUPS,
                                            date(2025, 11, 4), QUANTILES)
    pd.testing.assert_frame_equal(out, forecast)
    assert adjustments.empty
