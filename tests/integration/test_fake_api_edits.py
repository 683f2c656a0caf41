"""The fake Bot API's captions, deletions, channels and forum threads, driven by PTB over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot, ChatMemberAdministrator
from telegram.error import BadRequest, Forbidden

from bot.sandbox.botapi.server import DEFAULT_TOKEN, FakeBotApi
from tests.integration.test_fake_api import NOT_MODIFIED, USER, keyboard

CHANNEL = -1001000
FORUM = -1002000


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(DEFAULT_TOKEN) as api:
        yield api


@pytest.fixture
async def bot(server: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(DEFAULT_TOKEN, base_url=f"{server.url}/bot") as client:
        yield client


def words(caught: pytest.ExceptionInfo[BadRequest]) -> str:
    """Telegram's description without "Bad Request: " (PTB capitalises the first letter)."""
    return caught.value.message.lower()


async def test_a_caption_is_edited_and_text_edits_are_refused(
    server: FakeBotApi, bot: Bot
) -> None:
    photo = server.post_photo(USER, "<b>old</b>", keyboard=keyboard("a").to_dict())
    with pytest.raises(BadRequest) as caught:
        await bot.edit_message_text("new", USER, photo)
    assert words(caught) == "there is no text in the message to edit"
    edited = await bot.edit_message_caption(
        USER, photo, caption="<b>new</b>", parse_mode="HTML", reply_markup=keyboard("a")
    )
    assert edited.caption == "new" and edited.photo
    [stored] = server.messages(USER)
    assert (stored.text, stored.text_edits, stored.callback_data()) == ("new", 1, ["a"])
    with pytest.raises(BadRequest) as caught:
        await bot.edit_message_caption(
            USER, photo, caption="<b>new</b>", parse_mode="HTML", reply_markup=keyboard("a")
        )
    assert caught.value.message.lower() == NOT_MODIFIED
    # Only the keyboard changes: an edit, but the words were not edited.
    await bot.edit_message_caption(USER, photo, caption="<b>new</b>", parse_mode="HTML")
    assert server.messages(USER)[0].text_edits == 1
    with pytest.raises(BadRequest) as caught:
        await bot.edit_message_caption(USER, photo, caption="x" * 1025)
    assert words(caught) == "message caption is too long"
    text = await bot.send_message(USER, "plain")
    with pytest.raises(BadRequest) as caught:
        await bot.edit_message_caption(USER, text.message_id, caption="x")
    assert words(caught) == "there is no caption in the message to edit"


async def test_messages_older_than_48_hours_cannot_be_deleted_but_in_channels(
    server: FakeBotApi, bot: Bot
) -> None:
    old = await bot.send_message(USER, "old")
    fresh = await bot.send_message(USER, "fresh")
    server.age_messages(USER, 48 * 3600, old.message_id)
    with pytest.raises(BadRequest) as caught:
        await bot.delete_message(USER, old.message_id)
    assert words(caught) == "message can't be deleted for everyone"
    assert await bot.delete_message(USER, fresh.message_id)
    # Editing has no such limit.
    await bot.edit_message_text("withdrawn", USER, old.message_id)

    server.add_channel(CHANNEL, username="news_channel")
    post = await bot.send_message("@news_channel", "post")
    server.age_messages(CHANNEL, 30 * 24 * 3600)
    assert await bot.delete_message(CHANNEL, post.message_id)


async def test_a_channel_takes_posts_only_from_an_administrator(
    server: FakeBotApi, bot: Bot
) -> None:
    server.add_channel(CHANNEL, username="news_channel", admin=False)
    chat = await bot.get_chat("@news_channel")
    assert (chat.id, chat.type) == (CHANNEL, "channel")
    member = await bot.get_chat_member(CHANNEL, bot.id)
    assert member.status == "member"
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(CHANNEL, "post")
    assert words(caught) == "need administrator rights in the channel chat"

    server.chat(CHANNEL).bot_status = "administrator"
    admin = await bot.get_chat_member(CHANNEL, bot.id)
    assert isinstance(admin, ChatMemberAdministrator) and admin.can_post_messages
    await bot.send_message(CHANNEL, "post")
    server.chat(CHANNEL).bot_status = "left"
    with pytest.raises(Forbidden, match="bot is not a member of the channel chat"):
        await bot.send_message(CHANNEL, "post")
    with pytest.raises(BadRequest) as caught:
        await bot.get_chat("@nobody_here")
    assert words(caught) == "chat not found"


async def test_forum_threads(server: FakeBotApi, bot: Bot) -> None:
    thread = server.open_thread(FORUM)
    sent = await bot.send_message(FORUM, "in the thread", message_thread_id=thread)
    assert (sent.message_thread_id, sent.is_topic_message) == (thread, True)
    assert sent.chat.is_forum
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(FORUM, "x", message_thread_id=thread + 100)
    assert words(caught) == "message thread not found"
    server.close_thread(FORUM, thread)
    with pytest.raises(BadRequest):
        await bot.send_message(FORUM, "x", message_thread_id=thread)
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(USER, "x", message_thread_id=1)
    assert words(caught) == "message thread not found"

    server.open_thread(FORUM)
    server.send_user_message(FORUM, "/here sport", user_id=5, thread_id=thread + 2)
    [update] = await bot.get_updates()
    assert update.message is not None
    assert update.message.message_thread_id == thread + 2 and update.message.is_topic_message
