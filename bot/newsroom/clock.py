"""The one clock: every "now" stamped or compared comes from a Clock, so tests move time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]
LOCAL_FORMAT = "%Y-%m-%d %H:%M %Z"


def utcnow() -> datetime:
    """The wall clock, aware."""
    return datetime.now(UTC)


def local_time(moment: datetime, zone: str | ZoneInfo) -> str:
    """A moment as operators read it: date, minutes and the zone's abbreviation."""
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    return moment.astimezone(tz).strftime(LOCAL_FORMAT)
