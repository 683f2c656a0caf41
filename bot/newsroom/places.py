"""Where stories go besides readers' chats: channels, and forum threads mapped to topics.

The chat's `/channels` and `/here`, and NEWSBOT_CHANNELS at start, call these once Telegram has
told them which chat a name is; this layer only stores. None of these commits.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

import db.channels
import db.store
from bot.newsroom import refusals
from content.assemble import normalize_topic
from db.models import ChannelRow

CHANNEL_NAME = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}|-100[0-9]{1,16}")


def channel_reference(name: str) -> str | int:
    """A channel as Telegram's chat_id takes it: "@username" or the numeric id.

    BadChannel when it is neither.
    """
    name = name.strip()
    if not CHANNEL_NAME.fullmatch(name):
        raise refusals.BadChannel(name)
    return name if name.startswith("@") else int(name)


async def add_channel(
    *,
    session: AsyncSession,
    chat_id: int,
    name: str,
    now: datetime,
    added_by: int | None = None,
) -> bool:
    """Post every publish to this channel too; False when it was one already."""
    return await db.channels.add_channel(
        session=session, chat_id=chat_id, name=name, now=now, added_by=added_by
    )


async def remove_channel(*, session: AsyncSession, name: str) -> ChannelRow:
    """Stop posting to a channel; NoChannel when it is not one of ours."""
    reference = channel_reference(name)
    found = await db.channels.find_channel(session=session, name_or_id=reference)
    if found is None:
        raise refusals.NoChannel(name)
    await db.channels.remove_channel(session=session, name_or_id=found.chat_id)
    return found


async def channels(*, session: AsyncSession) -> list[ChannelRow]:
    """The channels publishes go to, with Telegram's last refusal for each."""
    return await db.channels.list_channels(session=session)


async def map_thread(*, session: AsyncSession, chat_id: int, topic: str, thread_id: int) -> str:
    """Send stories of `topic` to this forum thread (the chat subscribes to it); the topic as
    stored. BadTopic when nothing of it is left once normalised."""
    normalised = normalize_topic(topic)
    if not normalised:
        raise refusals.BadTopic(topic)
    await db.store.subscribe(session=session, chat_id=chat_id, topic=normalised)
    await db.channels.set_thread(
        session=session, chat_id=chat_id, topic=normalised, thread_id=thread_id
    )
    return normalised
