"""A reader's own settings: edition, follows, quiet hours, time zone, digest and daily cap.

The chat's commands and buttons call these (each in the caller's unit of work; none commits).
Bad input raises a Refusal subclass from here with the facts, and nothing is changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.newsroom.refusals import Refusal
from content.normalise import normalise
from db.audience import EDITIONS
from db.models import ChatRow, FollowRow
from db.reader_clock import (
    QuietHours,
    next_hour,
    next_wall_time,
    parse_minute,
    parse_window,
    quiet_release,
    zone_named,
)
from db.store import dialect_insert

MAX_FOLLOWS = 50
FOLLOW_MAX_CHARS = 64
MAX_CAP = 1000
DIGEST_KINDS = ("off", "hourly", "daily")


@dataclass(eq=False)
class BadEdition(Refusal):
    """Not one of ar, en, all."""


@dataclass(eq=False)
class EmptyFollow(Refusal):
    """Nothing to follow: no letters or digits in what was typed."""


@dataclass(eq=False)
class FollowTooLong(Refusal):
    """A follow longer than FOLLOW_MAX_CHARS characters."""

    limit: int


@dataclass(eq=False)
class TooManyFollows(Refusal):
    """The reader already follows MAX_FOLLOWS words or phrases."""

    limit: int


@dataclass(eq=False)
class BadQuiet(Refusal):
    """Not HH:MM-HH:MM [silent] nor off (25:00, the same start and end, …)."""


@dataclass(eq=False)
class BadZone(Refusal):
    """No IANA time zone has that name."""


@dataclass(eq=False)
class BadDigest(Refusal):
    """Not off, hourly or daily HH:MM."""


@dataclass(eq=False)
class BadCap(Refusal):
    """Not a whole number from 1 to MAX_CAP, nor off."""

    limit: int


@dataclass(frozen=True, slots=True)
class ReaderSettings:
    """Everything a reader chose, as /settings shows it."""

    edition: str
    zone: str  # the chosen zone, else NEWSBOT_TIMEZONE
    zone_chosen: bool
    quiet: QuietHours | None
    quiet_silent: bool
    digest: str
    digest_at: int | None
    cap: int | None
    follows: list[str]


async def _chat(session: AsyncSession, chat_id: int) -> ChatRow:
    row = await session.get(ChatRow, chat_id)
    if row is None:  # handlers register the chat before calling
        raise LookupError(f"unknown chat {chat_id}")
    return row


async def settings_of(*, session: AsyncSession, chat_id: int, zone: str) -> ReaderSettings:
    """What the chat chose (`zone`: NEWSBOT_TIMEZONE, for a chat that chose none)."""
    chat = await _chat(session, chat_id)
    quiet = (
        QuietHours(chat.quiet_start, chat.quiet_end)
        if chat.quiet_start is not None
        and chat.quiet_end is not None
        and chat.quiet_start != chat.quiet_end
        else None
    )
    return ReaderSettings(
        edition=chat.edition,
        zone=chat.timezone or zone,
        zone_chosen=chat.timezone is not None,
        quiet=quiet,
        quiet_silent=chat.quiet_silent,
        digest=chat.digest,
        digest_at=chat.digest_at,
        cap=chat.cap,
        follows=await follows(session=session, chat_id=chat_id),
    )


async def set_edition(*, session: AsyncSession, chat_id: int, edition: str) -> str:
    """Push the chat only stories in these languages (ar, en or all); the edition set."""
    wanted = edition.strip().lower()
    if wanted not in EDITIONS:
        raise BadEdition()
    await session.execute(update(ChatRow).where(ChatRow.chat_id == chat_id).values(edition=wanted))
    return wanted


def follow_phrase(words: str) -> str:
    """The stored (normalised) form of a follow; EmptyFollow or FollowTooLong when unusable."""
    if len(words.strip()) > FOLLOW_MAX_CHARS:
        raise FollowTooLong(FOLLOW_MAX_CHARS)
    phrase = normalise(words)
    if not phrase:
        raise EmptyFollow()
    return phrase


async def follow(*, session: AsyncSession, chat_id: int, words: str, now: datetime) -> bool:
    """Follow a word or phrase; False when it was followed already (in any spelling)."""
    phrase = follow_phrase(words)
    existing = await session.scalar(
        select(FollowRow.phrase).where(FollowRow.chat_id == chat_id, FollowRow.phrase == phrase)
    )
    if existing is not None:
        return False
    count = await session.scalar(
        select(func.count()).select_from(FollowRow).where(FollowRow.chat_id == chat_id)
    )
    if (count or 0) >= MAX_FOLLOWS:
        raise TooManyFollows(MAX_FOLLOWS)
    stmt = (
        dialect_insert(session, FollowRow)
        .values(
            chat_id=chat_id,
            phrase=phrase,
            first_word=phrase.split()[0],
            shown=" ".join(words.split()),
            created_at=now,
        )
        .on_conflict_do_nothing()
        .returning(FollowRow.phrase)
    )
    return await session.scalar(stmt) is not None


async def unfollow(*, session: AsyncSession, chat_id: int, words: str) -> bool:
    """Stop following a word or phrase (in any spelling); False when it was not followed."""
    try:
        phrase = follow_phrase(words)
    except Refusal:
        return False
    removed = await session.scalars(
        delete(FollowRow)
        .where(FollowRow.chat_id == chat_id, FollowRow.phrase == phrase)
        .returning(FollowRow.phrase)
    )
    return removed.first() is not None


async def follows(*, session: AsyncSession, chat_id: int) -> list[str]:
    """The chat's follows as they were typed, oldest first."""
    rows = await session.scalars(
        select(FollowRow.shown)
        .where(FollowRow.chat_id == chat_id)
        .order_by(FollowRow.created_at, FollowRow.phrase)
    )
    return list(rows)


def _zone_of(chat: ChatRow, default: str) -> ZoneInfo:
    return (zone_named(chat.timezone) if chat.timezone else None) or ZoneInfo(default)


def next_digest(chat: ChatRow, *, now: datetime, default_zone: str) -> datetime | None:
    """When the chat's next scheduled digest is built (None without a digest schedule).

    An hourly digest that would fall in quiet hours waits for their end.
    """
    zone = _zone_of(chat, default_zone)
    if chat.digest == "daily" and chat.digest_at is not None:
        return next_wall_time(now, zone, chat.digest_at)
    if chat.digest != "hourly":
        return None
    due = next_hour(now, zone)
    start, end = chat.quiet_start, chat.quiet_end
    if start is not None and end is not None and start != end:
        released = quiet_release(due, zone, QuietHours(start, end))
        if released is not None:
            due = released
    return due


async def set_quiet(*, session: AsyncSession, chat_id: int, words: str) -> QuietHours | None:
    """Quiet hours from "HH:MM-HH:MM [silent]", or none for "off"; BadQuiet otherwise."""
    parts = words.split()
    if [part.lower() for part in parts] == ["off"]:
        await session.execute(
            update(ChatRow)
            .where(ChatRow.chat_id == chat_id)
            .values(quiet_start=None, quiet_end=None, quiet_silent=False)
        )
        return None
    silent = bool(parts) and parts[-1].lower() == "silent"
    window = parse_window(" ".join(parts[:-1] if silent else parts))
    if window is None:
        raise BadQuiet()
    await session.execute(
        update(ChatRow)
        .where(ChatRow.chat_id == chat_id)
        .values(quiet_start=window.start, quiet_end=window.end, quiet_silent=silent)
    )
    return window


async def set_timezone(
    *, session: AsyncSession, chat_id: int, name: str, now: datetime, default_zone: str
) -> str:
    """Read the chat's times in this IANA zone; the zone's canonical name. BadZone if unknown."""
    zone = zone_named(name.strip())
    if zone is None:
        raise BadZone()
    chat = await _chat(session, chat_id)
    chat.timezone = zone.key
    chat.digest_due_at = _rescheduled(chat, now=now, default_zone=default_zone)
    await session.flush()
    return zone.key


def _rescheduled(chat: ChatRow, *, now: datetime, default_zone: str) -> datetime | None:
    """The chat's next digest after a change of schedule: kept for waiting cap overflow."""
    due = next_digest(chat, now=now, default_zone=default_zone)
    if due is None and chat.digest == "off" and chat.digest_due_at is not None:
        return chat.digest_due_at  # overflow of a daily cap still waiting for its morning
    return due


async def set_digest(
    *, session: AsyncSession, chat_id: int, words: str, now: datetime, default_zone: str
) -> tuple[str, int | None]:
    """Digests off, hourly, or daily at HH:MM; (kind, local minute). BadDigest otherwise."""
    parts = [part.lower() for part in words.split()]
    minute: int | None = None
    if parts in (["off"], ["hourly"]):
        kind = parts[0]
    elif len(parts) == 2 and parts[0] == "daily":
        minute = parse_minute(parts[1])
        if minute is None:
            raise BadDigest()
        kind = "daily"
    else:
        raise BadDigest()
    chat = await _chat(session, chat_id)
    chat.digest, chat.digest_at = kind, minute
    due = next_digest(chat, now=now, default_zone=default_zone)
    if kind == "off":
        # Stories already waiting still go out once, at the next full hour: none is lost.
        due = next_hour(now, _zone_of(chat, default_zone))
    chat.digest_due_at = due
    await session.flush()
    return kind, minute


async def set_cap(*, session: AsyncSession, chat_id: int, words: str) -> int | None:
    """At most N pushes a day (the rest go to the next digest), or no cap for "off"."""
    value = words.strip().lower()
    cap: int | None
    if value == "off":
        cap = None
    elif value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_CAP:
        cap = int(value)
    else:
        raise BadCap(MAX_CAP)
    await session.execute(update(ChatRow).where(ChatRow.chat_id == chat_id).values(cap=cap))
    return cap
