"""A festival good's season follows its moving lunar festival, not the week of the year."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from forecasting import EngineConfig, forecast_panel
from forecasting.profiles import FESTIVAL_POSITION, season_position
from kernel.seasons import festival_date

NO_EVENTS = pd.DataFrame(columns=["event", "ds"])
ORIGIN = date(2025, 8, 31)  # history: the Spring Festivals of 2023, 2024 and 2025


def _gift_box_history(n_series: int = 4) -> pd.DataFrame:
    """Daily sales ×25 in the 3 weeks before each year's Spring Festival, base 2/day, Poisson."""
    days = pd.date_range(ORIGIN - timedelta(days=3 * 365 - 1), ORIGIN, freq="D")
    rate = np.full(len(days), 2.0)
    for year in range(days[0].year, days[-1].year + 1):
        festival = pd.Timestamp(festival_date("spring_festival", year))
        rate[(days >= festival - pd.Timedelta(days=21)) & (days < festival)] = 50.0
    rng = np.random.default_rng(7)
    return pd.concat([
        pd.DataFrame({"unique_id": f"box{k}", "ds": days, "y": rng.poisson(rate).astype(float)})
        for k in range(n_series)
    ], ignore_index=True)


def _peak_share(anchors: dict[str, str], events: pd.DataFrame | None) -> tuple[float, pd.Timestamp]:
    history = _gift_box_history()
    groups = pd.Series("gift_boxes", index=history["unique_id"].unique())
    config = EngineConfig(horizon=182, season_anchors=anchors)
    result = forecast_panel(history, 182, "D", events=events, groups=groups, config=config)
    total = result.forecasts.groupby("ds")["mean"].sum()
    festival = pd.Timestamp(festival_date("spring_festival", ORIGIN.year + 1))
    before = total[(total.index >= festival - pd.Timedelta(days=21)) & (total.index < festival)]
    season = total[(total.index >= festival - pd.Timedelta(days=56))
                   & (total.index < festival + pd.Timedelta(days=21))]
    weekly = total.rolling(7).sum()
    return float(before.sum() / season.sum()), weekly.idxmax()


def test_season_position_counts_weeks_from_the_festival() -> None:
    for year in (2024, 2025, 2026, 2027):
        festival = pd.Timestamp(festival_date("spring_festival", year))
        ends = pd.DatetimeIndex([festival - pd.Timedelta(days=1), festival,
                                 festival + pd.Timedelta(days=6), festival + pd.Timedelta(days=7)])
        assert list(season_position(ends, 52, "spring_festival")) == [
            FESTIVAL_POSITION - 1, FESTIVAL_POSITION, FESTIVAL_POSITION, FESTIVAL_POSITION + 1]


@pytest.mark.parametrize("events", [NO_EVENTS, None], ids=["season_only", "with_calendar"])
def test_peak_before_a_moving_festival_is_forecast_in_the_right_weeks(events: pd.DataFrame | None) -> None:
    # Spring Festival 2026 falls on 17 Feb, 19 days later in the year than the 2023–2025 average.
    share, peak_end = _peak_share({"gift_boxes": "spring_festival"}, events)
    festival = pd.Timestamp(festival_date("spring_festival", ORIGIN.year + 1))
    # The busiest 7 days lie inside the 3 weeks before the festival, and most of the
    # season's units are forecast there (the week-of-year index put them ~3 weeks early).
    assert festival - pd.Timedelta(days=15) <= peak_end <= festival - pd.Timedelta(days=1)
    assert share > 0.7


def test_without_an_anchor_the_week_of_year_index_misplaces_the_peak() -> None:
    anchored, _ = _peak_share({"gift_boxes": "spring_festival"}, NO_EVENTS)
    by_week_of_year, _ = _peak_share({}, NO_EVENTS)
    assert by_week_of_year < anchored - 0.1


def test_season_anchor_must_be_a_lunar_festival() -> None:
    with pytest.raises(ValueError, match="lunar festival"):
        EngineConfig(horizon=7, season_anchors={"gift_boxes": "double_11"})
