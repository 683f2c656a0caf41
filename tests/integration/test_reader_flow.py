"""A reader's conversation, end to end: PTB polling the fake Bot API, on each database."""

from __future__ import annotations

import re

from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import store_sources
from bot.sandbox.botapi.state import BotMessage
from bot.telegram.callbacks import ReadSection, ShowLatest, ToggleTopic, topic_key
from content.sources import ParsedSource
from content.text_parser import parse_text
from db import store
from tests.integration import store_helpers
from tests.integration.bot_fixtures import BotHarness

READER = 1001


def button_data(message: BotMessage, label_pattern: str) -> str:
    """The callback data of the button whose label matches."""
    for button in message.buttons():
        if re.search(label_pattern, button["text"]) and "callback_data" in button:
            return str(button["callback_data"])
    raise AssertionError(f"no button {label_pattern!r} in {message.buttons()!r}")


async def test_start_subscribes_and_greets_in_the_readers_language(bot: BotHarness) -> None:
    (greeting,) = await bot.say(READER, "/start", language_code="en")
    assert greeting.text.startswith("Welcome to the news")
    async with bot.app.bot_data.unit_of_work() as session:
        assert await store.subscriptions(session=session, chat_id=READER) == ["*"]
        chat = await store.get_chat(session=session, chat_id=READER)
    assert chat is not None and chat.active and chat.telegram_language == "en"
    (arabic,) = await bot.say(READER + 1, "/start", language_code="fr")
    assert arabic.text.startswith("أهلًا بك")  # unknown client language: NEWSBOT_LANGUAGE


async def test_read_the_arabic_sample_from_latest_to_the_last_section(bot: BotHarness) -> None:
    (stored,) = await bot.ingest("ar-solar-station.txt", topics=["energy"])
    assert stored.sections >= 4
    bot.language_code = "ar"
    await bot.say(READER, "/start")
    (latest,) = await bot.say(READER, "/latest")
    assert "محطة شمسية جديدة" in latest.text
    (card,) = await bot.press(READER, latest, button_data(latest, "محطة شمسية"))
    assert card.text.startswith("محطة شمسية جديدة")
    assert "سارة المنصوري" in card.text and "افتتحت البلدية" in card.text
    assert card.entities[0].type == "bold"
    (section,) = await bot.press(READER, card, button_data(card, "اقرأ المزيد"))
    seen = [section.text]
    for position in range(2, stored.sections + 1):
        label = rf"\({position}/{stored.sections}\)"
        pressed = section
        (section,) = await bot.press(READER, pressed, button_data(pressed, label))
        seen.append(section.text)
        # The pressed "Next" goes (after the section is sent), so it cannot send it twice.
        await bot.api.wait_for(
            lambda: bot.api.messages(READER)[-2].buttons() == [],
            description="the pressed Next button to be removed",
        )
    assert section.text.endswith("— نهاية القصة —")
    assert section.callback_data() == [ShowLatest().encode()]
    body = "".join(seen).replace("— نهاية القصة —", "")
    assert "كيف تعمل المحطة؟" in body and "وردت البلدية" in body
    assert "اقرأ أيضًا" not in body and "ربما يعجبك" not in body
    async with bot.app.bot_data.unit_of_work() as session:
        reading = await store.current_reading(session=session, chat_id=READER)
    assert reading is not None and reading.section_index == stored.sections
    (again,) = await bot.press(READER, section, ShowLatest().encode())
    assert "محطة شمسية" in again.text


async def test_more_continues_the_current_story(bot: BotHarness) -> None:
    (stored,) = await bot.ingest("ar-solar-station.txt")
    (nothing,) = await bot.say(READER, "/more")
    assert "/latest" in nothing.text
    (card,) = await bot.say(READER, f"/summary {stored.article_id}")
    await bot.press(READER, card, ReadSection(stored.article_id, 1).encode())
    (second,) = await bot.say(READER, "/more")
    first_button = bot.api.messages(READER)[-2].callback_data()
    assert first_button == [ReadSection(stored.article_id, 2).encode()]
    assert second.callback_data() == [ReadSection(stored.article_id, 3).encode()]


async def test_deep_link_opens_the_story(bot: BotHarness) -> None:
    (stored,) = await bot.ingest("en-night-buses.md")
    greeting, card = await bot.say(READER, f"/start a{stored.article_id}", count=2)
    assert greeting.text.startswith("Welcome")
    assert card.text.startswith("City approves a night bus network")
    urls = [b.get("url") for b in card.buttons()]
    assert "https://example.org/news/night-buses" in urls
    greeting, gone = await bot.say(READER, "/start a999999", count=2)
    assert gone.text == "There is no story 999999. Send /latest for the newest stories."


async def test_language_switch_changes_texts_and_menu(bot: BotHarness) -> None:
    await bot.say(READER, "/start", language_code="en")
    (chooser,) = await bot.say(READER, "/language")
    query_id = bot.api.press_button(READER, chooser.message_id, "l:ar")
    await bot.answered(query_id)
    await bot.api.wait_for(
        lambda: bot.api.messages(READER)[-1].text == "سأكلمك بالعربية.",
        description="the language confirmation",
    )
    (help_text,) = await bot.say(READER, "/help")
    assert help_text.text.startswith("الأوامر")
    scope = {"type": "chat", "chat_id": READER}
    menu = await bot.api.wait_for(lambda: bot.api.commands_for(scope))
    assert any(c["description"] == "أحدث القصص" for c in menu)
    assert bot.api.commands_for(None, "en") and bot.api.commands_for(None, "ar")


async def test_topic_toggles_and_subscribe_commands(bot: BotHarness) -> None:
    await bot.ingest("en-night-buses.md", "en-feed.xml")
    await bot.say(READER, "/start")
    (menu,) = await bot.say(READER, "/topics")
    labels = [b["text"] for b in menu.buttons()]
    assert labels[0].startswith("✅")  # all topics, from /start
    assert any("transport" in label for label in labels)
    query_id = bot.api.press_button(
        READER, menu.message_id, ToggleTopic(topic_key("transport")).encode()
    )
    assert await bot.answered(query_id) == "Subscribed to “transport” ✅"
    await bot.api.wait_for(
        lambda: any(
            b["text"].startswith("✅") and "transport" in b["text"]
            for b in bot.api.messages(READER)[0 + len(bot.api.messages(READER)) - 1].buttons()
        ),
        description="the keyboard to show transport subscribed",
    )
    async with bot.app.bot_data.unit_of_work() as session:
        assert await store.subscriptions(session=session, chat_id=READER) == ["transport"]
    (latest,) = await bot.say(READER, "/latest")
    assert "night bus" in latest.text and "Library" not in latest.text
    (reply,) = await bot.say(READER, "/subscribe education")
    assert reply.text == "Subscribed to “education” ✅"
    (reply,) = await bot.say(READER, "/unsubscribe transport")
    assert reply.text == "Unsubscribed from “transport”."
    (reply,) = await bot.say(READER, "/unsubscribe sport")
    assert reply.text == "You were not subscribed to “sport”."
    (reply,) = await bot.say(READER, "/subscribe <b>x</b> & y")
    # No story has it: nothing is subscribed, and the reader sees the topics there are.
    assert reply.text == (
        "No story has the topic “<b>x</b> & y”.\n"
        "Topics: city, education, transport, ثقافة\nSend /topics to choose."
    )  # shown as text, not markup
    async with bot.app.bot_data.unit_of_work() as session:
        assert await store.subscriptions(session=session, chat_id=READER) == ["education"]
    (reply,) = await bot.say(READER, "/unsubscribe")
    async with bot.app.bot_data.unit_of_work() as session:
        assert await store.subscriptions(session=session, chat_id=READER) == []


async def test_forged_and_stale_buttons_get_a_short_answer(bot: BotHarness) -> None:
    (stored,) = await bot.ingest("en-night-buses.md")
    await bot.say(READER, "/start", language_code="en")
    (card,) = await bot.say(READER, f"/summary {stored.article_id}")
    sent = len(bot.api.messages(READER))
    for forged in (
        "r:1:0",
        f"r:{stored.article_id}:99",
        "r:424242:1",
        "a:424242",
        "t:000000000000",
        "l:fr",
        "garbage",
        "r:1:1; DROP TABLE articles",
        "x" * 64,
    ):
        query_id = bot.api.press_button(READER, card.message_id, forged, forge=True)
        answer = await bot.answered(query_id)
        assert answer in {
            "This button is no longer valid.",
            "This story is no longer available.",
            "There is no further section in this story.",
        }, forged
    assert len(bot.api.messages(READER)) == sent
    async with bot.app.bot_data.unit_of_work() as session:
        await store_helpers.delete_article(session=session, article_id=stored.article_id)
    query_id = bot.api.press_button(
        READER, card.message_id, ReadSection(stored.article_id, 1).encode()
    )
    assert await bot.answered(query_id) == "This story is no longer available."


async def test_unknown_command_and_free_text_get_help(bot: BotHarness) -> None:
    (reply,) = await bot.say(READER, "/frobnicate", language_code="en")
    assert reply.text.startswith("I did not understand that.") and "/latest" in reply.text
    (reply,) = await bot.say(READER, "hello there")
    assert "/latest" in reply.text
    (reply,) = await bot.say(READER, "/summary twelve")
    assert reply.text == "Give a story number, for example: /summary 12"


async def test_a_reader_who_blocked_the_bot_is_marked_inactive(bot: BotHarness) -> None:
    await bot.say(READER, "/start")
    bot.api.block_chat(READER)
    bot.api.send_user_message(READER, "/latest")

    async def inactive() -> bool:
        return await bot.chat_active(READER) is False

    await bot.eventually(inactive, "the chat to be marked inactive")
    bot.api.unblock_chat(READER)
    await bot.say(READER, "/help")
    assert not await inactive()  # writing to us again makes the reader reachable


async def test_corpus_article_reads_to_the_end(bot: BotHarness, corpus_text: str) -> None:
    bot.language_code = "ar"
    async with bot.app.bot_data.unit_of_work() as session:
        (stored,) = await store_sources(
            session=session,
            sources=[ParsedSource("corpus", "text", [parse_text(corpus_text)])],
            target=bot.settings.section_target,
            now=utcnow(),
        )
    (card,) = await bot.say(READER, f"/summary {stored.article_id}")
    (section,) = await bot.press(READER, card, ReadSection(stored.article_id, 1).encode())
    for index in range(2, stored.sections + 1):
        (section,) = await bot.press(
            READER, section, ReadSection(stored.article_id, index).encode()
        )
    assert "نهاية القصة" in section.text


async def test_a_story_never_stored_differs_from_one_taken_down(bot: BotHarness) -> None:
    first, second = await bot.ingest("en-night-buses.md", "ar-solar-station.txt")
    await bot.say(READER, "/start", language_code="en")
    async with bot.app.bot_data.unit_of_work() as session:
        row = await store.get_article(session=session, article_id=first.article_id)
        assert row is not None
        await session.delete(row)
    (reply,) = await bot.say(READER, f"/summary {first.article_id}")
    assert reply.text == "This story is no longer available."
    (reply,) = await bot.say(READER, f"/summary {second.article_id + 997}")
    assert reply.text == (
        f"There is no story {second.article_id + 997}. Send /latest for the newest stories."
    )


async def test_subscribing_to_a_topic_no_story_has_lists_the_topics(bot: BotHarness) -> None:
    await bot.ingest("en-night-buses.md")
    await bot.say(READER, "/start", language_code="ar")
    (reply,) = await bot.say(READER, "/subscribe sport", language_code="ar")
    assert reply.text == (
        "لا توجد قصص في موضوع «sport».\nالمواضيع: city، transport\nاكتب /topics للاختيار."
    )
    async with bot.app.bot_data.unit_of_work() as session:
        assert await store.subscriptions(session=session, chat_id=READER) == ["*"]
