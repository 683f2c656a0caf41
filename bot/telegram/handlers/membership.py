"""The bot's own membership of a chat (`my_chat_member`): a reader who blocks the bot, or a
group or channel that removes it, is marked inactive at once, so no push is tried there; let
back in, the chat is active again."""

from __future__ import annotations

import logging
from typing import Any

from telegram import ChatMember, ChatMemberRestricted, Update
from telegram.ext import Application, ChatMemberHandler

from bot.telegram.context import Context
from db import store

log = logging.getLogger(__name__)


async def membership_changed(update: Update, context: Context) -> None:
    """Mark the chat inactive when the bot was blocked, banned or removed; active when back."""
    change = update.my_chat_member
    if change is None:
        return
    member = change.new_chat_member
    gone = member.status in (ChatMember.BANNED, ChatMember.LEFT) or (
        isinstance(member, ChatMemberRestricted) and not member.is_member
    )
    chat_id = change.chat.id
    async with context.bot_data.unit_of_work() as session:
        if gone:
            known = bool(
                await store.mark_chats_blocked(
                    session=session, chat_ids={chat_id}, now=context.bot_data.clock()
                )
            )
        else:
            known = await store.mark_chat_active(session=session, chat_id=chat_id)
    if known:
        state = "inactive" if gone else "active"
        log.info("chat %s: the bot is now %s; marked %s", chat_id, member.status, state)


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Changes of the bot's own membership (Telegram sends them when asked for)."""
    app.add_handler(ChatMemberHandler(membership_changed, ChatMemberHandler.MY_CHAT_MEMBER))
