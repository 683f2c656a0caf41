"""Channels and forum threads: publishing beyond readers' chats, end to end (fake API)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.newsroom.clock import utcnow
from bot.ops.runtime import running_bot
from bot.sandbox.botapi.server import FakeBotApi
from bot.sandbox.botapi.state import BotMessage
from bot.settings import Settings
from db import broadcasts, store
from db.channels import list_channels
from db.migrate import upgrade
from tests.integration.bot_fixtures import OPERATOR, TOKEN, BotHarness
from tests.integration.test_corrections import (
    NEW_TITLE,
    OLD_TITLE,
    finished,
    ingest_file,
    revised_text,
)
from tests.texts import SAMPLES

CHANNEL = -1001234567
READER = 3101


async def channel_posts(bot: BotHarness, count: int) -> list[BotMessage]:
    return await bot.api.wait_for_messages(CHANNEL, count)


async def test_a_channel_gets_the_card_and_its_corrections_and_retraction(
    bot: BotHarness, tmp_path: Path
) -> None:
    bot.api.add_channel(CHANNEL, username="city_news")
    (added,) = await bot.say(OPERATOR, "/channels add @city_news")
    assert added.text == "Stories will also be posted to @city_news."
    (listing,) = await bot.say(OPERATOR, "/channels")
    assert listing.text == f"Channels:\n@city_news ({CHANNEL})"
    (again,) = await bot.say(OPERATOR, "/channels add @city_news")
    assert again.text == "Stories are already posted to @city_news."

    await bot.say(READER, "/start")
    source = tmp_path / "night-buses.md"
    source.write_text((SAMPLES / "en-night-buses.md").read_text(encoding="utf-8"))
    article_id = (await ingest_file(bot, source)).article_id
    await bot.say(OPERATOR, f"/publish {article_id}")
    await finished(bot, 1)
    (post,) = await channel_posts(bot, 1)
    assert post.text.startswith(OLD_TITLE)
    # Everyone sees a channel's buttons: no callbacks, a link into the bot instead.
    assert post.callback_data() == []
    assert post.buttons()[0]["url"] == f"https://t.me/newsbot_test_bot?start=a{article_id}"
    keyboard = post.reply_markup
    # The reader's own card keeps its "Read more" button.
    assert bot.api.messages(READER)[1].callback_data() == [f"r:{article_id}:1"]

    source.write_text(revised_text(), encoding="utf-8")
    await ingest_file(bot, source)
    (reply,) = await bot.say(OPERATOR, f"/correct {article_id}")
    assert reply.text.endswith("2 messages to edit.")
    await finished(bot, 2)
    (post,) = bot.api.messages(CHANNEL)
    assert post.text.startswith(NEW_TITLE) and post.text_edits == 1
    assert post.reply_markup == keyboard

    # In a channel an administrator may delete posts of any age.
    bot.api.age_messages(CHANNEL, 72 * 3600)
    await bot.say(OPERATOR, f"/retract {article_id}")
    await finished(bot, 3)
    assert bot.api.messages(CHANNEL) == []

    (removed,) = await bot.say(OPERATOR, "/channels remove @CITY_NEWS")
    assert removed.text == "Stories will no longer be posted to @city_news."
    (listing,) = await bot.say(OPERATOR, "/channels")
    assert listing.text == "Stories are not posted to any channel."


async def test_channels_the_bot_cannot_post_to_are_refused_or_reported_once(
    bot: BotHarness,
) -> None:
    bot.api.add_channel(-1005555, username="not_admin", admin=False)
    answers = {
        "/channels add @not_admin": "The bot is not an administrator that may post in "
        "@not_admin: make it one, then try again.",
        "/channels add @no_such_channel": "Telegram does not know the channel @no_such_channel.",
        "/channels add news": "Usage: /channels, /channels add @channel or /channels remove "
        "@channel",
        "/channels remove @elsewhere": "@elsewhere is not one of our channels.",
        "/channels drop @x": "Usage: /channels, /channels add @channel or /channels remove "
        "@channel",
    }
    for command, expected in answers.items():
        (reply,) = await bot.say(OPERATOR, command)
        assert reply.text == expected, command
    (refused,) = await bot.say(READER, "/channels add @not_admin")
    assert refused.text == "Sorry, this command is for editors only."

    bot.api.add_channel(CHANNEL, username="city_news")
    await bot.say(OPERATOR, "/channels add @city_news")
    bot.api.chat(CHANNEL).bot_status = "member"  # demoted after it was added
    (stored,) = await bot.ingest("en-night-buses.md")
    await bot.say(OPERATOR, f"/publish {stored.article_id}")
    await finished(bot, 1)
    posts = [c for c in bot.api.calls("sendMessage") if c["chat_id"] == CHANNEL]
    assert len(posts) == 1
    (listing,) = await bot.say(OPERATOR, "/channels")
    assert "⚠️ BadRequest: Need administrator rights in the channel chat" in listing.text
    async with bot.app.bot_data.unit_of_work() as session:
        progress = await broadcasts.broadcast_progress(session=session, broadcast_id=1)
    assert progress is not None and progress.failed == 1


async def test_channels_named_in_the_settings_are_added_at_start(
    fake_api: FakeBotApi, database_url: str
) -> None:
    await asyncio.to_thread(upgrade, database_url)
    fake_api.add_channel(CHANNEL, username="city_news")
    fake_api.add_channel(-1009, username="muted", admin=False)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        token=TOKEN,
        api_url=fake_api.url,
        database_url=database_url,
        channels=("@city_news", "@muted", "@unknown_one", "not-a-channel"),
    )
    async with running_bot(settings) as runtime, runtime.unit_of_work() as session:
        found = await list_channels(session=session)
    assert [(row.chat_id, row.name) for row in found] == [(CHANNEL, "@city_news")]


async def test_here_sends_a_topic_to_a_forum_thread(bot: BotHarness) -> None:
    group = -1007777
    thread = bot.api.open_thread(group)

    async def say_in_group(words: str, *, user_id: int, thread_id: int | None) -> BotMessage:
        before = len(bot.api.messages(group))
        bot.api.send_user_message(group, words, user_id=user_id, thread_id=thread_id)
        messages = await bot.api.wait_for_messages(group, before + 1)
        return messages[-1]

    outside = await say_in_group("/here sport", user_id=OPERATOR, thread_id=None)
    assert outside.text == "Send /here in a topic thread of a forum group."
    member = await say_in_group("/here sport", user_id=4242, thread_id=thread)
    assert member.text == "Only the group's administrators may do that."
    usage = await say_in_group("/here", user_id=OPERATOR, thread_id=thread)
    assert usage.text.startswith("Usage: /here TOPIC")
    done = await say_in_group("/here Sport", user_id=OPERATOR, thread_id=thread)
    assert done.text == "Stories of “sport” will come to this thread."
    assert done.message_thread_id == thread

    (stored,) = await bot.ingest("en-night-buses.md", topics=["sport"])
    await bot.say(OPERATOR, f"/publish {stored.article_id}")
    await finished(bot, 1)
    card = bot.api.messages(group)[-1]
    assert card.text.startswith(OLD_TITLE)
    assert card.message_thread_id == thread

    # The thread is deleted: the next push goes to the group itself, and the mapping is gone.
    bot.api.close_thread(group, thread)
    await bot.say(OPERATOR, f"/publish {stored.article_id}")
    await finished(bot, 2)
    card = bot.api.messages(group)[-1]
    assert card.text.startswith(OLD_TITLE)
    assert card.message_thread_id is None
    thread_calls = [c for c in bot.api.calls("sendMessage") if c.get("message_thread_id")]
    assert len(thread_calls) == 2 + 3  # the card, its refused retry, and three answers


async def test_300_readers_and_a_channel_pushed_corrected_and_retracted(
    fake_api: FakeBotApi, database_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(upgrade, database_url)
    fake_api.add_channel(CHANNEL, username="city_news")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        token=TOKEN,
        api_url=fake_api.url,
        database_url=database_url,
        language="en",
        operators=frozenset({OPERATOR}),
        channels=("@city_news",),
        # Paid broadcasts: the pacing is what test_pacing covers; here, the jobs' outcomes.
        paid_broadcast=True,
        rate=600,
    )
    readers = range(20_001, 20_301)
    async with running_bot(settings) as runtime:
        await runtime.poll(poll_timeout=1)
        bot = BotHarness(runtime.app, fake_api, settings)
        async with runtime.unit_of_work() as session:
            for reader in readers:
                await store.ensure_chat(
                    session=session,
                    chat_id=reader,
                    kind="private",
                    telegram_language="en",
                    now=utcnow(),
                )
                await store.subscribe(session=session, chat_id=reader, topic=None)
        source = tmp_path / "night-buses.md"
        source.write_text((SAMPLES / "en-night-buses.md").read_text(encoding="utf-8"))
        article_id = (await ingest_file(bot, source)).article_id
        await bot.say(OPERATOR, f"/publish {article_id}")
        await finished(bot, 1)
        chats = [*readers, CHANNEL]
        assert all(len(fake_api.messages(chat)) == 1 for chat in chats)

        source.write_text(revised_text(), encoding="utf-8")
        await ingest_file(bot, source)
        (reply,) = await bot.say(OPERATOR, f"/correct {article_id}")
        assert reply.text.endswith("301 messages to edit.")
        await finished(bot, 2)
        for chat in chats:
            (card,) = fake_api.messages(chat)
            assert card.text.startswith(NEW_TITLE) and card.text_edits == 1, chat

        (reply,) = await bot.say(OPERATOR, f"/retract {article_id}")
        assert "301 messages to delete" in reply.text
        await finished(bot, 3)
        assert all(fake_api.messages(chat) == [] for chat in chats)
        (stats,) = await bot.say(OPERATOR, "/stats 3")
        assert "sent 301 of 301" in stats.text
