"""The Chinese retail event calendar: festival dates computed per year, and event anchor frames.

Festival dates come from `kernel.seasons.festival_date` (the lunar calendar for lunar festivals,
`holidays.China` for Qingming); nothing here is a typed list of dates.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd

from forecasting.columns import DS, EVENT
from kernel.seasons import LUNAR_FESTIVALS, festival_date

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
