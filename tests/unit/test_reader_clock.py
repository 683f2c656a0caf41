"""Quiet-hour windows, digest times and cap days in readers' zones, DST changes included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from db.reader_clock import (
    ONE_MINUTE,
    QuietHours,
    local_day,
    local_minute,
    next_hour,
    next_wall_time,
    parse_minute,
    parse_window,
    quiet_release,
    zone_named,
)

ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Asia/Riyadh",
        "Asia/Kolkata",
        "Australia/Lord_Howe",  # a half-hour DST change
        "America/Santiago",
        "Africa/Cairo",
    )
]

moments = st.datetimes(
    # Naive bounds are what hypothesis wants; the values drawn are aware (UTC).
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001
    max_value=datetime(2028, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
minutes = st.integers(min_value=0, max_value=24 * 60 - 1)


@st.composite
def windows(draw: st.DrawFn) -> QuietHours:
    start = draw(minutes)
    end = draw(minutes.filter(lambda m: m != start))
    return QuietHours(start, end)


def test_parse_window_accepts_crossing_midnight_and_refuses_bad_times() -> None:
    assert parse_window("23:00-07:00") == QuietHours(23 * 60, 7 * 60)
    assert parse_window("7:30 - 9:00") == QuietHours(450, 540)
    for bad in ("25:00-07:00", "23:60-07:00", "07:00-07:00", "7-9", "", "23:00", "ab:cd-07:00"):
        assert parse_window(bad) is None, bad
    assert parse_minute("24:00") is None and parse_minute("00:00") == 0


def test_window_crossing_midnight() -> None:
    night = QuietHours(23 * 60, 7 * 60)
    assert night.contains(23 * 60) and night.contains(0) and night.contains(7 * 60 - 1)
    assert not night.contains(7 * 60) and not night.contains(12 * 60)


def test_zone_names() -> None:
    assert zone_named("Asia/Riyadh") == ZoneInfo("Asia/Riyadh")
    for bad in ("Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "x" * 100):
        assert zone_named(bad) is None


def test_release_in_berlin_across_the_spring_gap() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-03-29: clocks go from 02:00 to 03:00; a window ending 02:30 ends at the jump.
    now = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 00:00 local
    release = quiet_release(now, berlin, QuietHours(23 * 60, 150))
    assert release == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # An ordinary night: 07:00 local, summer time.
    release = quiet_release(now, berlin, QuietHours(23 * 60, 7 * 60))
    assert release == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)


@settings(max_examples=400, deadline=None)
@given(now=moments, zone=st.sampled_from(ZONES), quiet=windows())
def test_release_is_the_first_moment_outside_the_window(
    now: datetime, zone: ZoneInfo, quiet: QuietHours
) -> None:
    release = quiet_release(now, zone, quiet)
    if not quiet.contains(local_minute(now, zone)):
        assert release is None
        return
    assert release is not None
    assert now < release <= now + timedelta(hours=27)
    assert not quiet.contains(local_minute(release, zone))
    # Every minute boundary between now and the release is still quiet.
    probe = release - ONE_MINUTE
    while probe > now and probe > release - timedelta(hours=2):
        assert quiet.contains(local_minute(probe, zone)), probe
        probe -= ONE_MINUTE


@settings(max_examples=300, deadline=None)
@given(now=moments, zone=st.sampled_from(ZONES), minute=minutes)
def test_next_wall_time_is_within_a_day_and_reads_the_minute(
    now: datetime, zone: ZoneInfo, minute: int
) -> None:
    moment = next_wall_time(now, zone, minute)
    assert now < moment <= now + timedelta(hours=26)
    read = local_minute(moment, zone)
    # A minute skipped by a DST jump reads later by the jump, never earlier.
    assert read == minute or 0 < (read - minute) % (24 * 60) <= 120


@settings(max_examples=200, deadline=None)
@given(now=moments, zone=st.sampled_from(ZONES))
def test_next_hour_and_local_day(now: datetime, zone: ZoneInfo) -> None:
    moment = next_hour(now, zone)
    assert now < moment <= now + timedelta(hours=1, minutes=1)
    assert moment.astimezone(zone).minute == 0
    assert local_day(now, zone) == now.astimezone(zone).date().isoformat()
