"""Store functions for correction and retraction jobs: the outbox of edits and deletions.

A job is a broadcast of kind "correct" or "retract" over an article already pushed: one
delivery row per chat that holds a card of it (sent, or being sent as the job starts), claimed,
paced and recorded by the same engine as a push. The row names only the chat; the messages to
edit or delete are looked up when it is claimed (`targets`), so a card a running push sends
after the job began is not missed: its row waits until that send has an outcome. None of these
commits.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, and_, literal, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from db.broadcasts import OPEN_BROADCAST_STATUSES, cancel_broadcast
from db.models import ArticleRow, BroadcastRow, DeliveryRow
from db.store import dialect_insert

EDIT_KINDS = ("correct", "retract")


class JobRunning(Exception):
    """A correction or retraction of this article is still running."""

    def __init__(self, broadcast_id: int) -> None:
        super().__init__(f"job {broadcast_id} is still running")
        self.broadcast_id = broadcast_id


@dataclass(frozen=True, slots=True)
class Target:
    """One card of the article in a chat: its message id, or None while its send is running."""

    message_id: int | None

    @property
    def waiting(self) -> bool:
        """The push that sends this card has no outcome yet."""
        return self.message_id is None


def _reached() -> Any:
    """Push deliveries that put a card in a chat, or may be doing so right now."""
    return or_(
        and_(DeliveryRow.status == "sent", DeliveryRow.message_id.is_not(None)),
        DeliveryRow.status == "sending",
    )


def _pushes_of(article_id: int) -> Any:
    return and_(
        BroadcastRow.id == DeliveryRow.broadcast_id,
        BroadcastRow.article_id == article_id,
        BroadcastRow.kind == "push",
    )


async def running_job(*, session: AsyncSession, article_id: int) -> int | None:
    """The id of a correction or retraction of this article that is still running, or None."""
    return await session.scalar(
        select(BroadcastRow.id)
        .where(
            BroadcastRow.article_id == article_id,
            BroadcastRow.kind.in_(EDIT_KINDS),
            BroadcastRow.status.in_(OPEN_BROADCAST_STATUSES),
        )
        .order_by(BroadcastRow.id)
        .limit(1)
    )


async def was_pushed(*, session: AsyncSession, article_id: int) -> bool:
    """Whether a card of this article reached (or is reaching) any chat."""
    found = await session.scalar(
        select(DeliveryRow.chat_id)
        .join(BroadcastRow, _pushes_of(article_id))
        .where(_reached())
        .limit(1)
    )
    return found is not None


async def cancel_pushes(*, session: AsyncSession, article_id: int, now: datetime) -> list[int]:
    """Cancel every scheduled or running push and correction of the article; the ids."""
    ids = list(
        await session.scalars(
            select(BroadcastRow.id).where(
                BroadcastRow.article_id == article_id,
                BroadcastRow.kind.in_(("push", "correct")),
                BroadcastRow.status.in_(OPEN_BROADCAST_STATUSES),
            )
        )
    )
    for broadcast_id in ids:
        await cancel_broadcast(session=session, broadcast_id=broadcast_id, now=now)
    return ids


async def create_job(
    *,
    session: AsyncSession,
    article_id: int,
    kind: str,
    now: datetime,
    created_by: int | None = None,
) -> BroadcastRow:
    """Start a correction or retraction: a running job with a row per chat the card reached.

    JobRunning when one for this article is still running (checked by the caller's lock: two
    callers at once may both pass; the second job then finds every message already done).
    """
    if kind not in EDIT_KINDS:
        raise ValueError(f"kind must be one of {EDIT_KINDS}")
    if (running := await running_job(session=session, article_id=article_id)) is not None:
        raise JobRunning(running)
    row = BroadcastRow(
        article_id=article_id,
        topic=None,
        status="running",
        due_at=now,
        created_at=now,
        created_by=created_by,
        started_at=now,
        target_count=0,
        kind=kind,
    )
    session.add(row)
    await session.flush()
    chats = (
        select(
            literal(row.id, Integer),
            DeliveryRow.chat_id,
            literal("queued"),
            literal(0, Integer),
        )
        .join(BroadcastRow, _pushes_of(article_id))
        .where(_reached())
        .distinct()
    )
    insert = dialect_insert(session, DeliveryRow).from_select(
        ["broadcast_id", "chat_id", "status", "attempts"], chats
    )
    result = await session.execute(insert.on_conflict_do_nothing())
    row.target_count = max(cast(CursorResult[Any], result).rowcount, 0)
    await session.flush()
    return row


async def targets(
    *, session: AsyncSession, article_id: int, chat_ids: Collection[int]
) -> dict[int, list[Target]]:
    """The article's cards in each of these chats, oldest push first."""
    if not chat_ids:
        return {}
    rows = await session.execute(
        select(DeliveryRow.chat_id, DeliveryRow.message_id, DeliveryRow.status)
        .join(BroadcastRow, _pushes_of(article_id))
        .where(DeliveryRow.chat_id.in_(sorted(chat_ids)), _reached())
        .order_by(DeliveryRow.broadcast_id)
    )
    found: dict[int, list[Target]] = {}
    for chat_id, message_id, status in rows:
        found.setdefault(chat_id, []).append(Target(None if status == "sending" else message_id))
    return found


async def article_states(
    *, session: AsyncSession, article_ids: Collection[int]
) -> dict[int, tuple[int, datetime | None]]:
    """(revision, retracted_at) of each article, so a deliverer can tell its copy is stale."""
    if not article_ids:
        return {}
    rows = await session.execute(
        select(ArticleRow.id, ArticleRow.revision, ArticleRow.retracted_at).where(
            ArticleRow.id.in_(sorted(article_ids))
        )
    )
    return {row.id: (row.revision, row.retracted_at) for row in rows}
