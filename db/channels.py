"""Store functions for channels and forum threads: where a publish goes besides readers' chats.

A channel is a chat of kind "channel" subscribed to every topic, so a push's fan-out reaches it
like any reader; its row in `channels` remembers how it was named, who added it and Telegram's
last refusal. A forum thread row sends one topic's stories of a forum supergroup to a thread.
None of these commits.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ALL_TOPICS, ArticleTopicRow, ChannelRow, ForumThreadRow, SubscriptionRow
from db.store import dialect_insert, ensure_chat, mark_chat_active


async def add_channel(
    *,
    session: AsyncSession,
    chat_id: int,
    name: str,
    now: datetime,
    added_by: int | None = None,
) -> bool:
    """Make publishes post to this channel; False when it was already one."""
    await ensure_chat(
        session=session, chat_id=chat_id, kind="channel", telegram_language=None, now=now
    )
    await mark_chat_active(session=session, chat_id=chat_id)
    await session.execute(
        dialect_insert(session, SubscriptionRow)
        .values(chat_id=chat_id, topic=ALL_TOPICS)
        .on_conflict_do_nothing()
    )
    added = await session.scalar(
        dialect_insert(session, ChannelRow)
        .values(chat_id=chat_id, name=name, added_at=now, added_by=added_by)
        .on_conflict_do_nothing()
        .returning(ChannelRow.chat_id)
    )
    if added is None:
        await session.execute(
            update(ChannelRow)
            .where(ChannelRow.chat_id == chat_id)
            .values(name=name, error=None, error_at=None)
        )
    return added is not None


async def remove_channel(*, session: AsyncSession, name_or_id: str | int) -> bool:
    """Stop posting to a channel, named as it was added or by its id; whether it was one."""
    found = await find_channel(session=session, name_or_id=name_or_id)
    if found is None:
        return False
    await session.execute(delete(SubscriptionRow).where(SubscriptionRow.chat_id == found.chat_id))
    await session.execute(delete(ChannelRow).where(ChannelRow.chat_id == found.chat_id))
    return True


async def find_channel(*, session: AsyncSession, name_or_id: str | int) -> ChannelRow | None:
    """The channel with this id, or this name (an @username matches in any case)."""
    if isinstance(name_or_id, int):
        return await session.get(ChannelRow, name_or_id)
    rows = await session.scalars(select(ChannelRow))
    wanted = name_or_id.casefold()
    return next((row for row in rows if row.name.casefold() == wanted), None)


async def list_channels(*, session: AsyncSession) -> list[ChannelRow]:
    """Every channel, in the order they were added."""
    return list(await session.scalars(select(ChannelRow).order_by(ChannelRow.added_at)))


async def channel_ids(*, session: AsyncSession, chat_ids: Collection[int]) -> set[int]:
    """Those of the chats that are channels of ours."""
    if not chat_ids:
        return set()
    rows = await session.scalars(
        select(ChannelRow.chat_id).where(ChannelRow.chat_id.in_(sorted(chat_ids)))
    )
    return set(rows)


async def record_channel_error(
    *, session: AsyncSession, chat_id: int, error: str | None, now: datetime
) -> None:
    """Remember Telegram's refusal to post to a channel (None: posting works again)."""
    await session.execute(
        update(ChannelRow)
        .where(ChannelRow.chat_id == chat_id)
        .values(error=error, error_at=now if error else None)
    )


# Forum threads


async def set_thread(*, session: AsyncSession, chat_id: int, topic: str, thread_id: int) -> None:
    """Send stories of `topic` in this chat to this thread (the chat must be stored)."""
    stmt = dialect_insert(session, ForumThreadRow).values(
        chat_id=chat_id, topic=topic, thread_id=thread_id
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[ForumThreadRow.chat_id, ForumThreadRow.topic],
            set_={"thread_id": stmt.excluded.thread_id},
        )
    )


async def forget_thread(*, session: AsyncSession, chat_id: int, thread_id: int) -> int:
    """Forget every topic sent to a thread that is gone; how many there were."""
    removed = await session.scalars(
        delete(ForumThreadRow)
        .where(ForumThreadRow.chat_id == chat_id, ForumThreadRow.thread_id == thread_id)
        .returning(ForumThreadRow.topic)
    )
    return len(removed.all())


async def threads_for(
    *, session: AsyncSession, article_id: int, chat_ids: Collection[int], topic: str | None
) -> dict[int, int]:
    """The thread each chat gets this article in: its broadcast's topic's, else the first of
    the article's topics (by name) that the chat mapped to a thread."""
    if not chat_ids:
        return {}
    article_topics = select(ArticleTopicRow.topic).where(ArticleTopicRow.article_id == article_id)
    rows = await session.execute(
        select(ForumThreadRow.chat_id, ForumThreadRow.topic, ForumThreadRow.thread_id)
        .where(
            ForumThreadRow.chat_id.in_(sorted(chat_ids)),
            ForumThreadRow.topic.in_(article_topics),
        )
        .order_by(ForumThreadRow.chat_id, ForumThreadRow.topic)
    )
    found: dict[int, int] = {}
    for chat_id, mapped_topic, thread_id in rows:
        if mapped_topic == topic or chat_id not in found:
            found[chat_id] = thread_id
    return found
