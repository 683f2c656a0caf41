"""What a reader gets when something goes wrong: refused edits, expired presses, failing
handlers, hostile article fields, huge topic lists and impossible ids. PTB polls the fake Bot
API over HTTP, on each database."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import update

from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import store_sources
from bot.sandbox.botapi.server import NOT_MODIFIED
from bot.sandbox.botapi.state import BotMessage
from bot.telegram.callbacks import ReadSection, SetLanguage, ToggleTopic, TopicsPage, topic_key
from content.article import Article, Block
from content.sources import ParsedSource
from db import store
from db.models import ArticleRow
from db.session import unit_of_work
from tests.integration.bot_fixtures import OPERATOR, BotHarness
from tests.integration.delivery_fixtures import DeliveryWorld

READER = 1001
SORRY_EN = "Something went wrong, please try again."
SORRY_AR = "حدث خطأ ما، يُرجى المحاولة مرة أخرى."


def error_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def open_story(bot: BotHarness) -> tuple[int, int, BotMessage]:
    """A reader on section 1 of a story: (article id, sections, the section message)."""
    (stored,) = await bot.ingest("ar-solar-station.txt")
    assert stored.sections >= 4
    await bot.say(READER, "/start")
    (card,) = await bot.say(READER, f"/summary {stored.article_id}")
    (first,) = await bot.press(READER, card, ReadSection(stored.article_id, 1).encode())
    return stored.article_id, stored.sections, first


async def section_text(bot: BotHarness, article_id: int, index: int) -> str:
    async with bot.app.bot_data.unit_of_work() as session:
        section = await store.get_section(session=session, article_id=article_id, index=index)
    assert section is not None
    return section.text


# --- 3. a press gets its answer first ---------------------------------------------------------


@pytest.mark.parametrize("refusal", ["message to edit not found", NOT_MODIFIED])
async def test_next_arrives_when_the_pressed_message_cannot_be_edited(
    bot: BotHarness, caplog: pytest.LogCaptureFixture, refusal: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    article_id, _, first = await open_story(bot)
    bot.api.refuse_next_edit(reason=refusal)
    (second,) = await bot.press(READER, first, ReadSection(article_id, 2).encode())
    assert second.text == await section_text(bot, article_id, 2)
    # The next press works as ever; its tidying succeeds, the refused one left its button.
    (third,) = await bot.press(READER, second, ReadSection(article_id, 3).encode())
    assert third.text == await section_text(bot, article_id, 3)
    await bot.api.wait_for(
        lambda: bot.api.messages(READER)[-2].buttons() == [],
        description="the second section's Next button to be removed",
    )
    assert len(bot.api.calls("editMessageReplyMarkup")) == 2
    assert bot.api.messages(READER)[-3].message_id == first.message_id
    assert first.callback_data() == [ReadSection(article_id, 2).encode()]  # never tidied
    texts = [m.text for m in bot.api.messages(READER)]
    assert SORRY_EN not in texts and len(texts) == 5  # greeting, card, three sections
    assert error_lines(caplog) == []
    if refusal != NOT_MODIFIED:
        debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
        assert any("message to edit not found" in line.lower() for line in debug)


async def test_next_arrives_when_the_press_has_expired(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    article_id, _, first = await open_story(bot)
    bot.api.callback_query_ttl = 0.0  # every answer now comes "too late"
    bot.api.press_button(READER, first.message_id, ReadSection(article_id, 2).encode())
    messages = await bot.api.wait_for_messages(READER, 4)
    assert messages[3].text == await section_text(bot, article_id, 2)
    await bot.api.wait_for(lambda: first.buttons() == [], description="the tidied keyboard")
    assert error_lines(caplog) == []


async def test_a_refused_edit_that_was_the_answer_is_sent_as_a_new_message(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.say(READER, "/start")
    (chooser,) = await bot.say(READER, "/language")
    bot.api.refuse_next_edit("editMessageText")
    (confirmation,) = await bot.press(READER, chooser, SetLanguage("ar").encode())
    assert confirmation.text == "سأكلمك بالعربية."
    assert error_lines(caplog) == []


async def test_a_handler_failure_tells_the_reader_in_their_language(
    bot: BotHarness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.ingest("en-night-buses.md")
    await bot.say(READER, "/start", language_code="ar")
    # Telegram fails the reply itself (a 500): the reader still hears back.
    bot.api.fail_next("sendMessage", status=500)
    (sorry,) = await bot.say(READER, "/latest", language_code="ar")
    assert sorry.text == SORRY_AR

    async def broken(**_: object) -> object:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(store, "latest_for_chat", broken)
    (sorry,) = await bot.say(READER, "/latest", language_code="en")
    assert sorry.text == SORRY_EN
    async with bot.app.bot_data.unit_of_work() as session:  # the chat's own choice wins
        await store.set_chat_language(session=session, chat_id=READER, language="ar")
    (sorry,) = await bot.say(READER, "/latest", language_code="en")
    assert sorry.text == SORRY_AR
    failures = [line for line in error_lines(caplog) if "failed" in line]
    assert len(failures) == 3  # each failure is logged once


async def test_a_failing_button_answers_the_press_and_tells_the_reader(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    (stored,) = await bot.ingest("en-night-buses.md")
    await bot.say(READER, "/start")
    (card,) = await bot.say(READER, f"/summary {stored.article_id}")

    async def broken(**_: object) -> object:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(store, "read_section", broken)
    (sorry,) = await bot.press(READER, card, ReadSection(stored.article_id, 1).encode())
    assert sorry.text == SORRY_EN


async def test_an_unreachable_reader_gets_no_apology(bot: BotHarness) -> None:
    await bot.say(READER, "/start")
    bot.api.block_chat(READER)
    before = len(bot.api.calls("sendMessage"))
    bot.api.send_user_message(READER, "/latest")

    async def inactive() -> bool:
        return await bot.chat_active(READER) is False

    await bot.eventually(inactive, "the chat to be marked inactive")
    bot.api.unblock_chat(READER)
    await bot.say(READER, "/help")
    # The refused reply, then /help: no apology attempted in between.
    assert len(bot.api.calls("sendMessage")) == before + 2


# --- 4. cards that always fit -----------------------------------------------------------------


def hostile_article(n: int, **fields: str) -> Article:
    body = (Block("paragraph", f"Body of story {n}. " * 40),)
    values = {"title": f"Story {n}", "byline": "Desk", "lead": f"Lead {n}."}
    values.update(fields)
    return Article(
        title=values["title"],
        blocks=body,
        language="en",
        byline=values["byline"],
        lead=values["lead"],
        topics=("world",),
        url=values.get("url"),
    )


async def test_cards_with_hostile_fields_reach_every_reader(
    world: DeliveryWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.newsroom.ingest")
    readers = await world.add_readers(range(1, 13))
    articles = [
        hostile_article(1, byline="Correspondent " * 330, url="https://example.org/news/a story"),
        hostile_article(2, title="عاجل 📰 " * 900, url="https://exämple.org/خبر?q=1 2"),
        hostile_article(3, byline="<script>&</script>", url="ftp://example.org/story"),
        hostile_article(4, url="https://example.org/fine"),
    ]
    async with unit_of_work(world.sessionmaker) as session:
        stored = await store_sources(
            session=session,
            sources=[ParsedSource("hostile", "text", articles)],
            target=1200,
            now=utcnow(),
        )
        # Whatever the row holds: a summary far over a message's length.
        await session.execute(
            update(ArticleRow)
            .where(ArticleRow.id == stored[1].article_id)
            .values(summary="<b>" + "ملخص 😀 " * 1500)
        )
    ids = [item.article_id for item in stored]
    for article_id in ids:
        await world.start_broadcast(article_id)
        await world.deliver_all()

    assert world.copies() == {chat_id: len(ids) for chat_id in readers}
    cards = world.api.messages(readers[-1])
    assert [card.buttons()[0]["text"] for card in cards] == ["Read more"] * 4
    # The source links (the last button of each card is "Share").
    assert all(card.buttons()[-1]["text"] == "Share" for card in cards)
    urls = [[b.get("url") for b in card.buttons()[1:-1]] for card in cards]
    assert urls == [
        ["https://example.org/news/a%20story"],
        ["https://xn--exmple-cua.org/%D8%AE%D8%A8%D8%B1?q=1%202"],
        [],
        ["https://example.org/fine"],
    ]
    byline = cards[0].text.split("\n")[1]
    assert byline.endswith("Correspondent…") and len(byline) <= 200
    assert cards[1].text.endswith("…") and len(cards[1].text.encode("utf-16-le")) <= 2 * 4096
    assert "<script>&</script>" in cards[2].text  # shown as text
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.newsroom.ingest"]
    assert len(warnings) == 3
    for article_id, line in zip(ids, warnings, strict=False):
        assert line.startswith(f"article {article_id} (")
    assert "has no Source button" in warnings[2]


# --- keyboards in pages -----------------------------------------------------------------------


def labels(message: BotMessage) -> list[str]:
    return [button["text"] for button in message.buttons()]


async def test_150_topics_page_through_the_topics_keyboard(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    names = [f"topic {n:03d}" for n in range(150)]
    await bot.ingest("en-night-buses.md", topics=names)
    await bot.say(READER, "/start")
    (menu,) = await bot.say(READER, "/topics")
    assert len(menu.buttons()) == 22 and labels(menu)[-1] == "Next (2/8)"
    seen = [label for label in labels(menu) if "topic " in label]
    for page in range(2, 9):
        query_id = bot.api.press_button(READER, menu.message_id, TopicsPage(page).encode())
        await bot.answered(query_id)
        last = f"Next ({page + 1}/8)" if page < 8 else "Previous (7/8)"
        await bot.api.wait_for(
            lambda last=last: labels(menu)[-1] == last,  # type: ignore[misc]
            description=f"page {page} of the topics",
        )
        seen += [label for label in labels(menu) if "topic " in label]
    assert [label.split(" ", 1)[1] for label in seen] == names
    # With the sample's own topics (city, transport) that makes 152: 12 on the last page.
    assert labels(menu)[-1] == "Previous (7/8)" and len(menu.buttons()) == 1 + 12 + 1
    # A toggle on a page keeps that page.
    query_id = bot.api.press_button(
        READER, menu.message_id, ToggleTopic(topic_key("topic 145"), 8).encode()
    )
    assert await bot.answered(query_id) == "Subscribed to “topic 145” ✅"
    await bot.api.wait_for(
        lambda: "✅ topic 145" in labels(menu), description="topic 145 ticked on page 8"
    )
    assert labels(menu)[-1] == "Previous (7/8)"
    # The page the reader asked for comes as a new message when the old one is gone.
    bot.api.refuse_next_edit()
    (again,) = await bot.press(READER, menu, TopicsPage(7).encode())
    assert again.text.startswith("Choose your topics") and "topic 119" in labels(again)[1]
    assert len(bot.api.messages(READER)) == 3 and error_lines(caplog) == []


# --- 6. inputs within the types ---------------------------------------------------------------


@pytest.mark.parametrize("typed", ["2147483648", "99999999999999999999", "²", "٣"])
async def test_ids_no_row_can_have_are_not_found(
    bot: BotHarness, caplog: pytest.LogCaptureFixture, typed: str
) -> None:
    (stored,) = await bot.ingest("en-night-buses.md")
    await bot.say(READER, "/start")
    never = f"There is no story {typed}. Send /latest for the newest stories."
    (reply,) = await bot.say(READER, f"/summary {typed}")
    assert reply.text == never
    (_, reply) = await bot.say(READER, f"/start a{typed}", count=2)
    assert reply.text == never
    (card,) = await bot.say(READER, f"/summary {stored.article_id}")
    for forged in (f"r:{typed}:1", f"a:{typed}"):
        query_id = bot.api.press_button(READER, card.message_id, forged, forge=True)
        assert await bot.answered(query_id) == "This button is no longer valid."
    for command, answer in (
        (f"/publish {typed}", f"There is no article {typed}."),
        (f"/schedule {typed} now", f"There is no article {typed}."),
        (f"/cancel {typed}", f"There is no broadcast {typed}."),
        (f"/stats {typed}", f"There is no broadcast {typed}."),
    ):
        (reply,) = await bot.say(OPERATOR, command)
        assert reply.text == answer, command
    assert error_lines(caplog) == []


async def test_echoed_input_is_shortened(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    (stored,) = await bot.ingest("en-night-buses.md")
    await bot.say(READER, "/start")
    (reply,) = await bot.say(READER, "/unsubscribe " + "<sport> " * 500)
    assert reply.text == "You were not subscribed to “" + "<sport> " * 7 + "<sport>…”."
    (reply,) = await bot.say(OPERATOR, "/publish " + "٣" * 4000)
    assert reply.text == "There is no article " + "٣" * 63 + "…."
    (reply,) = await bot.say(OPERATOR, f"/schedule {stored.article_id} in 2h " + "x" * 4000)
    assert f"(subscribers of “{'x' * 63}…”) is due" in reply.text
    assert error_lines(caplog) == []
