"""Selling seasons and the festival dates they can be anchored on, shared by forecasting and replenishment.

A category names its season (`Category.season`); `[seasons.NAME]` in the settings defines it: fixed
month-days (winter 15 Nov → end of February) or offsets from a festival computed per year from the
lunar calendar (`mid_autumn`, `spring_festival`). Forecasting reads the anchor (festival categories
measure their season in weeks from the festival); replenishment reads the window (pre-build timing).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Literal

import holidays
from lunardate import LunarDate
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LUNAR_FESTIVALS = {
    "spring_festival": (1, 1),
    "dragon_boat": (5, 5),
    "mid_autumn": (8, 15),
}

_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


def festival_date(name: str, year: int) -> date:
    """The Gregorian date of a festival in `year`.

    `name` is one of spring_festival (lunar 1/1), dragon_boat (5/5), mid_autumn
    (8/15) — converted from the lunar calendar (`lunardate`, 1900–2099) — or qingming (the
    Tomb-Sweeping solar term, 4 or 5 April), read from `holidays.China` where it has the
    year, else computed by the almanac's solar-term rule (`qingming_by_rule`).
    """
    if name in LUNAR_FESTIVALS:
        month, day = LUNAR_FESTIVALS[name]
        return LunarDate(year, month, day).to_solar_date()
    if name == "qingming":
        for day, label in holidays.China(years=year).items():
            if "Tomb-Sweeping" in label:
                return day
        return qingming_by_rule(year)
    raise ValueError(f"unknown festival {name!r}; expected one of "
                     f"{sorted([*LUNAR_FESTIVALS, 'qingming'])}")


# Solar-term constants of the Qingming term (sun at 15° longitude) per century, for the
# "Y·D + C − L" rule of the Chinese almanac (D = 0.2422 days a year of drift).
_QINGMING_C = {19: 5.59, 20: 4.81}


def qingming_by_rule(year: int) -> date:
    """Qingming by the almanac's solar-term rule: April ⌊Y·0.2422 + C⌋ − ⌊Y/4⌋ (Y = year mod 100).

    Used for the years `holidays.China` does not give (before 2008, when Qingming became a
    day off); it agrees with `holidays.China` on every year both give (tested 2008–2060).
    Valid 1900–2099.
    """
    if not 1900 <= year <= 2099:
        raise ValueError(f"Qingming is computed for 1900–2099 only, not {year}")
    y = year % 100
    day = int(y * 0.2422 + _QINGMING_C[year // 100]) - y // 4
    return date(year, 4, day)


class SeasonSettings(BaseModel):
    """A selling season (`[seasons.NAME]`): fixed month-days, or offsets from a lunar festival."""

    model_config = ConfigDict(extra="forbid")

    anchor: Literal["fixed", "spring_festival", "mid_autumn"] = "fixed"
    start: str | None = Field(default=None, description="MM-DD for a fixed season")
    end: str | None = Field(default=None, description="MM-DD; may fall in the next year")
    start_offset_days: int = 0
    end_offset_days: int = 0
    prebuild_days: int = Field(ge=0, le=365)

    @field_validator("start", "end")
    @classmethod
    def _month_day(cls, value: str | None) -> str | None:
        if value is not None and not _MONTH_DAY.match(value):
            raise ValueError(f"expected MM-DD such as 11-15, got {value!r}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> SeasonSettings:
        if self.anchor == "fixed" and (self.start is None or self.end is None):
            raise ValueError("a fixed season needs both start and end (MM-DD)")
        if self.anchor != "fixed" and self.end_offset_days < self.start_offset_days:
            raise ValueError("end_offset_days must not be before start_offset_days")
        return self


def season_window(season: SeasonSettings, year: int) -> tuple[date, date]:
    """Return the inclusive (start, end) business dates of the season that starts in `year`.

    A fixed season whose end month-day is before its start ends in the next year
    (winter 15 Nov → end of February). A lunar season is anchored on that year's
    festival, computed from the lunar calendar.
    """
    if season.anchor == "fixed":
        assert season.start and season.end
        start = _month_day(year, season.start)
        end = _month_day(year, season.end)
        if end < start:
            end = _month_day(year + 1, season.end)
        return start, end
    anchor = festival_date(season.anchor, year)
    return anchor + timedelta(days=season.start_offset_days), anchor + timedelta(days=season.end_offset_days)


def _month_day(year: int, month_day: str) -> date:
    month, day = (int(part) for part in month_day.split("-"))
    if month == 2 and day >= 28:
        # "end of February" follows leap years.
        return date(year, 3, 1) - timedelta(days=1)
    return date(year, month, day)
