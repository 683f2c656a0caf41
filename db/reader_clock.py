"""Readers' local time: quiet-hour windows, digest times and the day a daily cap counts.

Pure arithmetic on aware datetimes and zoneinfo zones (no database): the fan-out works out each
distinct (zone, window) once with these, then lets SQL apply the answer to every chat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 24 * 60
ONE_MINUTE = timedelta(minutes=1)
_HHMM = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_WINDOW = re.compile(r"([0-9]{1,2}:[0-9]{2})\s*[-–]\s*([0-9]{1,2}:[0-9]{2})")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window of local minutes [start, end); it crosses midnight when end < start."""

    start: int
    end: int

    def __post_init__(self) -> None:
        for minute in (self.start, self.end):
            if not 0 <= minute < MINUTES_PER_DAY:
                raise ValueError(f"minute {minute} is not within a day")
        if self.start == self.end:
            raise ValueError("quiet hours must not start and end at the same time")

    def contains(self, minute: int) -> bool:
        """Whether a local minute of the day falls in the window."""
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def describe(self) -> str:
        """As the reader writes it: HH:MM-HH:MM."""
        return f"{format_minute(self.start)}-{format_minute(self.end)}"


def parse_minute(words: str) -> int | None:
    """Minutes after midnight for "HH:MM" (00:00 to 23:59), else None."""
    match = _HHMM.fullmatch(words.strip())
    if match is None:
        return None
    hours, minutes = int(match[1]), int(match[2])
    if hours > 23 or minutes > 59:
        return None
    return hours * 60 + minutes


def parse_window(words: str) -> QuietHours | None:
    """QuietHours for "HH:MM-HH:MM", else None (bad times, or the same start and end)."""
    match = _WINDOW.fullmatch(words.strip())
    if match is None:
        return None
    start, end = parse_minute(match[1]), parse_minute(match[2])
    if start is None or end is None or start == end:
        return None
    return QuietHours(start, end)


def format_minute(minute: int) -> str:
    """HH:MM for minutes after midnight."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def zone_named(name: str) -> ZoneInfo | None:
    """The IANA zone of that name ("Asia/Riyadh"), or None for an unknown or odd name."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def local_minute(moment: datetime, zone: ZoneInfo) -> int:
    """The local minute of the day at a moment."""
    local = moment.astimezone(zone)
    return local.hour * 60 + local.minute


def local_day(moment: datetime, zone: ZoneInfo) -> str:
    """The local date at a moment, ISO formatted (what a daily cap counts within)."""
    return moment.astimezone(zone).date().isoformat()


def _at(day: date, minute: int, zone: ZoneInfo, fold: int) -> datetime:
    wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone).replace(fold=fold)
    return wall.astimezone(UTC)


def next_wall_time(now: datetime, zone: ZoneInfo, minute: int) -> datetime:
    """The first moment after now at which the local clock reads that minute.

    A wall time skipped by a DST change gives the earliest reading of it zoneinfo allows; one
    that occurs twice gives its first occurrence.
    """
    today = now.astimezone(zone).date()
    for offset in range(3):
        day = today + timedelta(days=offset)
        later = sorted(
            c for c in (_at(day, minute, zone, 0), _at(day, minute, zone, 1)) if c > now
        )
        if later:
            return later[0]
    raise AssertionError("a wall time recurs within three days")  # pragma: no cover


def quiet_release(now: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime | None:
    """When the quiet hours now in force end (None when now is not in them).

    The first moment after now whose local minute is outside the window: normally the window's
    end; on a night the clock jumps past the end, the jump itself.
    """
    if not quiet.contains(local_minute(now, zone)):
        return None
    moment = next_wall_time(now, zone, quiet.end)
    # Bounded walks: a DST change moves the end by at most a few hours.
    for _ in range(6 * 60):
        if quiet.contains(local_minute(moment, zone)):
            moment += ONE_MINUTE  # a skipped end read at the earlier offset: still quiet
        elif moment - ONE_MINUTE > now and not quiet.contains(
            local_minute(moment - ONE_MINUTE, zone)
        ):
            moment -= ONE_MINUTE  # the clock jumped past the end before reading it
        else:
            return moment
    return moment


def next_hour(now: datetime, zone: ZoneInfo) -> datetime:
    """The next moment after now at which the local clock shows a full hour."""
    moment = now.astimezone(UTC).replace(second=0, microsecond=0) + ONE_MINUTE
    while moment.astimezone(zone).minute != 0:
        moment += ONE_MINUTE
    return moment
