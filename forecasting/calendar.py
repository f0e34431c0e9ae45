"""The Chinese retail event calendar: festival dates computed per year, and event anchor frames.

Lunar festivals come from the lunar calendar (`lunardate`), Qingming (a solar
term) from `holidays.China`; nothing here is a typed list of dates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import holidays
import pandas as pd
from lunardate import LunarDate

from forecasting.columns import DS, EVENT

LUNAR_FESTIVALS = {
    "spring_festival": (1, 1),
    "dragon_boat": (5, 5),
    "mid_autumn": (8, 15),
}
FIXED_EVENTS = {
    "labour_day": (5, 1),
    "national_day": (10, 1),
    "e618": (6, 18),
    "double_11": (11, 11),
    "double_12": (12, 12),
}
EVENT_NAMES = (
    "spring_festival", "qingming", "labour_day", "dragon_boat", "mid_autumn",
    "national_day", "e618", "double_11", "double_12", "member_day",
)

# Day offsets around an anchor, grouped into windows whose effects are learnt from
# history (see forecasting.events). Spring Festival gets a long build-up and a long
# logistics dip; platform sales have pre-sale build-up and a post-sale hangover.
_STANDARD_WINDOWS = {
    "pre_far": (-21, -8), "pre_near": (-7, -1), "day": (0, 0),
    "post_near": (1, 7), "post_far": (8, 14),
}
EVENT_WINDOWS: dict[str, dict[str, tuple[int, int]]] = {
    name: dict(_STANDARD_WINDOWS) for name in EVENT_NAMES
}
EVENT_WINDOWS["spring_festival"] = {
    "pre_season": (-49, -29), "pre_far": (-28, -15), "pre_mid": (-14, -8), "pre_near": (-7, -1),
    "day": (0, 0),
    "post_near": (1, 7), "post_mid": (8, 14), "post_far": (15, 21),
}
EVENT_WINDOWS["mid_autumn"] = {
    "pre_season": (-42, -22), **_STANDARD_WINDOWS,
}
EVENT_WINDOWS["member_day"] = {"pre_near": (-2, -1), "day": (0, 0), "post_near": (1, 2)}
EVENT_WINDOWS["national_day"] = {
    "pre_far": (-21, -8), "pre_near": (-7, -1), "day": (0, 6), "post_near": (7, 13),
}
EVENT_WINDOWS["labour_day"] = {"pre_near": (-7, -1), "day": (0, 4), "post_near": (5, 11)}


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


def event_anchor_dates(start: date, end: date, enabled: Iterable[str] = EVENT_NAMES) -> pd.DataFrame:
    """One row per event occurrence whose anchor day falls in [start, end] (inclusive).

    Columns `event`, `ds` (Timestamp). Anchors a little outside the range are kept
    too, so that build-up and dip windows near the edges are known.
    """
    enabled = set(enabled)
    unknown = enabled - set(EVENT_NAMES)
    if unknown:
        raise ValueError(f"unknown calendar events {sorted(unknown)}")
    rows: list[tuple[str, date]] = []
    for year in range(start.year - 1, end.year + 2):
        for name in enabled:
            if name in LUNAR_FESTIVALS or name == "qingming":
                rows.append((name, festival_date(name, year)))
            elif name in FIXED_EVENTS:
                month, day = FIXED_EVENTS[name]
                rows.append((name, date(year, month, day)))
            elif name == "member_day":
                rows.extend((name, date(year, month, 18)) for month in range(1, 13))
    frame = pd.DataFrame(rows, columns=[EVENT, DS])
    frame[DS] = pd.to_datetime(frame[DS])
    lo = pd.Timestamp(start) - pd.Timedelta(days=40)
    hi = pd.Timestamp(end) + pd.Timedelta(days=40)
    frame = frame[(frame[DS] >= lo) & (frame[DS] <= hi)]
    return frame.sort_values([DS, EVENT]).reset_index(drop=True)


def enabled_events(calendar_settings: object) -> list[str]:
    """Event names switched on in restock's `[calendar]` settings (`e618`, `double_11`, ...)."""
    return [name for name in EVENT_NAMES if getattr(calendar_settings, name, True)]
