"""Reading an operator's broadcast time: every form, zones, daylight saving and each error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.newsroom.when import _MESSAGES, WhenError, parse_when

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # a Monday; no zone used here changes clocks soon
RIYADH = "Asia/Riyadh"  # UTC+3 all year
CAIRO = "Africa/Cairo"  # UTC+3 in summer, UTC+2 in winter (daylight saving since 2023)
BERLIN = "Europe/Berlin"  # 2026: clocks jump 02:00→03:00 on 29 March, 03:00→02:00 on 25 October
NEW_YORK = "America/New_York"  # 2026: 02:00→03:00 on 8 March, 02:00→01:00 on 1 November


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def when(text: str, now: datetime = NOW, zone: str = "UTC") -> datetime:
    moment = parse_when(text, now=now, zone=zone)
    assert moment.tzinfo is UTC
    return moment


def error(text: str, now: datetime = NOW, zone: str = "UTC") -> WhenError:
    with pytest.raises(WhenError) as caught:
        parse_when(text, now=now, zone=zone)
    return caught.value


# --- now ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["now", "NOW", "  Now \n"])
def test_now_is_now_in_utc(text: str) -> None:
    berlin_now = NOW.astimezone(ZoneInfo(BERLIN))
    assert when(text, now=berlin_now, zone=RIYADH) == NOW


# --- ISO 8601 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2026-12-01T18:00", "UTC", utc(2026, 12, 1, 18, 0)),
        ("2026-12-01 18:00", "UTC", utc(2026, 12, 1, 18, 0)),
        ("2026-12-01 18:00", RIYADH, utc(2026, 12, 1, 15, 0)),
        ("2026-12-01 18:00", CAIRO, utc(2026, 12, 1, 16, 0)),  # winter: UTC+2
        ("2026-07-01 18:00", CAIRO, utc(2026, 7, 1, 15, 0)),  # summer: UTC+3
        ("2026-12-01 18:00", BERLIN, utc(2026, 12, 1, 17, 0)),
        ("2026-07-01 18:00", NEW_YORK, utc(2026, 7, 1, 22, 0)),
        ("2026-12-01T18:00:00+03:00", "UTC", utc(2026, 12, 1, 15, 0)),
        ("2026-12-01T18:00:00+03:00", BERLIN, utc(2026, 12, 1, 15, 0)),  # offset beats zone
        ("2026-12-01T15:00Z", RIYADH, utc(2026, 12, 1, 15, 0)),
        ("2026-12-01t15:00z", RIYADH, utc(2026, 12, 1, 15, 0)),
        ("2026-12-01T10:00-05:00", "UTC", utc(2026, 12, 1, 15, 0)),
        ("2026-12-01T18:00+0330", "UTC", utc(2026, 12, 1, 14, 30)),
        ("2026-12-01 18:00 +03", "UTC", utc(2026, 12, 1, 15, 0)),
        ("2026-12-01T18:00:30", "UTC", utc(2026, 12, 1, 18, 0, 30)),
        ("2026-12-01T18:00:30.250", "UTC", datetime(2026, 12, 1, 18, 0, 30, 250_000, tzinfo=UTC)),
        ("2026-12-01 9:05", "UTC", utc(2026, 12, 1, 9, 5)),
        ("  2026-12-01    18:00  ", "UTC", utc(2026, 12, 1, 18, 0)),
    ],
)
def test_iso(text: str, zone: str, expected: datetime) -> None:
    assert when(text, zone=zone) == expected


def test_iso_exactly_now_is_accepted() -> None:
    assert when("2026-06-01T15:00+03:00") == NOW


def test_iso_a_year_ahead_is_the_limit() -> None:
    assert when("2027-06-01 12:00") == NOW + timedelta(days=365)
    assert error("2027-06-01 12:01").code == "too_far"


# --- HH:MM -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12:01", utc(2026, 6, 1, 12, 1)),  # still ahead today
        ("23:59", utc(2026, 6, 1, 23, 59)),
        ("12:00", utc(2026, 6, 2, 12, 0)),  # exactly now: strictly after, so tomorrow
        ("11:59", utc(2026, 6, 2, 11, 59)),  # passed: rolls over to tomorrow
        ("00:00", utc(2026, 6, 2, 0, 0)),
        ("9:30", utc(2026, 6, 2, 9, 30)),
        ("at 18:30", utc(2026, 6, 1, 18, 30)),
        ("١٨:٣٠", utc(2026, 6, 1, 18, 30)),  # Arabic-Indic digits
    ],
)
def test_clock_in_utc(text: str, expected: datetime) -> None:
    assert when(text) == expected


def test_clock_uses_the_zones_day_not_utcs() -> None:
    late = utc(2026, 6, 1, 20, 30)  # 23:30 on 1 June in Riyadh
    assert when("23:45", now=late, zone=RIYADH) == utc(2026, 6, 1, 20, 45)
    assert when("00:15", now=late, zone=RIYADH) == utc(2026, 6, 1, 21, 15)  # 2 June, Riyadh
    assert when("23:00", now=late, zone=RIYADH) == utc(2026, 6, 2, 20, 0)
    early = utc(2026, 6, 1, 22, 0)  # already 01:00 on 2 June in Riyadh
    assert when("02:00", now=early, zone=RIYADH) == utc(2026, 6, 1, 23, 0)
    assert when("00:30", now=early, zone=RIYADH) == utc(2026, 6, 2, 21, 30)  # 3 June, Riyadh


def test_clock_in_cairo_summer_and_winter() -> None:
    assert when("18:00", zone=CAIRO) == utc(2026, 6, 1, 15, 0)
    winter = utc(2026, 12, 1, 12, 0)
    assert when("18:00", now=winter, zone=CAIRO) == utc(2026, 12, 1, 16, 0)


def test_the_zone_of_now_does_not_matter() -> None:
    for shown in (UTC, ZoneInfo(NEW_YORK), ZoneInfo(RIYADH)):
        assert when("09:00", now=NOW.astimezone(shown), zone=RIYADH) == utc(2026, 6, 2, 6, 0)


# --- tomorrow HH:MM ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("tomorrow 09:00", "UTC", utc(2026, 6, 2, 9, 0)),
        ("tomorrow 23:59", "UTC", utc(2026, 6, 2, 23, 59)),
        ("Tomorrow 9:00", RIYADH, utc(2026, 6, 2, 6, 0)),
        ("TOMORROW at 09:00", CAIRO, utc(2026, 6, 2, 6, 0)),
        ("tomorrow 09:00", NEW_YORK, utc(2026, 6, 2, 13, 0)),
    ],
)
def test_tomorrow(text: str, zone: str, expected: datetime) -> None:
    assert when(text, zone=zone) == expected


def test_tomorrow_is_the_zones_next_day() -> None:
    early = utc(2026, 6, 1, 22, 0)  # already 2 June in Riyadh
    assert when("tomorrow 09:00", now=early, zone=RIYADH) == utc(2026, 6, 3, 6, 0)
    assert when("tomorrow 09:00", now=early, zone="UTC") == utc(2026, 6, 2, 9, 0)


# --- in DURATION -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delay"),
    [
        ("in 2h", timedelta(hours=2)),
        ("in 30m", timedelta(minutes=30)),
        ("in 1h30m", timedelta(minutes=90)),
        ("in 1h 30m", timedelta(minutes=90)),
        ("in 45 min", timedelta(minutes=45)),
        ("in 2 hours", timedelta(hours=2)),
        ("in 1 hour", timedelta(hours=1)),
        ("in 90 minutes", timedelta(minutes=90)),
        ("in 1 minute", timedelta(minutes=1)),
        ("in 1d", timedelta(days=1)),
        ("in 2 days", timedelta(days=2)),
        ("in 1d2h3m", timedelta(days=1, hours=2, minutes=3)),
        ("In 2H", timedelta(hours=2)),
        ("  in   2   hours ", timedelta(hours=2)),
        ("in 365d", timedelta(days=365)),
        ("in 525600m", timedelta(days=365)),
        ("in 007m", timedelta(minutes=7)),
        ("in ٢h", timedelta(hours=2)),
    ],
)
def test_duration(text: str, delay: timedelta) -> None:
    assert when(text) == NOW + delay
    assert when(text, zone=RIYADH) == NOW + delay


def test_duration_is_elapsed_time_across_a_clock_change() -> None:
    # 12:00 in Berlin the day before spring-forward; a day later the wall clock reads 13:00.
    now = datetime(2026, 3, 28, 12, 0, tzinfo=ZoneInfo(BERLIN))
    assert when("in 1d", now=now, zone=BERLIN) == utc(2026, 3, 29, 11, 0)
    later = when("in 24h", now=now, zone=BERLIN).astimezone(ZoneInfo(BERLIN))
    assert (later.day, later.hour) == (29, 13)


# --- daylight saving ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone", "now", "expected"),
    [
        # Spring-forward gap: the missing 02:30 moves forward by the hour, to 03:30 summer time.
        ("2026-03-29 02:30", BERLIN, NOW.replace(month=3), utc(2026, 3, 29, 1, 30)),
        ("2026-03-08 02:30", NEW_YORK, NOW.replace(month=3), utc(2026, 3, 8, 7, 30)),
        ("tomorrow 02:30", BERLIN, utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 1, 30)),
        ("02:30", BERLIN, utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 1, 30)),
        # Fall-back hour: the repeated 02:30 is its first occurrence, still on summer time.
        ("2026-10-25 02:30", BERLIN, NOW, utc(2026, 10, 25, 0, 30)),
        ("2026-11-01 01:30", NEW_YORK, NOW, utc(2026, 11, 1, 5, 30)),
        ("tomorrow 02:30", BERLIN, utc(2026, 10, 24, 12, 0), utc(2026, 10, 25, 0, 30)),
        ("02:30", BERLIN, utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 0, 30)),
    ],
)
def test_daylight_saving(text: str, zone: str, now: datetime, expected: datetime) -> None:
    assert when(text, now=now, zone=zone) == expected


def test_gap_time_reads_as_the_wall_time_after_the_jump() -> None:
    moment = when("2026-03-29 02:30", now=NOW.replace(month=3), zone=BERLIN)
    local = moment.astimezone(ZoneInfo(BERLIN))
    assert (local.hour, local.minute, local.utcoffset()) == (3, 30, timedelta(hours=2))


def test_clock_takes_the_second_occurrence_once_the_first_has_passed() -> None:
    # 02:40 summer time on 25 October: the clock reads 02:30 again 50 minutes later, in winter.
    assert when("02:30", now=utc(2026, 10, 25, 0, 40), zone=BERLIN) == utc(2026, 10, 25, 1, 30)
    # After both, the next 02:30 is the following day's.
    assert when("02:30", now=utc(2026, 10, 25, 1, 40), zone=BERLIN) == utc(2026, 10, 26, 1, 30)


def test_past_iso_in_the_repeated_hour() -> None:
    # The first 02:30 has passed even though the wall clock will read 02:30 again.
    assert error("2026-10-25 02:30", now=utc(2026, 10, 25, 0, 40), zone=BERLIN).code == "past"


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty(text: str) -> None:
    assert error(text).code == "empty"


@pytest.mark.parametrize(
    "text",
    [
        "soon",
        "in",
        "in 5",
        "in 1.5h",
        "in -5m",
        "in 2 weeks",
        "in 1h30",
        "in 1m1m",
        "2h",
        "tomorrow",
        "yesterday 10:00",
        "18",
        "18:3",
        "123:00",
        "18:30:00",
        "2026-12-01",
        "2026-12-1 18:00",
        "01/12/2026 18:00",
        "2026-12-01T18:00+25:00",
        "2026-12-01T18:00+03:60",
        "now please",
        "١٨:٣٠ غدًا",
    ],
)
def test_malformed(text: str) -> None:
    err = error(text)
    assert err.code == "malformed"
    assert err.values == {"text": text}
    assert text in err.message("en")
    assert text in err.message("ar")
    assert "tomorrow 09:00" in err.message("en")
    assert "tomorrow 09:00" in err.message("ar")


def test_malformed_echo_is_shortened_to_one_line() -> None:
    text = "please send this out\n  when  the   match is over, " + "x" * 100
    echo = error(text).values["text"]
    assert isinstance(echo, str)
    assert len(echo) == 40
    assert echo.startswith("please send this out when the match is")
    assert echo.endswith("…")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("25:00", "25:00"),
        ("12:60", "12:60"),
        ("24:00", "24:00"),
        ("at 99:99", "99:99"),
        ("tomorrow 25:00", "25:00"),
        ("2026-12-01T25:00", "25:00"),
        ("2026-12-01 18:00:60", "18:00:60"),
    ],
)
def test_bad_time(text: str, shown: str) -> None:
    err = error(text)
    assert err.code == "bad_time"
    assert err.values == {"time": shown}
    assert shown in err.message("en")
    assert shown in err.message("ar")


@pytest.mark.parametrize("text", ["2026-02-30 10:00", "2026-13-01 10:00", "0000-01-01 10:00"])
def test_bad_date(text: str) -> None:
    err = error(text)
    assert err.code == "bad_date"
    assert err.values == {"date": text[:10]}


def test_past_names_the_time_and_now() -> None:
    err = error("2026-01-01 09:00", zone=RIYADH)
    assert err.code == "past"
    assert err.values == {"time": "2026-01-01 09:00+03:00", "now": "2026-06-01 15:00+03:00"}
    assert "2026-01-01 09:00+03:00" in err.message("en")
    assert "2026-01-01 09:00+03:00" in err.message("ar")


@pytest.mark.parametrize(
    "text",
    ["2026-06-01T11:59Z", "2026-06-01T11:59:59.999999Z", "0001-01-01T00:00+23:59"],
)
def test_past(text: str) -> None:
    assert error(text).code == "past"


@pytest.mark.parametrize(
    "text",
    [
        "in 366d",
        "in 365d1m",
        "in 8761h",
        "in 525601m",
        "in 99999999999999999999 minutes",
        "in " + "9" * 5000 + "m",  # past int()'s digit limit
        "2027-06-02 12:00",
        "9999-12-31T23:59-23:59",  # converting this to UTC would overflow
    ],
)
def test_too_far(text: str) -> None:
    err = error(text)
    assert err.code == "too_far"
    assert "365" in err.message("en")
    assert "365" in err.message("ar")


@pytest.mark.parametrize("text", ["in 0m", "in 0h0m", "in 00 minutes", "in 0d 0h 0m"])
def test_zero_duration(text: str) -> None:
    assert error(text).code == "zero_duration"


def test_naive_now_is_a_programming_error() -> None:
    naive = NOW.replace(tzinfo=None)
    with pytest.raises(ValueError, match="aware") as caught:
        parse_when("now", now=naive, zone="UTC")
    assert not isinstance(caught.value, WhenError)


# --- messages ----------------------------------------------------------------------------

SAMPLE_VALUES: dict[str, dict[str, object]] = {
    "empty": {},
    "malformed": {"text": "soon"},
    "bad_time": {"time": "25:00"},
    "bad_date": {"date": "2026-02-30"},
    "past": {"time": "2026-01-01 09:00+03:00", "now": "2026-06-01 15:00+03:00"},
    "too_far": {"days": 365},
    "zero_duration": {},
}


def test_every_code_has_sample_values() -> None:
    assert set(SAMPLE_VALUES) == set(_MESSAGES)


@pytest.mark.parametrize("code", sorted(SAMPLE_VALUES))
def test_messages_in_both_languages(code: str) -> None:
    err = WhenError(code, **SAMPLE_VALUES[code])
    english, arabic = err.message("en"), err.message("ar")
    assert str(err) == english
    assert err.message("fr") == english
    assert arabic != english
    assert any("\u0600" <= char <= "\u06ff" for char in arabic)
    for text in (english, arabic):
        assert "{" not in text
        assert "}" not in text
        for value in SAMPLE_VALUES[code].values():
            assert str(value) in text


def test_braces_in_the_input_are_echoed_not_formatted() -> None:
    assert "{now}" in error("{now}").message("en")


def test_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown WhenError code"):
        WhenError("nope")


def test_error_is_a_value_error() -> None:
    assert isinstance(error("soon"), ValueError)


# --- properties --------------------------------------------------------------------------

ZONES = st.sampled_from(["UTC", RIYADH, CAIRO, BERLIN, NEW_YORK, "Asia/Kolkata"])
FIXED_ZONES = st.sampled_from(["UTC", RIYADH, "Asia/Kolkata"])  # no daylight saving
DST_ZONES = st.sampled_from([BERLIN, NEW_YORK, CAIRO])
# Any instant from 2000 to 2100, seen from any zone: `now` is aware but not necessarily UTC.
NOWS = st.builds(
    lambda seconds, zone: datetime.fromtimestamp(seconds, tz=UTC).astimezone(ZoneInfo(zone)),
    st.integers(min_value=946_684_800, max_value=4_102_444_800),
    ZONES,
)
CLOCKS = st.tuples(st.integers(0, 23), st.integers(0, 59))


@given(now=NOWS, minutes=st.integers(1, 365 * 24 * 60), zone=ZONES)
def test_in_minutes_is_now_plus_minutes(now: datetime, minutes: int, zone: str) -> None:
    # Elapsed time: added in UTC, since adding to a zoned datetime would move its wall clock.
    expected = now.astimezone(UTC) + timedelta(minutes=minutes)
    assert when(f"in {minutes}m", now=now, zone=zone) == expected


@given(now=NOWS, hours=st.integers(0, 48), minutes=st.integers(0, 59), zone=ZONES)
def test_in_hours_and_minutes(now: datetime, hours: int, minutes: int, zone: str) -> None:
    text = f"in {hours}h{minutes}m"
    if hours == minutes == 0:
        assert error(text, now=now, zone=zone).code == "zero_duration"
    else:
        expected = now.astimezone(UTC) + timedelta(hours=hours, minutes=minutes)
        assert when(text, now=now, zone=zone) == expected


@given(now=NOWS, clock=CLOCKS, zone=FIXED_ZONES)
def test_clock_is_within_the_next_day(now: datetime, clock: tuple[int, int], zone: str) -> None:
    hour, minute = clock
    moment = when(f"{hour:02}:{minute:02}", now=now, zone=zone)
    assert now < moment <= now + timedelta(hours=24)
    local = moment.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute, local.second) == (hour, minute, 0)


@given(now=NOWS, clock=CLOCKS, zone=DST_ZONES)
def test_clock_with_daylight_saving(now: datetime, clock: tuple[int, int], zone: str) -> None:
    hour, minute = clock
    moment = when(f"{hour}:{minute:02}", now=now, zone=zone)
    # A day that falls back lasts 25 hours, so "today, still ahead" can be that far away.
    assert now < moment <= now + timedelta(hours=25)
    local = moment.astimezone(ZoneInfo(zone))
    if (local.hour, local.minute) != (hour, minute):
        # Only a wall time in a spring-forward gap may differ: it moves forward by the gap.
        wall = local.replace(hour=hour, minute=minute, fold=0)
        assert wall.astimezone(UTC) == moment


@given(now=NOWS, ahead=st.integers(0, 365 * 24 * 3600), zone=ZONES)
def test_iso_round_trip(now: datetime, ahead: int, zone: str) -> None:
    instant = now.astimezone(UTC) + timedelta(seconds=ahead)
    written = instant.astimezone(now.tzinfo).isoformat()
    # Compared in UTC: == between zones is always False for the second of a repeated hour.
    for text in (written, instant.isoformat().replace("+00:00", "Z")):
        assert when(text, now=now, zone=zone) == instant


@given(now=NOWS, ahead=st.integers(1, 365 * 24 * 60), zone=FIXED_ZONES)
def test_local_iso_reads_in_the_zone(now: datetime, ahead: int, zone: str) -> None:
    # Cut to the minute, still after now since at least a whole minute was added.
    later = now.astimezone(UTC) + timedelta(minutes=ahead)
    moment = later.astimezone(ZoneInfo(zone)).replace(second=0, microsecond=0)
    text = moment.replace(tzinfo=None).isoformat(sep=" ", timespec="minutes")
    assert when(text, now=now, zone=zone) == moment


# Random text rarely parses; text from the forms' own characters reaches every branch.
TYPED = st.text(max_size=60) | st.text(alphabet="0123456789٣:-+. tTzZinhmdaysour", max_size=30)


@given(text=TYPED, now=NOWS, zone=ZONES)
def test_any_text_gives_a_utc_time_or_a_when_error(text: str, now: datetime, zone: str) -> None:
    try:
        moment = parse_when(text, now=now, zone=zone)
    except WhenError as err:
        assert err.message("ar")
        assert err.message("en")
    else:
        assert moment.tzinfo is UTC
        assert now <= moment <= now + timedelta(days=365)
