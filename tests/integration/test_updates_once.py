"""Every update acts once: edits, channel posts, group chatter, repeats and member changes.

The `bot` fixture polls without limiting allowed_updates (Telegram's default set, as for a
bot that never set them), so edited messages and channel posts do reach the handlers here:
what is tested is that the handlers leave them alone. Repeated updates, and what the bot asks
Telegram for, are tested on `newsbot run` in test_updates_served.py.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, MessageHandler

from bot.telegram.app import NewsApp
from db import broadcasts
from tests.integration.bot_fixtures import OPERATOR, BotHarness

READER = 3001
OTHER = 3002  # a reader whose message shows that everything before it was handled
GROUP = -3003
CHANNEL = -1003004


async def settled(bot: BotHarness) -> None:
    """Wait until every update queued so far was handled (they are handled in order)."""
    await bot.say(OTHER, "/help")


async def broadcast_count(bot: BotHarness) -> int:
    async with bot.app.bot_data.unit_of_work() as session:
        return len(await broadcasts.list_broadcasts(session=session))


async def test_an_edited_publish_makes_no_second_broadcast(bot: BotHarness) -> None:
    (stored,) = await bot.ingest("en-night-buses.md")
    command = f"/publish {stored.article_id} 18:00"
    (created,) = await bot.say(OPERATOR, command)
    assert created.text.startswith("Broadcast #1 of article")
    (message_id,) = bot.api.chat(OPERATOR).user_messages
    assert bot.api.edit_user_message(OPERATOR, message_id, command.replace("18", "19")) > 0
    await settled(bot)
    assert await broadcast_count(bot) == 1
    assert [m.text for m in bot.api.messages(OPERATOR)] == [created.text]


async def test_an_edited_reader_command_is_not_answered_again(bot: BotHarness) -> None:
    await bot.say(READER, "/start")
    (answer,) = await bot.say(READER, "/latest")
    latest = max(bot.api.chat(READER).user_messages)
    bot.api.edit_user_message(READER, latest, "/help")
    await settled(bot)
    assert bot.api.messages(READER)[-1] == answer
    assert len(bot.api.messages(READER)) == 2


async def test_a_channel_post_gets_no_answer(bot: BotHarness) -> None:
    assert bot.api.post_in_channel(CHANNEL, "Morning edition: /latest news") > 0
    assert bot.api.post_in_channel(CHANNEL, "/help") > 0
    await settled(bot)
    assert bot.api.messages(CHANNEL) == []


async def test_group_chatter_gets_no_answer_but_commands_and_replies_do(
    bot: BotHarness,
) -> None:
    api = bot.api
    api.add_chat(GROUP, chat_type="supergroup", title="Readers' club")
    for words in ("good morning everyone", "/weather", "/help@another_bot", "/start@another_bot"):
        api.send_user_message(GROUP, words, user_id=51)
    await settled(bot)
    assert api.messages(GROUP) == []

    (help_text,) = await bot.say(GROUP, "/help")  # a command for every bot in the group
    assert help_text.text.startswith("Commands:")
    api.send_user_message(GROUP, f"/weather@{api.bot_username}", user_id=51)
    _, unknown = await api.wait_for_messages(GROUP, 2)
    assert unknown.text.startswith("I did not understand that.")
    before = len(api.messages(GROUP))
    api.send_user_message(GROUP, "what does this mean?", user_id=52, reply_to=help_text.message_id)
    replies = await api.wait_for_messages(GROUP, before + 1)
    assert replies[-1].text.startswith("I did not understand that.")
    api.send_user_message(GROUP, "me too", user_id=53)
    await settled(bot)
    assert len(api.messages(GROUP)) == before + 1


async def test_a_reader_who_blocks_the_bot_is_not_pushed_to(bot: BotHarness) -> None:
    await bot.say(READER, "/start")
    await bot.say(OTHER, "/start")
    bot.api.set_bot_status(READER, "kicked")
    await bot.eventually(lambda: _active(bot, READER, False), "the chat is marked inactive")

    (stored,) = await bot.ingest("en-night-buses.md")
    await bot.say(OPERATOR, f"/publish {stored.article_id}")
    await bot.api.wait_for_messages(OTHER, 2)
    await bot.eventually(lambda: _status_is(bot, 1, "done"), "the broadcast finishes", within=10)
    sends = [call["chat_id"] for call in bot.api.calls("sendMessage")]
    assert sends.count(READER) == 1  # the greeting, before the block; no push was tried

    bot.api.set_bot_status(READER, "member")
    await bot.eventually(lambda: _active(bot, READER, True), "the chat is active again")


async def test_a_group_that_removes_the_bot_is_marked_inactive(bot: BotHarness) -> None:
    bot.api.add_chat(GROUP, chat_type="group", title="Club")
    await bot.say(GROUP, "/start")
    bot.api.set_bot_status(GROUP, "left", user_id=61)
    await bot.eventually(lambda: _active(bot, GROUP, False), "the group is marked inactive")
    assert len(bot.api.messages(GROUP)) == 1


async def test_an_unreadable_update_is_logged_once_and_the_next_ones_are_handled(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    bad = bot.api.send_unreadable_update(READER)
    (greeting,) = await bot.say(READER, "/start")
    assert greeting.text.startswith("Welcome")
    await bot.say(READER, "/help")
    about_it = [r for r in caplog.records if str(bad) in r.getMessage()]
    assert len(about_it) == 1, [r.getMessage()[:200] for r in about_it]
    assert "could not be read" in about_it[0].getMessage()
    # Its id was confirmed: Telegram would not send it again.
    await bot.api.wait_for(lambda: len(bot.api.updates) == 0, description="all confirmed")


async def test_every_message_handler_takes_new_messages_and_no_edits_or_posts(
    bot: BotHarness,
) -> None:
    # allowed_updates asks for "message" on behalf of every one of them.
    app = bot.app
    handlers = _message_handlers(app)
    assert len(handlers) > 10
    help_command = _update(app, "message", "/help")
    assert any(handler.check_update(help_command) for handler in handlers)
    channel = {"id": -100777, "type": "channel", "title": "News"}
    for update in (
        _update(app, "edited_message", "/help"),
        _update(app, "edited_message", "/publish 3 19:00"),
        _update(app, "edited_message", "free text"),
        _update(app, "channel_post", "/help", channel),
        _update(app, "channel_post", "free text", channel),
    ):
        taken = [handler for handler in handlers if handler.check_update(update)]
        assert taken == [], update


def _update(app: NewsApp, kind: str, text: str, chat: dict[str, Any] | None = None) -> Update:
    chat = chat or {"id": READER, "type": "private", "first_name": "Reader"}
    body: dict[str, Any] = {"message_id": 9, "date": 1, "chat": chat, "text": text}
    if chat["type"] != "channel":
        body["from"] = {"id": READER, "is_bot": False, "first_name": "Reader"}
    if text.startswith("/"):
        body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    if kind.startswith("edited"):
        body["edit_date"] = 2
    return Update.de_json({"update_id": 1, kind: body}, app.bot)


def _message_handlers(app: NewsApp) -> list[BaseHandler[Any, Any, Any]]:
    return [
        handler
        for group in app.handlers.values()
        for handler in group
        if isinstance(handler, CommandHandler | MessageHandler)
    ]


async def _active(bot: BotHarness, chat_id: int, wanted: bool) -> bool:
    return await bot.chat_active(chat_id) is wanted


async def _status_is(bot: BotHarness, broadcast_id: int, status: str) -> bool:
    async with bot.app.bot_data.unit_of_work() as session:
        row = await broadcasts.get_broadcast(session=session, broadcast_id=broadcast_id)
    return row is not None and row.status == status
