"""Store functions for digests: build what is due, claim it, record how sending went.

A digest is an outbox row like a delivery. Building one for a chat takes the chat's waiting
digest items and moves its due time on, in one transaction guarded by the due time it read, so
two builders (two ticks, two processes) never make two digests of the same stories. Sending
claims queued digests (`FOR UPDATE SKIP LOCKED` on PostgreSQL, one atomic UPDATE on SQLite);
a digest left "sending" by a process that died is queued again by the next one to take the
delivery lock. None of these commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ArticleRow, ChatRow, DigestItemRow, DigestRow


@dataclass(frozen=True, slots=True)
class DigestStory:
    """One story listed in a digest."""

    article_id: int
    title: str


async def due_chats(*, session: AsyncSession, now: datetime, limit: int) -> list[ChatRow]:
    """Chats whose digest is due, the longest waiting first."""
    rows = await session.scalars(
        select(ChatRow)
        .where(ChatRow.digest_due_at.is_not(None), ChatRow.digest_due_at <= now)
        .order_by(ChatRow.digest_due_at, ChatRow.chat_id)
        .limit(limit)
    )
    return list(rows)


async def build_digest(
    *,
    session: AsyncSession,
    chat_id: int,
    was_due: datetime,
    next_due: datetime | None,
    now: datetime,
) -> int | None:
    """Gather the chat's waiting stories into a queued digest and move its due time on.

    Returns the digest's id; None when there was nothing to list, or when another builder
    took this due time first (the due time read is the guard).
    """
    moved = await session.scalar(
        update(ChatRow)
        .where(ChatRow.chat_id == chat_id, ChatRow.digest_due_at == was_due)
        .values(digest_due_at=next_due)
        .returning(ChatRow.chat_id)
    )
    if moved is None:
        return None
    digest = DigestRow(chat_id=chat_id, status="queued", created_at=now, item_count=0)
    session.add(digest)
    await session.flush()
    taken = await session.scalars(
        update(DigestItemRow)
        .where(DigestItemRow.chat_id == chat_id, DigestItemRow.digest_id.is_(None))
        .values(digest_id=digest.id)
        .returning(DigestItemRow.broadcast_id)
    )
    count = len(taken.all())
    if count == 0:
        await session.execute(delete(DigestRow).where(DigestRow.id == digest.id))
        return None
    digest.item_count = count
    await session.flush()
    return digest.id


async def requeue_sending(*, session: AsyncSession) -> int:
    """Queue again the digests a deliverer that died left claimed; how many."""
    result = await session.scalars(
        update(DigestRow)
        .where(DigestRow.status == "sending")
        .values(status="queued")
        .returning(DigestRow.id)
    )
    return len(result.all())


async def claim_digests(*, session: AsyncSession, limit: int) -> list[tuple[int, int]]:
    """Claim up to limit queued digests, oldest first: (digest id, chat id) pairs."""
    queued = (
        select(DigestRow.id)
        .where(DigestRow.status == "queued")
        .order_by(DigestRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = await session.execute(
        update(DigestRow)
        .where(DigestRow.id.in_(queued))
        .values(status="sending")
        .returning(DigestRow.id, DigestRow.chat_id)
    )
    return sorted((row.id, row.chat_id) for row in rows)


async def digest_stories(*, session: AsyncSession, digest_id: int) -> list[DigestStory]:
    """The stories a digest lists, in the order they were pushed (gone or withdrawn ones left
    out)."""
    rows = await session.execute(
        select(ArticleRow.id, ArticleRow.title)
        .join(DigestItemRow, DigestItemRow.article_id == ArticleRow.id)
        .where(DigestItemRow.digest_id == digest_id, ArticleRow.retracted_at.is_(None))
        .order_by(DigestItemRow.added_at, DigestItemRow.broadcast_id)
    )
    seen: set[int] = set()
    stories = []
    for article_id, title in rows:
        if article_id not in seen:  # one story pushed twice is listed once
            seen.add(article_id)
            stories.append(DigestStory(article_id, title))
    return stories


async def record_digest(
    *,
    session: AsyncSession,
    digest_id: int,
    status: str,
    now: datetime,
    message_id: int | None = None,
    error: str | None = None,
) -> None:
    """Write how sending a digest went (sent, or failed with the reason)."""
    await session.execute(
        update(DigestRow)
        .where(DigestRow.id == digest_id)
        .values(
            status=status,
            sent_at=now if status == "sent" else None,
            message_id=message_id,
            error=error,
        )
    )


async def waiting_items(*, session: AsyncSession, chat_ids: Sequence[int]) -> dict[int, int]:
    """How many stories wait for each chat's next digest."""
    rows = await session.execute(
        select(DigestItemRow.chat_id, func.count())
        .where(DigestItemRow.chat_id.in_(list(chat_ids)), DigestItemRow.digest_id.is_(None))
        .group_by(DigestItemRow.chat_id)
    )
    return {chat_id: count for chat_id, count in rows}
