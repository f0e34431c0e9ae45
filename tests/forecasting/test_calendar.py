"""The event calendar computes lunar festivals per year and places every event on its dates."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from forecasting.calendar import EVENT_NAMES, event_anchor_dates
from forecasting.events import event_design
from kernel.seasons import festival_date


@pytest.mark.parametrize(
    ("year", "expected"),
    [(2025, date(2025, 1, 29)), (2026, date(2026, 2, 17)), (2027, date(2027, 2, 6))],
)
def test_spring_festival_is_computed_from_the_lunar_calendar(year: int, expected: date) -> None:
    assert festival_date("spring_festival", year) == expected


def test_other_festivals_fall_on_their_known_dates() -> None:
    assert festival_date("mid_autumn", 2025) == date(2025, 10, 6)
    assert festival_date("dragon_boat", 2025) == date(2025, 5, 31)
    assert festival_date("qingming", 2025) == date(2025, 4, 4)
    assert festival_date("mid_autumn", 2026) == date(2026, 9, 25)


def test_unknown_festival_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown festival"):
        festival_date("christmas", 2025)


def test_anchor_frame_holds_platform_days_member_days_and_festivals() -> None:
    anchors = event_anchor_dates(date(2025, 1, 1), date(2025, 12, 31))
    by_event = anchors.groupby("event")["ds"].apply(set)
    assert pd.Timestamp("2025-11-11") in by_event["double_11"]
    assert pd.Timestamp("2025-06-18") in by_event["e618"]
    assert pd.Timestamp("2025-12-12") in by_event["double_12"]
    assert pd.Timestamp("2025-05-01") in by_event["labour_day"]
    assert pd.Timestamp("2025-10-01") in by_event["national_day"]
    assert pd.Timestamp("2025-01-29") in by_event["spring_festival"]
    assert {pd.Timestamp(f"2025-{m:02d}-18") for m in range(1, 13)} <= by_event["member_day"]
    assert set(anchors["event"]) == set(EVENT_NAMES)


def test_event_features_mark_the_spring_festival_day_and_its_build_up() -> None:
    grid = pd.date_range("2026-01-01", "2026-03-31", freq="D")
    anchors = event_anchor_dates(date(2026, 1, 1), date(2026, 3, 31), ["spring_festival"])
    design = event_design(grid, "D", anchors)
    day = design.columns.index(("spring_festival", "day"))
    near = design.columns.index(("spring_festival", "pre_near"))
    on_day = grid.get_loc(pd.Timestamp("2026-02-17"))
    assert design.matrix[on_day, day] == 1.0
    assert design.matrix[:, day].sum() == 1.0
    assert design.matrix[on_day - 3, near] == 1.0 and design.matrix[on_day, near] == 0.0


def test_weekly_event_features_are_the_share_of_the_week_inside_the_window() -> None:
    grid = pd.date_range("2025-11-02", periods=4, freq="W-SUN")
    anchors = event_anchor_dates(date(2025, 11, 1), date(2025, 11, 30), ["double_11"])
    design = event_design(grid, "W-SUN", anchors)
    day = design.columns.index(("double_11", "day"))
    # 2025-11-11 falls in the week ending Sunday 16 November.
    assert list(design.matrix[:, day]) == [0.0, 0.0, pytest.approx(1 / 7), 0.0]


def test_qingming_rule_agrees_with_holidays_china_wherever_both_give_a_date() -> None:
    import holidays

    from kernel.seasons import qingming_by_rule

    compared = 0
    for year in range(1990, 2061):
        days = [d for d, label in holidays.China(years=year).items() if "Tomb-Sweeping" in label]
        if days:
            assert qingming_by_rule(year) == days[0], year
            compared += 1
    assert compared >= 50  # holidays.China gives Qingming from 2008 on


def test_history_before_1990_gets_a_calendar_instead_of_an_error() -> None:
    from forecasting.calendar import event_anchor_dates

    events = event_anchor_dates(date(1985, 1, 1), date(1991, 12, 31))
    qingming = events[events["event"] == "qingming"]["ds"].dt.date.tolist()
    assert date(1985, 4, 5) in qingming and date(1989, 4, 5) in qingming
    assert len(events[events["event"] == "spring_festival"]) >= 7
    assert festival_date("spring_festival", 1985) == date(1985, 2, 20)
