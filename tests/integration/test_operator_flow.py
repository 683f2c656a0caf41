"""Editors in the chat: publish, schedule, list, cancel and count broadcasts, end to end."""

from __future__ import annotations

from bot.telegram.callbacks import ReadSection
from db import broadcasts
from tests.integration.bot_fixtures import OPERATOR, BotHarness

READERS = (2001, 2002, 2003)


async def subscribe_readers(bot: BotHarness) -> None:
    for reader in READERS:
        await bot.say(reader, "/start")


async def stored_broadcasts(bot: BotHarness) -> list[tuple[int, str, str | None]]:
    async with bot.app.bot_data.unit_of_work() as session:
        rows = await broadcasts.list_broadcasts(session=session)
    return [(row.article_id, row.status, row.topic) for row in rows]


async def test_someone_else_is_refused_and_nothing_changes(bot: BotHarness) -> None:
    (stored,) = await bot.ingest("en-night-buses.md")
    for command in (f"/publish {stored.article_id}", "/broadcasts", "/cancel 1", "/stats"):
        (reply,) = await bot.say(2001, command)
        assert reply.text == "Sorry, this command is for editors only."
    assert await stored_broadcasts(bot) == []


async def test_publish_pushes_the_story_to_every_subscriber_once(bot: BotHarness) -> None:
    await subscribe_readers(bot)
    (stored,) = await bot.ingest("en-night-buses.md")

    (reply,) = await bot.say(OPERATOR, f"/publish {stored.article_id}")
    assert reply.text.startswith("Broadcast #1 of article")

    for reader in READERS:
        cards = await bot.api.wait_for_messages(reader, 2)  # the greeting, then the story
        assert cards[1].text.startswith("City approves a night bus network")
        assert cards[1].buttons()[0]["text"] == "Read more"
    await bot.eventually(lambda: _status_is(bot, 1, "done"), "the broadcast finishes", within=10)
    assert all(len(bot.api.messages(reader)) == 2 for reader in READERS)

    # A reader opens it: /stats counts them.
    card = bot.api.messages(READERS[0])[1]
    await bot.press(READERS[0], card, ReadSection(stored.article_id, 1).encode())
    (stats,) = await bot.say(OPERATOR, "/stats 1")
    assert "sent 3 of 3" in stats.text
    assert "1 readers opened" in stats.text


async def _status_is(bot: BotHarness, broadcast_id: int, status: str) -> bool:
    async with bot.app.bot_data.unit_of_work() as session:
        row = await broadcasts.get_broadcast(session=session, broadcast_id=broadcast_id)
    return row is not None and row.status == status


async def test_schedule_list_and_cancel(bot: BotHarness) -> None:
    (stored,) = await bot.ingest("en-night-buses.md")
    article = stored.article_id

    (reply,) = await bot.say(OPERATOR, f"/schedule {article} tomorrow 08:00 sport")
    assert reply.text.startswith("Broadcast #1 of article")
    assert "“sport”" in reply.text
    assert await stored_broadcasts(bot) == [(article, "scheduled", "sport")]

    await bot.say(2001, "/start")  # one reader, subscribed to every topic
    (listing,) = await bot.say(OPERATOR, "/broadcasts")
    assert "#1 · scheduled" in listing.text
    # Not "sent 0 of 0": before it starts, what it would reach now.
    assert "not started · would reach about 1 readers now" in listing.text

    (cancelled,) = await bot.say(OPERATOR, "/cancel 1")
    assert cancelled.text.startswith("Broadcast #1 cancelled")
    (stats,) = await bot.say(OPERATOR, "/stats 1")
    assert stats.text.splitlines()[1] == "never started"
    (again,) = await bot.say(OPERATOR, "/cancel 1")
    assert again.text == "Broadcast #1 cannot be cancelled: it is cancelled."
    (unknown,) = await bot.say(OPERATOR, "/cancel 99")
    assert unknown.text == "There is no broadcast 99."


async def test_bad_times_and_ids_get_a_clear_answer_and_schedule_nothing(
    bot: BotHarness,
) -> None:
    (stored,) = await bot.ingest("en-night-buses.md")
    article = stored.article_id
    answers = {
        f"/schedule {article} 25:00": "is not a time of day",
        f"/schedule {article} 2001-01-01T10:00": "has already passed",
        f"/schedule {article} someday": "Cannot read “someday” as a time",
        f"/schedule {article}": "Usage: /schedule",
        "/schedule 999 now": "There is no article 999.",
        "/publish abc": "Usage: /publish",
        "/stats x": "Usage: /stats",
    }
    for command, expected in answers.items():
        (reply,) = await bot.say(OPERATOR, command)
        assert expected in reply.text, (command, reply.text)
    assert await stored_broadcasts(bot) == []


async def test_an_arabic_operator_gets_arabic_answers(bot: BotHarness) -> None:
    (stored,) = await bot.ingest("ar-solar-station.txt")
    (reply,) = await bot.say(OPERATOR, f"/schedule {stored.article_id} in 2h", language_code="ar")
    assert reply.text.startswith("البث #1")
    (error,) = await bot.say(OPERATOR, f"/schedule {stored.article_id} 99:99", language_code="ar")
    assert "غير صحيحة" in error.text


async def test_a_topic_with_no_name_is_refused_in_either_language(bot: BotHarness) -> None:
    (stored,) = await bot.ingest("en-night-buses.md")
    (reply,) = await bot.say(OPERATOR, f"/schedule {stored.article_id} now #")
    assert reply.text == "“#” is not a topic name."
    (reply,) = await bot.say(
        OPERATOR, f"/schedule {stored.article_id} in 2h ##", language_code="ar"
    )
    assert reply.text == "«##» ليس اسم موضوع."
    assert await stored_broadcasts(bot) == []


async def test_before_any_broadcast_stats_and_the_list_say_so(bot: BotHarness) -> None:
    for command in ("/stats", "/broadcasts"):
        (reply,) = await bot.say(OPERATOR, command)
        assert reply.text == "No broadcasts yet.", command
    (reply,) = await bot.say(OPERATOR, "/stats", language_code="ar")
    assert reply.text == "لا توجد عمليات بث بعد."
