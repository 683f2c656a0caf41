"""Where stories go besides readers: `/channels [add|remove CHANNEL]` and `/here TOPIC`.

`/channels` is for operators; `/here` for operators and the group's administrators, written in
a topic thread of a forum supergroup.
"""

from __future__ import annotations

import html
from typing import Any

from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler

from bot.newsroom import places, refusals
from bot.telegram.channels import check_channel
from bot.telegram.context import Context
from bot.telegram.handlers.common import enter
from bot.telegram.messages import echo
from bot.telegram.texts import text
from bot.telegram.updates import NEW_MESSAGE

_ADMINS = (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


async def channels_command(update: Update, context: Context) -> None:
    """/channels: the list; /channels add CHANNEL; /channels remove CHANNEL."""
    user = update.effective_user
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
    if user is None or user.id not in context.bot_data.settings.operators:
        await context.bot.send_message(chat_id, text(language, "not_operator"))
        return
    args = context.args or []
    if not args:
        reply = await _list(context, language)
    elif len(args) == 2 and args[0] in ("add", "remove"):
        try:
            if args[0] == "add":
                reply = await _add(context, language, args[1], user.id)
            else:
                async with context.bot_data.unit_of_work() as session:
                    removed = await places.remove_channel(session=session, name=args[1])
                reply = text(language, "channel_removed", name=html.escape(removed.name))
        except refusals.BadChannel:
            reply = text(language, "channels_usage")
        except refusals.NoChannel:
            reply = text(language, "channel_unknown", name=echo(args[1]))
    else:
        reply = text(language, "channels_usage")
    await context.bot.send_message(chat_id, reply)


async def _list(context: Context, language: str) -> str:
    async with context.bot_data.unit_of_work() as session:
        found = await places.channels(session=session)
    if not found:
        return text(language, "channels_none")
    lines = [text(language, "channels_header")]
    for channel in found:
        line = f"{html.escape(channel.name)} ({channel.chat_id})"
        if channel.error:
            line += f" ⚠️ {html.escape(channel.error[:200])}"
        lines.append(line)
    return "\n".join(lines)


async def _add(context: Context, language: str, name: str, user_id: int) -> str:
    check = await check_channel(context.bot, name)
    if check.problem is not None or check.chat_id is None:
        return text(language, check.problem or "channel_not_found", name=echo(name))
    async with context.bot_data.unit_of_work() as session:
        added = await places.add_channel(
            session=session,
            chat_id=check.chat_id,
            name=name,
            now=context.bot_data.clock(),
            added_by=user_id,
        )
    return text(language, "channel_added" if added else "channel_exists", name=echo(name))


async def here(update: Update, context: Context) -> None:
    """/here TOPIC in a forum thread: stories of TOPIC come to this thread."""
    user = update.effective_user
    message = update.effective_message
    chat = update.effective_chat
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
    thread_id = message.message_thread_id if message and message.is_topic_message else None

    async def answer(words: str) -> None:
        await context.bot.send_message(chat_id, words, message_thread_id=thread_id)

    if chat is None or not chat.is_forum or thread_id is None:
        await answer(text(language, "here_not_thread"))
        return
    if user is None or not await _may_map(context, chat_id, user.id):
        await answer(text(language, "here_not_admin"))
        return
    topic = " ".join(context.args or []).strip()
    if not topic:
        await answer(text(language, "here_usage"))
        return
    try:
        async with context.bot_data.unit_of_work() as session:
            stored = await places.map_thread(
                session=session, chat_id=chat_id, topic=topic, thread_id=thread_id
            )
    except refusals.BadTopic:
        await answer(text(language, "bad_topic", topic=echo(topic)))
        return
    await answer(text(language, "here_set", topic=echo(stored)))


async def _may_map(context: Context, chat_id: int, user_id: int) -> bool:
    """An operator, or an administrator of this group."""
    if user_id in context.bot_data.settings.operators:
        return True
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        return False
    return member.status in _ADMINS


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """/channels and /here; registered before the reader's catch-all."""
    app.add_handler(CommandHandler("channels", channels_command, filters=NEW_MESSAGE))
    app.add_handler(CommandHandler("here", here, filters=NEW_MESSAGE))
