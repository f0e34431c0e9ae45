"""Seasonal pre-build timing: the order-by date and what this week's proposal may buy (pure dates).

The worked example (docs/design-notes.md): winter starts 15 Nov, pre-build 45 days → shelf by
1 Oct; lead time 30 days → order by 1 Sep; the Monday 31 Aug proposal is the
last one that can place it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

SeasonalMode = Literal["not_yet", "prebuild", "in_season", "too_late"]


def order_by_date(season_start: date, prebuild_days: int, lead_time_days: int) -> date:
    """Last business date an order can be placed so stock is on the shelf `prebuild_days`
    before the season starts: season start − pre-build days − supplier lead time."""
    return season_start - timedelta(days=prebuild_days + lead_time_days)


@dataclass(frozen=True, kw_only=True)
class SeasonalDecision:
    """What week `week`'s proposal does for one seasonal SKU and supplier lead time.

    `mode`: not_yet (a later proposal can still place the pre-build order), prebuild
    (this is the last proposal before the order-by date: buy the season quantity),
    in_season (past the order-by date, stock can still arrive before season end:
    top up for the rest of the season), too_late (nothing ordered now arrives in time).
    `demand_start`/`demand_end` (inclusive) is the demand the buy must cover: from the
    proposal week to the season end. The position it is netted against is today's, and
    pre-season sales (stock is on the shelf from the pre-build date, and Double 11 falls
    before winter starts) draw on that same stock, so they belong in the window.
    """

    mode: SeasonalMode
    order_by: date
    season_start: date
    season_end: date
    demand_start: date
    demand_end: date


def seasonal_decision(
    week: date,
    review_period_days: int,
    season: tuple[date, date],
    prebuild_days: int,
    lead_time_days: int,
) -> SeasonalDecision:
    """Decide for the proposal of `week` (its first day) against one season (inclusive dates).

    The proposal of week W places the pre-build order when W ≤ order-by < W + review
    period, i.e. the next proposal would be too late.
    """
    start, end = season
    order_by = order_by_date(start, prebuild_days, lead_time_days)
    next_proposal = week + timedelta(days=review_period_days)
    arrival = week + timedelta(days=lead_time_days)
    if next_proposal <= order_by:
        mode: SeasonalMode = "not_yet"
    elif week <= order_by:
        mode = "prebuild"
    elif arrival <= end:
        mode = "in_season"
    else:
        mode = "too_late"
    return SeasonalDecision(
        mode=mode, order_by=order_by, season_start=start, season_end=end, demand_start=week, demand_end=end
    )


def next_season(
    week: date,
    season_window_of_year: Callable[[int], tuple[date, date]],
    years_ahead: int = 2,
) -> tuple[date, date]:
    """The first season (inclusive start, end) that has not ended before `week`; seasons that
    start in one year and end in the next (winter) are found from the previous year too."""
    for year in range(week.year - 1, week.year + years_ahead + 1):
        start, end = season_window_of_year(year)
        if end >= week:
            return start, end
    raise ValueError(f"no season ends on or after {week}")
