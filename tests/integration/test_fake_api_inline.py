"""The fake Bot API's inline mode, driven by the real python-telegram-bot over HTTP: Telegram's
rules for answerInlineQuery, and a user typing `@bot words` and choosing a result."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
)
from telegram.error import BadRequest

from bot.sandbox.botapi.server import DEFAULT_TOKEN, FakeBotApi

USER = 1001
GROUP = -2002


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(DEFAULT_TOKEN) as api:
        yield api


@pytest.fixture
async def bot(server: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(DEFAULT_TOKEN, base_url=f"{server.url}/bot") as client:
        yield client


def article(result_id: str, message: str = "<b>Story</b>") -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        id=result_id,
        title=f"Story {result_id}",
        input_message_content=InputTextMessageContent(message, parse_mode="HTML"),
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("Read", url="https://t.me/newsbot_test_bot?start=a1")]]
        ),
    )


async def test_a_typed_query_arrives_as_an_update(server: FakeBotApi, bot: Bot) -> None:
    assert (await bot.get_me()).supports_inline_queries
    query_id = server.send_inline_query(USER, "solar", chat_type="group", offset="20")
    (update,) = await bot.get_updates()
    assert update.inline_query is not None
    query = update.inline_query
    assert (query.id, query.query, query.offset, query.chat_type) == (
        query_id,
        "solar",
        "20",
        "group",
    )
    assert query.from_user.id == USER


async def test_an_answer_is_recorded_and_a_result_can_be_chosen(
    server: FakeBotApi, bot: Bot
) -> None:
    query_id = server.send_inline_query(USER, "solar")
    assert await bot.answer_inline_query(
        query_id, [article("1"), article("2", "Plain &amp; <i>simple</i>")], cache_time=30
    )
    answer = server.inline_answer(query_id)
    assert answer is not None
    assert [r["id"] for r in answer.results] == ["1", "2"]
    assert (answer.cache_time, answer.is_personal, answer.next_offset) == (30, False, "")
    message_id = server.choose_inline_result(query_id, "2", GROUP)
    posted = server.chat(GROUP).user_messages[message_id]
    assert posted["text"] == "Plain & simple"
    assert posted["entities"] == [{"type": "italic", "offset": 8, "length": 6}]
    assert posted["via_bot"]["username"] == server.bot_username
    assert posted["from"]["id"] == USER
    updates = await bot.get_updates(allowed_updates=["message", "inline_query"])
    assert [u.message.via_bot.username for u in updates if u.message and u.message.via_bot] == [
        server.bot_username
    ]
    with pytest.raises(LookupError):
        server.choose_inline_result(query_id, "3", GROUP)


async def test_the_default_cache_time_is_telegrams(server: FakeBotApi, bot: Bot) -> None:
    query_id = server.send_inline_query(USER, "x")
    await bot.answer_inline_query(query_id, [])
    answer = server.inline_answer(query_id)
    assert answer is not None and answer.cache_time == 300 and answer.results == []


async def test_unknown_answered_or_expired_queries_are_invalid(
    server: FakeBotApi, bot: Bot
) -> None:
    with pytest.raises(BadRequest, match="Query_id_invalid"):
        await bot.answer_inline_query("123", [article("1")])
    answered = server.send_inline_query(USER, "x")
    await bot.answer_inline_query(answered, [article("1")])
    with pytest.raises(BadRequest, match="Query_id_invalid"):
        await bot.answer_inline_query(answered, [article("1")])
    expired = server.send_inline_query(USER, "x")
    server.expire_inline_query(expired)
    with pytest.raises(BadRequest, match="Query_id_invalid"):
        await bot.answer_inline_query(expired, [article("1")])
    assert server.inline_answer(expired) is None


async def test_a_query_expires_after_its_time_to_live() -> None:
    api = FakeBotApi(DEFAULT_TOKEN, inline_query_ttl=0.0)
    async with api, Bot(DEFAULT_TOKEN, base_url=f"{api.url}/bot") as client:
        query_id = api.send_inline_query(USER, "x")
        with pytest.raises(BadRequest, match="Query_id_invalid"):
            await client.answer_inline_query(query_id, [])


async def test_at_most_fifty_results(server: FakeBotApi, bot: Bot) -> None:
    query_id = server.send_inline_query(USER, "x")
    with pytest.raises(BadRequest, match="Results_too_much"):
        await bot.answer_inline_query(query_id, [article(str(n)) for n in range(51)])
    assert await bot.answer_inline_query(query_id, [article(str(n)) for n in range(50)])


@pytest.mark.parametrize(
    ("results", "reason"),
    [
        ([article("1"), article("1")], "Result_id_duplicate"),
        ([article("x" * 65)], "Result_id_invalid"),
        ([article("ب" * 33)], "Result_id_invalid"),  # 66 bytes
        ([article("")], "Result_id_invalid"),
        ([article("1", "x" * 4097)], "Message_too_long"),
        ([article("1", "<b> </b>")], "Message_empty"),
        ([article("1", "<b>open")], "Can't parse entities"),
    ],
)
async def test_results_are_checked_like_telegram(
    server: FakeBotApi, bot: Bot, results: list[InlineQueryResultArticle], reason: str
) -> None:
    query_id = server.send_inline_query(USER, "x")
    with pytest.raises(BadRequest, match=reason):
        await bot.answer_inline_query(query_id, results)
    assert server.inline_answer(query_id) is None
    assert await bot.answer_inline_query(query_id, [article("ok", "x" * 4096), article("y" * 64)])


async def test_a_bad_button_or_offset_is_refused(server: FakeBotApi, bot: Bot) -> None:
    query_id = server.send_inline_query(USER, "x")
    bad = InlineQueryResultArticle(
        id="1",
        title="T",
        input_message_content=InputTextMessageContent("x"),
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("B", url="ftp://x")]]),
    )
    with pytest.raises(BadRequest, match="Button_url_invalid"):
        await bot.answer_inline_query(query_id, [bad])
    with pytest.raises(BadRequest, match="Next_offset_invalid"):
        await bot.answer_inline_query(query_id, [], next_offset="9" * 65)
    assert await bot.answer_inline_query(query_id, [], next_offset="9" * 64)


async def test_without_inline_mode_no_query_can_be_typed() -> None:
    async with FakeBotApi(DEFAULT_TOKEN, inline_mode=False) as api:
        async with Bot(DEFAULT_TOKEN, base_url=f"{api.url}/bot") as client:
            assert not (await client.get_me()).supports_inline_queries
        with pytest.raises(RuntimeError, match="/setinline"):
            api.send_inline_query(USER, "x")
