"""Store functions that make an update act once. None of them commits.

Telegram sends an update again when its webhook request got no 2xx answer, and getUpdates
returns it again until a later offset confirms it. Handled update ids are remembered for a day
(`forget_handled_updates` prunes older ones); an operator's message that created a broadcast is
remembered with the broadcast itself, for as long as the broadcast is kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, delete, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from db.broadcasts import create_broadcast
from db.models import BroadcastRow, HandledUpdateRow
from db.store import run_prepared, table_insert


async def remember_update(*, session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Record an update as handled; False when it was recorded before (a repeat)."""
    result = await run_prepared(
        session, "remember_update", _remember_update, {"update_id": update_id, "now": now}
    )
    return result.scalar() is not None


def _remember_update(dialect: str) -> Executable:
    handled = cast(Table, HandledUpdateRow.__table__)
    return (
        table_insert(handled, dialect)
        .values(
            update_id=bindparam("update_id", type_=handled.c.update_id.type),
            handled_at=bindparam("now", type_=handled.c.handled_at.type),
        )
        .on_conflict_do_nothing(index_elements=[handled.c.update_id])
        .returning(handled.c.update_id)
    )


async def forget_handled_updates(*, session: AsyncSession, before: datetime) -> int:
    """Forget the updates handled before `before`; how many were forgotten."""
    result = await session.execute(
        delete(HandledUpdateRow).where(HandledUpdateRow.handled_at < before)
    )
    return max(cast(CursorResult[Any], result).rowcount, 0)


async def broadcast_from_message(
    *, session: AsyncSession, chat_id: int, message_id: int
) -> BroadcastRow | None:
    """The broadcast an operator's chat message created, or None."""
    stmt = select(BroadcastRow).where(
        BroadcastRow.source_chat_id == chat_id, BroadcastRow.source_message_id == message_id
    )
    return await session.scalar(stmt)


async def create_broadcast_once(
    *,
    session: AsyncSession,
    chat_id: int,
    message_id: int,
    article_id: int,
    due_at: datetime,
    now: datetime,
    topic: str | None = None,
    created_by: int | None = None,
    breaking: bool = False,
) -> tuple[BroadcastRow, bool]:
    """Schedule the broadcast an operator's message asks for, once: (broadcast, created).

    A repeat of the message gets the broadcast it made before. Two replicas handling the same
    message at the same instant cannot both insert: the unique source key fails the second.
    """
    existing = await broadcast_from_message(
        session=session, chat_id=chat_id, message_id=message_id
    )
    if existing is not None:
        return existing, False
    row = await create_broadcast(
        session=session,
        article_id=article_id,
        due_at=due_at,
        now=now,
        topic=topic,
        created_by=created_by,
        breaking=breaking,
    )
    row.source_chat_id = chat_id
    row.source_message_id = message_id
    await session.flush()
    return row, True
