"""The one place restock reads the real clock; everything else takes `now`/`as_of` as an argument."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def now(tz: ZoneInfo) -> datetime:
    """The current instant, aware, in the given zone."""
    return datetime.now(tz)


def business_today(tz: ZoneInfo) -> date:
    """Today's business date in the configured time zone."""
    return now(tz).date()
