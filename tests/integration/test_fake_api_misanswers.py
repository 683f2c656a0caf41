"""The fake Bot API's spoiled answers: the call is carried out, then answered wrongly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import Bot
from telegram.error import NetworkError, TelegramError

from bot.sandbox.botapi.server import DEFAULT_TOKEN, FakeBotApi

USER = 1001
OTHER = 1002


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(DEFAULT_TOKEN) as api:
        yield api


@pytest.fixture
async def bot(server: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(DEFAULT_TOKEN, base_url=f"{server.url}/bot") as client:
        yield client


async def post(server: FakeBotApi, method: str, **params: object) -> tuple[int, bytes]:
    """One raw call: the HTTP status and body."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.url}/bot{server.token}/{method}", json=params) as response,
    ):
        return response.status, await response.read()


async def test_unreadable_is_ok_with_a_message_missing_its_chat_and_date(
    server: FakeBotApi,
) -> None:
    server.misanswer_next("sendMessage", how="unreadable")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.url}/bot{server.token}/sendMessage", json={"chat_id": USER, "text": "hi"}
        ) as response,
    ):
        body = await response.json()
    [message] = server.messages(USER)
    assert response.status == 200 and body["ok"] is True
    assert body["result"]["message_id"] == message.message_id
    assert {"chat", "date"}.isdisjoint(body["result"])


async def test_ptb_cannot_read_an_unreadable_answer_but_the_message_is_there(
    server: FakeBotApi, bot: Bot
) -> None:
    server.misanswer_next("sendMessage", how="unreadable")
    # Whatever PTB raises here (the fault is that it cannot build the Message) …
    with pytest.raises(Exception) as caught:
        await bot.send_message(USER, "hi")
    # … it is not a TelegramError: nothing in it says that Telegram accepted the message.
    assert not isinstance(caught.value, TelegramError)
    assert [m.text for m in server.messages(USER)] == ["hi"]
    await bot.send_message(USER, "again")  # one call only
    assert len(server.messages(USER)) == 2


async def test_not_object_answers_true_where_a_message_is_due(
    server: FakeBotApi, bot: Bot
) -> None:
    server.misanswer_next("sendMessage", how="not_object")
    assert await bot.send_message(USER, "hi") is True  # what PTB makes of it
    assert len(server.messages(USER)) == 1


async def test_not_json_is_a_200_that_ptb_calls_an_invalid_server_response(
    server: FakeBotApi, bot: Bot
) -> None:
    server.misanswer_next("sendMessage", how="not_json")
    with pytest.raises(TelegramError, match="Invalid server response"):
        await bot.send_message(USER, "hi")
    assert len(server.messages(USER)) == 1


async def test_reset_drops_the_connection_after_storing_the_message(
    server: FakeBotApi, bot: Bot
) -> None:
    server.misanswer_next("sendMessage", how="reset")
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "hi")
    assert len(server.messages(USER)) == 1
    server.misanswer_next("getChat", how="reset")
    with pytest.raises(aiohttp.ClientError):
        await post(server, "getChat", chat_id=USER)


async def test_stall_stores_the_message_and_answers_only_when_the_server_stops(
    server: FakeBotApi,
) -> None:
    server.misanswer_next("sendMessage", how="stall")
    call = asyncio.create_task(post(server, "sendMessage", chat_id=USER, text="hi"))
    await server.wait_for_messages(USER, 1)
    await asyncio.sleep(0.2)
    assert not call.done()
    started = time.monotonic()
    await server.stop()
    await asyncio.wait_for(asyncio.gather(call, return_exceptions=True), 5)
    assert time.monotonic() - started < 3


async def test_a_plan_for_one_chat_waits_for_that_chat(server: FakeBotApi, bot: Bot) -> None:
    server.misanswer_next("sendMessage", how="not_object", chat_id=OTHER)
    assert (await bot.send_message(USER, "first")).message_id == 1
    assert await bot.send_message(OTHER, "second") is True
    assert (await bot.send_message(OTHER, "third")).message_id == 2


async def test_a_refused_call_does_not_use_up_a_plan(server: FakeBotApi, bot: Bot) -> None:
    server.block_chat(USER)
    server.misanswer_next("sendMessage", how="not_object")
    with pytest.raises(TelegramError, match="blocked"):
        await bot.send_message(USER, "refused")
    assert await bot.send_message(OTHER, "accepted") is True


def test_an_unknown_way_is_refused() -> None:
    with pytest.raises(ValueError, match="how must be one of"):
        FakeBotApi().misanswer_next("sendMessage", how="garbled")
