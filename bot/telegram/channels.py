"""Asking Telegram about a channel before publishes go there: is it one, may the bot post?

Used by `/channels add` and, at start, for every channel in NEWSBOT_CHANNELS.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

from bot.newsroom import places, refusals
from bot.newsroom.clock import Clock
from db.session import unit_of_work

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChannelCheck:
    """What Telegram said about a channel: its id, or why the bot cannot post there."""

    name: str
    chat_id: int | None
    # None when the bot may post; else a texts key: channel_not_found, channel_not_channel,
    # channel_not_admin.
    problem: str | None = None
    detail: str = ""


async def check_channel(bot: Bot, name: str) -> ChannelCheck:
    """Resolve a channel's name and check the bot is an administrator that may post there.

    BadChannel when the name cannot be a channel's.
    """
    reference = places.channel_reference(name)
    try:
        chat = await bot.get_chat(reference)
    except TelegramError as error:
        return ChannelCheck(name, None, "channel_not_found", str(error))
    if chat.type != ChatType.CHANNEL:
        return ChannelCheck(name, chat.id, "channel_not_channel")
    try:
        member = await bot.get_chat_member(chat.id, bot.id)
    except TelegramError as error:
        return ChannelCheck(name, chat.id, "channel_not_admin", str(error))
    may_post = getattr(member, "can_post_messages", None) is not False
    if member.status != ChatMemberStatus.ADMINISTRATOR or not may_post:
        return ChannelCheck(name, chat.id, "channel_not_admin", member.status)
    return ChannelCheck(name, chat.id)


async def sync_channels(
    bot: Bot,
    sessionmaker: async_sessionmaker[AsyncSession],
    names: Sequence[str],
    clock: Clock,
) -> None:
    """Add the channels NEWSBOT_CHANNELS names; one log line for each that cannot be used."""
    for name in names:
        try:
            check = await check_channel(bot, name)
        except refusals.BadChannel:
            log.error("NEWSBOT_CHANNELS: %r is not a channel's @username or id", name)
            continue
        except Exception as error:
            # Start-up goes on: a channel that cannot be checked now is checked next start.
            log.error("NEWSBOT_CHANNELS: could not check %s: %s", name, error)
            continue
        if check.problem is not None or check.chat_id is None:
            log.error(
                "NEWSBOT_CHANNELS: %s cannot be posted to (%s) %s",
                name,
                check.problem,
                check.detail,
            )
            continue
        async with unit_of_work(sessionmaker) as session:
            await places.add_channel(
                session=session, chat_id=check.chat_id, name=name, now=clock()
            )
