"""Who gets a broadcast, and when: the fan-out by editions, follows, quiet hours, digests, caps.

Everything per reader is decided in the database, in a few INSERT … SELECT statements, so a
million subscribers never pass through Python. What depends on local time is worked out once per
distinct zone (or zone and quiet window) in Python and handed to SQL as a CASE: readers share a
handful of zones and windows, not a million.

A target chat is an active chat whose edition takes the story's language and which subscribes
to one of its topics or follows a word or phrase the story contains; it gets exactly one of:
- a delivery row (sent at once; held with `not_before` until its quiet hours end, or marked
  silent); a breaking broadcast gives every target this, at once;
- a digest item (a digest reader, or a capped reader past today's cap), sent with the next digest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    and_,
    case,
    false,
    func,
    literal,
    null,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import CompoundSelect, Select

from content.normalise import normalise
from db.models import (
    ALL_TOPICS,
    ArticleRow,
    ArticleTopicRow,
    BroadcastRow,
    ChatRow,
    DeliveryRow,
    DigestItemRow,
    FollowRow,
    SectionRow,
    SubscriptionRow,
    UTCDateTime,
)
from db.reader_clock import (
    QuietHours,
    local_day,
    next_wall_time,
    quiet_release,
    zone_named,
)
from db.store import dialect_insert

EDITIONS = ("all", "ar", "en")
# A capped reader without a digest schedule gets the day's overflow the next morning.
OVERFLOW_DIGEST_MINUTE = 8 * 60
_IN_CHUNK = 500  # values per IN list: well within every database's limit on parameters


def edition_of(language: str) -> str:
    """The edition a story in this language belongs to ("ar-EG" is Arabic)."""
    return language.split("-")[0].strip().lower()


def _zone(name: str | None, default: ZoneInfo) -> ZoneInfo:
    return (zone_named(name) if name else None) or default


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def story_text(article: ArticleRow, sections: Iterable[str]) -> str:
    """What follows are matched against: the title, the lead and the body."""
    return "\n".join([article.title, article.lead or "", *sections])


async def matching_phrases(*, session: AsyncSession, article: ArticleRow) -> set[str]:
    """The followed phrases the story contains, on word boundaries, spelling folded.

    The story is normalised once; only phrases starting with one of its words are read from
    the database and checked, so the cost grows with the story, not with the followers.
    """
    sections = await session.scalars(
        select(SectionRow.text).where(SectionRow.article_id == article.id)
    )
    haystack = normalise(story_text(article, sections))
    matched: set[str] = set()
    for chunk in _chunks(sorted(set(haystack.split()))):
        candidates = await session.scalars(
            select(FollowRow.phrase).where(FollowRow.first_word.in_(chunk)).distinct()
        )
        matched |= phrases_in(haystack, candidates)
    return matched


def phrases_in(haystack: str, phrases: Iterable[str]) -> set[str]:
    """The stored (normalised) phrases that occur in a normalised text, on word boundaries."""
    padded = f" {haystack} "
    return {phrase for phrase in phrases if phrase and f" {phrase} " in padded}


def _chat_zone(default: str) -> ColumnElement[str]:
    return func.coalesce(ChatRow.timezone, default)


async def _zones(session: AsyncSession, where: ColumnElement[bool], default: str) -> list[str]:
    rows = await session.scalars(select(_chat_zone(default)).where(where).distinct())
    return list(rows)


async def _today(
    session: AsyncSession, *, now: datetime, default: str
) -> ColumnElement[Any] | None:
    """Each capped chat's local date as SQL (a CASE on its zone); None when nobody is capped."""
    zones = await _zones(session, ChatRow.cap.is_not(None), default)
    if not zones:
        return None
    fallback = ZoneInfo(default)
    zone = _chat_zone(default)
    return case(
        *((zone == name, literal(local_day(now, _zone(name, fallback)))) for name in zones),
        else_=null(),
    )


async def _quiet(
    session: AsyncSession, *, now: datetime, default: str
) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """(not_before, silent) for each chat as SQL: held until its quiet hours end, or silent."""
    rows = await session.execute(
        select(_chat_zone(default), ChatRow.quiet_start, ChatRow.quiet_end)
        .where(ChatRow.quiet_start.is_not(None), ChatRow.quiet_end.is_not(None))
        .distinct()
    )
    fallback = ZoneInfo(default)
    zone = _chat_zone(default)
    held: list[tuple[ColumnElement[bool], datetime]] = []
    for name, start, end in rows:
        if start is None or end is None or start == end:
            continue
        release = quiet_release(now, _zone(name, fallback), QuietHours(start, end))
        if release is not None:
            quiet_now = and_(zone == name, ChatRow.quiet_start == start, ChatRow.quiet_end == end)
            held.append((quiet_now, release))
    if not held:
        return null(), literal(False, Boolean)
    not_before = case(
        *(
            (and_(condition, ChatRow.quiet_silent.is_(False)), literal(release, UTCDateTime()))
            for condition, release in held
        ),
        else_=null(),
    )
    silent = case(
        *((and_(condition, ChatRow.quiet_silent.is_(True)), True) for condition, _ in held),
        else_=False,
    )
    return not_before, silent


async def _overflow_due(
    session: AsyncSession, *, now: datetime, default: str, where: ColumnElement[bool]
) -> ColumnElement[Any] | None:
    """The next local morning of each chat as SQL: when its cap's overflow is sent (None
    when no chat is waiting)."""
    zones = await _zones(session, where, default)
    if not zones:
        return None
    fallback = ZoneInfo(default)
    zone = _chat_zone(default)
    return case(
        *(
            (
                zone == name,
                literal(
                    next_wall_time(now, _zone(name, fallback), OVERFLOW_DIGEST_MINUTE),
                    UTCDateTime(),
                ),
            )
            for name in zones
        ),
        else_=literal(next_wall_time(now, fallback, OVERFLOW_DIGEST_MINUTE), UTCDateTime()),
    )


async def targets(
    *, session: AsyncSession, article: ArticleRow, topic: str | None
) -> ColumnElement[bool]:
    """The chats a push of this article (to this topic, or its own) reaches, as a condition.

    Active chats whose edition takes the story's language, subscribed to one of its topics or
    following a phrase in it.
    """
    topic_match: ColumnElement[bool]
    if topic is not None:
        topic_match = SubscriptionRow.topic.in_([ALL_TOPICS, topic])
    else:
        topic_match = or_(
            SubscriptionRow.topic == ALL_TOPICS,
            SubscriptionRow.topic.in_(
                select(ArticleTopicRow.topic).where(ArticleTopicRow.article_id == article.id)
            ),
        )
    chosen: Select[int] | CompoundSelect[int] = select(SubscriptionRow.chat_id).where(topic_match)
    phrases = sorted(await matching_phrases(session=session, article=article))
    if phrases:
        # One UNION, not two IN lists joined by OR: the planner hashes a single IN subquery,
        # while an OR of two large ones can fall back to a scan per chat. A chat that both
        # subscribes and follows is one chat here: one copy.
        followers = select(FollowRow.chat_id).where(FollowRow.phrase.in_(phrases))
        chosen = union(chosen, followers)
    return and_(
        ChatRow.active.is_(True),
        ChatRow.edition.in_(["all", edition_of(article.language)]),
        ChatRow.chat_id.in_(chosen),
    )


async def fan_out(
    *, session: AsyncSession, broadcast: BroadcastRow, now: datetime, zone: str
) -> int:
    """Queue the broadcast for every target chat; return how many delivery rows it made.

    `zone` is the time zone of readers who have not chosen one (NEWSBOT_TIMEZONE).
    """
    article = await session.get(ArticleRow, broadcast.article_id)
    if article is None:
        return 0
    target = await targets(session=session, article=article, topic=broadcast.topic)
    if broadcast.breaking:
        return await _push(session, broadcast, target, null(), literal(False, Boolean))

    today = await _today(session, now=now, default=zone)
    over_cap: ColumnElement[bool] = false()
    if today is not None:
        # Every term is NOT NULL-safe: a NULL here would drop the chat from both sides.
        over_cap = and_(
            ChatRow.cap.is_not(None),
            ChatRow.cap_day.is_not(None),
            ChatRow.cap_day == func.coalesce(today, ""),
            ChatRow.cap_used >= ChatRow.cap,
        )
    to_digest = or_(ChatRow.digest != "off", over_cap)
    items = select(
        ChatRow.chat_id,
        literal(broadcast.id, Integer),
        literal(article.id, Integer),
        literal(now, UTCDateTime()),
    ).where(target, to_digest)
    await session.execute(
        dialect_insert(session, DigestItemRow)
        .from_select(["chat_id", "broadcast_id", "article_id", "added_at"], items)
        .on_conflict_do_nothing()
    )
    if today is not None:
        # Capped readers without a digest schedule: their overflow goes out the next morning.
        waiting = and_(target, over_cap, ChatRow.digest == "off", ChatRow.digest_due_at.is_(None))
        due = await _overflow_due(session, now=now, default=zone, where=waiting)
        if due is not None:
            await session.execute(
                update(ChatRow).where(waiting).values(digest_due_at=due),
                # No session objects to refresh: fetching the matched keys would bring every
                # one of them into Python.
                execution_options={"synchronize_session": False},
            )

    not_before, silent = await _quiet(session, now=now, default=zone)
    queued = await _push(session, broadcast, and_(target, ~to_digest), not_before, silent)
    if today is not None:
        pushed = select(DeliveryRow.chat_id).where(DeliveryRow.broadcast_id == broadcast.id)
        await session.execute(
            update(ChatRow)
            .where(ChatRow.cap.is_not(None), ChatRow.chat_id.in_(pushed))
            .values(
                cap_used=case((ChatRow.cap_day == today, ChatRow.cap_used + 1), else_=1),
                cap_day=today,
            ),
            execution_options={"synchronize_session": False},
        )
    return queued


async def _push(
    session: AsyncSession,
    broadcast: BroadcastRow,
    where: ColumnElement[bool],
    not_before: ColumnElement[Any],
    silent: ColumnElement[Any],
) -> int:
    rows = select(
        literal(broadcast.id, Integer),
        ChatRow.chat_id,
        literal("queued"),
        literal(0, Integer),
        not_before,
        silent,
    ).where(where)
    insert = dialect_insert(session, DeliveryRow).from_select(
        ["broadcast_id", "chat_id", "status", "attempts", "not_before", "silent"], rows
    )
    result = await session.execute(insert.on_conflict_do_nothing())
    return max(getattr(result, "rowcount", 0) or 0, 0)
