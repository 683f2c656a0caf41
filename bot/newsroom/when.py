"""Reading the time an operator gives when scheduling a broadcast ("now", "18:30", "in 2h" …).

Local wall times are read in the bot's zone (NEWSBOT_TIMEZONE). Around daylight-saving changes:
- a wall time that does not exist (the spring-forward gap) moves forward by the gap, so 02:30
  on a day whose clocks jump from 02:00 to 03:00 becomes 03:30. This is what zoneinfo gives for
  fold=0 once the time is normalised through UTC: the gap is read with the offset before it;
- a wall time that happens twice (the fall-back hour) is its first occurrence (fold=0). Only
  a bare HH:MM, which means "the next time the clock reads this", takes the second occurrence,
  and only when the first has already passed but the second is still ahead.
"in 2h" is elapsed time, added in UTC, so across a clock change the wall clock moves 1h more or
less. Error messages are plain text and echo what the operator typed: escape them for HTML.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Final
from zoneinfo import ZoneInfo

MAX_AHEAD: Final = timedelta(days=365)
ECHO_LIMIT: Final = 40  # characters of unreadable input quoted back to the operator

# The forms are typed in English in either language, so only the separator between them changes.
_FORMS: Final = ("now", "18:30", "tomorrow 09:00", "in 2h", "in 1h30m", "YYYY-MM-DD HH:MM")
_SEPARATORS: Final = {"ar": "، ", "en": ", "}

_MESSAGES: Final[dict[str, dict[str, str]]] = {
    "empty": {
        "ar": "اكتب وقت البث، مثل: {forms}.",
        "en": "Give a time for the broadcast, such as: {forms}.",
    },
    "malformed": {
        "ar": "تعذّر فهم «{text}» كوقت. الصيغ المقبولة: {forms}.",
        "en": "Cannot read “{text}” as a time. Accepted forms: {forms}.",
    },
    "bad_time": {
        "ar": "الساعة {time} غير صحيحة؛ استخدم نظام 24 ساعة من 00:00 إلى 23:59.",
        "en": "{time} is not a time of day; use the 24-hour clock, 00:00 to 23:59.",
    },
    "bad_date": {
        "ar": "التاريخ {date} غير موجود في التقويم.",
        "en": "{date} is not a date on the calendar.",
    },
    "past": {
        "ar": "الوقت {time} قد مضى (الآن {now}).",
        "en": "{time} has already passed (it is now {now}).",
    },
    "too_far": {
        "ar": "هذا الموعد أبعد من {days} يومًا؛ اختر وقتًا خلال سنة.",
        "en": "That is more than {days} days ahead; choose a time within a year.",
    },
    "zero_duration": {
        "ar": "يجب أن تكون المدة أكبر من صفر.",
        "en": "The delay must be longer than zero.",
    },
}

# Arabic keyboards type Arabic-Indic (and Persian) digits; read them as the ASCII ones.
_DIGITS: Final = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "0123456789" * 2)

# Patterns see the input lower-cased with runs of whitespace collapsed to one space.
_CLOCK = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})"
_AT_CLOCK: Final = re.compile(rf"(?:at )?{_CLOCK}", re.ASCII)
_TOMORROW: Final = re.compile(rf"tomorrow (?:at )?{_CLOCK}", re.ASCII)
_DURATION: Final = re.compile(
    r"in (?=\d)"
    r"(?:(?P<days>\d+) ?(?:d|days?) ?)?"
    r"(?:(?P<hours>\d+) ?(?:h|hrs?|hours?) ?)?"
    r"(?:(?P<minutes>\d+) ?(?:m|mins?|minutes?))?",
    re.ASCII,
)
_ISO: Final = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[t ]"
    rf"{_CLOCK}(?::(?P<second>\d{{2}})(?:[.,](?P<fraction>\d{{1,6}}))?)?"
    r"(?: ?(?P<offset>z|[+-]\d{2}(?::?\d{2})?))?",
    re.ASCII,
)


class WhenError(ValueError):
    """A time an operator typed that cannot be used; `code` names why, `values` fill its text."""

    code: str
    values: dict[str, object]

    def __init__(self, code: str, **values: object) -> None:
        if code not in _MESSAGES:
            raise ValueError(f"unknown WhenError code {code!r}")
        self.code = code
        self.values = values
        super().__init__(self.message("en"))

    def message(self, language: str) -> str:
        """This error's text in `language` ("ar" or "en"; English for any other)."""
        variants = _MESSAGES[self.code]
        template = variants.get(language, variants["en"])
        separator = _SEPARATORS.get(language, _SEPARATORS["en"])
        return template.format(forms=separator.join(_FORMS), **self.values)

    def __str__(self) -> str:
        return self.message("en")


def parse_when(text: str, *, now: datetime, zone: str) -> datetime:
    """The moment an operator's WHEN names, as an aware UTC datetime; WhenError when unusable."""
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    # An unknown zone is a configuration fault (Settings already rejects one), not the operator's.
    tz = ZoneInfo(zone)
    now_utc = now.astimezone(UTC)
    said = " ".join(text.split())
    spoken = said.lower().translate(_DIGITS)
    if not spoken:
        raise WhenError("empty")
    if spoken == "now":
        return now_utc
    if match := _DURATION.fullmatch(spoken):
        return now_utc + _duration(match)
    if match := _AT_CLOCK.fullmatch(spoken):
        return _next_occurrence(_clock(match), now_utc, tz)
    if match := _TOMORROW.fullmatch(spoken):
        tomorrow = now_utc.astimezone(tz).date() + timedelta(days=1)
        moment = datetime.combine(tomorrow, _clock(match), tzinfo=tz)
        return _within_reach(moment, now_utc, tz)
    if match := _ISO.fullmatch(spoken):
        return _within_reach(_iso_moment(match, said, tz), now_utc, tz)
    raise WhenError("malformed", text=_shorten(said))


def _shorten(text: str) -> str:
    return text if len(text) <= ECHO_LIMIT else text[: ECHO_LIMIT - 1] + "…"


def _duration(match: re.Match[str]) -> timedelta:
    minutes = 0
    for name, scale in (("days", 24 * 60), ("hours", 60), ("minutes", 1)):
        digits = (match[name] or "0").lstrip("0")
        # int() refuses strings past 4,300 digits; anything this long is far beyond a year anyway.
        if len(digits) > 9:
            raise WhenError("too_far", days=MAX_AHEAD.days)
        minutes += int(digits or "0") * scale
    if minutes == 0:
        raise WhenError("zero_duration")
    if minutes > MAX_AHEAD // timedelta(minutes=1):
        raise WhenError("too_far", days=MAX_AHEAD.days)
    return timedelta(minutes=minutes)


def _clock(match: re.Match[str]) -> time:
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise WhenError("bad_time", time=f"{match['hour']}:{match['minute']}")
    return time(hour, minute)


def _next_occurrence(clock: time, now_utc: datetime, tz: ZoneInfo) -> datetime:
    today = now_utc.astimezone(tz).date()
    # Two days ahead is never needed in practice, but a zone that falls back across midnight
    # can put tomorrow's first occurrence behind the clock; the loop stays correct there too.
    for ahead in range(3):
        for moment in _occurrences(today + timedelta(days=ahead), clock, tz):
            if moment > now_utc:
                return moment
    raise AssertionError("a wall time recurs within three days")  # pragma: no cover


def _occurrences(day: date, clock: time, tz: ZoneInfo) -> Iterator[datetime]:
    first = datetime.combine(day, clock, tzinfo=tz)
    yield first.astimezone(UTC)
    second = first.replace(fold=1)
    if second.utcoffset() == first.utcoffset():
        return
    # fold=1 differs both for a repeated time and for one in a gap; only a repeated time
    # survives the round trip through UTC with its wall clock unchanged.
    again = second.astimezone(UTC)
    if again.astimezone(tz).replace(tzinfo=None) == second.replace(tzinfo=None):
        yield again


def _iso_moment(match: re.Match[str], said: str, tz: ZoneInfo) -> datetime:
    try:
        day = date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        shown = f"{match['year']}-{match['month']}-{match['day']}"
        raise WhenError("bad_date", date=shown) from None
    clock = _clock(match)
    second = int(match["second"] or "0")
    if second > 59:
        raise WhenError("bad_time", time=f"{match['hour']}:{match['minute']}:{match['second']}")
    micro = int((match["fraction"] or "").ljust(6, "0"))
    zone = tz if match["offset"] is None else _offset(match["offset"], said)
    return datetime.combine(day, clock.replace(second=second, microsecond=micro), tzinfo=zone)


def _offset(text: str, said: str) -> timezone:
    if text == "z":
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or "0")
    if hours > 23 or minutes > 59:
        raise WhenError("malformed", text=_shorten(said))
    size = timedelta(hours=hours, minutes=minutes)
    return timezone(-size if text[0] == "-" else size)


def _within_reach(moment: datetime, now_utc: datetime, tz: ZoneInfo) -> datetime:
    # Subtracting aware datetimes cannot overflow where converting one near year 1 or 9999 to
    # UTC would, so the range is checked before the conversion.
    ahead = moment - now_utc
    if ahead < timedelta(0):
        shown_now = now_utc.astimezone(tz)
        raise WhenError("past", time=_show(moment), now=_show(shown_now))
    if ahead > MAX_AHEAD:
        raise WhenError("too_far", days=MAX_AHEAD.days)
    return moment.astimezone(UTC)


def _show(moment: datetime) -> str:
    # The offset is shown because the operator may have typed another zone's time than the bot's.
    return moment.isoformat(sep=" ", timespec="minutes")
