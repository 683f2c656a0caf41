"""An editor's broadcasts: schedule, cancel, list with progress, and the progress of one.

The chat's operator commands, the command line and the sandbox's newsroom panel call these. Each
works in the caller's unit of work (it never commits), returns data, and raises a Refusal when
what was asked cannot be done; every surface words the answer itself. Scheduling and cancelling
announce the change (db.signals): the running bot hears of it when the caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

import db.broadcasts
import db.signals
import db.store
import db.updates
from bot.newsroom import refusals
from bot.newsroom.when import WhenError, parse_when
from content.assemble import normalize_topic
from db.broadcasts import Progress
from db.models import BroadcastRow


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """The chat message that asked for a broadcast: asking again with it gets that broadcast."""

    chat_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A broadcast scheduled now, or (created=False) the one its source message made before."""

    broadcast: BroadcastRow
    created: bool


def due_time(words: str, *, now: datetime, zone: str) -> datetime:
    """The moment an operator's WHEN names, read in `zone`; BadWhen when it cannot be used."""
    try:
        return parse_when(words, now=now, zone=zone)
    except WhenError as error:
        raise refusals.BadWhen(error) from None


async def schedule(
    *,
    session: AsyncSession,
    article_id: int,
    when: str,
    now: datetime,
    zone: str,
    topic: str | None = None,
    created_by: int | None = None,
    source: SourceMessage | None = None,
    breaking: bool = False,
) -> Scheduled:
    """Schedule a broadcast of a stored article at WHEN, to one topic's subscribers or to all.

    Refusals, in the order they are checked: BadWhen, NoArticle, Withdrawn, BadTopic. With a
    `source`, a message that asked before gets its broadcast back (created=False), whatever it
    says now. A `breaking` broadcast reaches every target at once, through quiet hours, digests
    and caps.
    """
    if source is not None:
        # Looked up before WHEN is read: "18:00" a day later means another time.
        existing = await db.updates.broadcast_from_message(
            session=session, chat_id=source.chat_id, message_id=source.message_id
        )
        if existing is not None:
            return Scheduled(existing, created=False)
    due_at = due_time(when, now=now, zone=zone)
    article = await db.store.get_article(session=session, article_id=article_id)
    if article is None:
        raise refusals.NoArticle(article_id)
    if article.retracted_at is not None:
        raise refusals.Withdrawn(article_id)
    if topic is not None and not normalize_topic(topic):
        raise refusals.BadTopic(topic)
    if source is None:
        row = await db.broadcasts.create_broadcast(
            session=session,
            article_id=article_id,
            due_at=due_at,
            now=now,
            topic=topic,
            created_by=created_by,
            breaking=breaking,
        )
    else:
        row, _ = await db.updates.create_broadcast_once(
            session=session,
            chat_id=source.chat_id,
            message_id=source.message_id,
            article_id=article_id,
            due_at=due_at,
            now=now,
            topic=topic,
            created_by=created_by,
            breaking=breaking,
        )
    # The running bot hears of it once this unit of work commits, and starts it at once.
    await db.signals.announce(session=session)
    return Scheduled(row, created=True)


async def cancel(*, session: AsyncSession, broadcast_id: int, now: datetime) -> int:
    """Cancel a scheduled or running broadcast; how many unsent messages were dropped.

    NoBroadcast when there is no such broadcast, NotOpen (with its status) when it has ended.
    """
    dropped = await db.broadcasts.cancel_broadcast(
        session=session, broadcast_id=broadcast_id, now=now
    )
    if dropped is not None:
        await db.signals.announce(session=session)
        return dropped
    row = await db.broadcasts.get_broadcast(session=session, broadcast_id=broadcast_id)
    if row is None:
        raise refusals.NoBroadcast(broadcast_id)
    raise refusals.NotOpen(broadcast_id, row.status)


async def newest(*, session: AsyncSession, limit: int) -> list[Progress]:
    """The newest broadcasts first, each with its progress."""
    rows = await db.broadcasts.list_broadcasts(session=session, limit=limit)
    found = [
        await db.broadcasts.broadcast_progress(session=session, broadcast_id=row.id)
        for row in rows
    ]
    return [progress for progress in found if progress is not None]


async def progress(*, session: AsyncSession, broadcast_id: int | None = None) -> Progress:
    """One broadcast's progress, the newest one's by default; NoBroadcastsYet or NoBroadcast."""
    wanted = broadcast_id
    if wanted is None:
        rows = await db.broadcasts.list_broadcasts(session=session, limit=1)
        if not rows:
            raise refusals.NoBroadcastsYet()
        wanted = rows[0].id
    found = await db.broadcasts.broadcast_progress(session=session, broadcast_id=wanted)
    if found is None:
        raise refusals.NoBroadcast(wanted)
    return found


@dataclass(frozen=True, slots=True)
class Details:
    """What a listing shows beside a broadcast's counts: its article's title, its audience."""

    title: str | None
    # Chats a scheduled broadcast would reach if it started now; None once it has started.
    audience: int | None


async def details(*, session: AsyncSession, rows: Sequence[Progress]) -> dict[int, Details]:
    """The title and (while scheduled) the audience of each broadcast, by broadcast id."""
    titles = await db.broadcasts.article_titles(
        session=session, article_ids=[p.broadcast.article_id for p in rows]
    )
    found: dict[int, Details] = {}
    for progress in rows:
        b = progress.broadcast
        audience = None
        if b.status == "scheduled":
            audience = await db.broadcasts.audience_size(
                session=session, article_id=b.article_id, topic=b.topic
            )
        found[b.id] = Details(titles.get(b.article_id), audience)
    return found


async def check_topic(*, session: AsyncSession, topic: str) -> str:
    """The topic as stored, if a stored article has it or a chat follows it; else UnknownTopic.

    A topic nobody uses reaches only the readers of every topic: most likely a typo.
    """
    normalized = normalize_topic(topic)
    if not normalized:
        raise refusals.BadTopic(topic)
    article_topics = await db.store.known_topics(session=session)
    followed = await db.store.subscribed_topics(session=session)
    if normalized not in article_topics and normalized not in followed:
        raise refusals.UnknownTopic(topic, tuple(sorted(set(article_topics) | set(followed))))
    return normalized


async def reach(*, session: AsyncSession, broadcast: BroadcastRow) -> int:
    """How many chats this broadcast would reach if it started now."""
    return await db.broadcasts.audience_size(
        session=session, article_id=broadcast.article_id, topic=broadcast.topic
    )
