"""Updates act once in `newsbot run`: polling and webhook, repeats, unreadable updates, SIGTERM.

The bot runs as `serve` in this process (or as a real process where a signal is tested) against
the fake Bot API; the test plays Telegram, delivering an update a second time as Telegram does
when its webhook request got no answer or a poller stopped before confirming it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ops.runner import SHUTDOWN_BUDGET, serve
from bot.sandbox.botapi.server import FakeBotApi
from bot.telegram.callbacks import ReadSection
from db import broadcasts, updates
from db.session import unit_of_work
from tests.integration.bot_fixtures import OPERATOR
from tests.integration.delivery_fixtures import DeliveryWorld
from tests.integration.processes import BotProcess, free_port, wait_for_status
from tests.integration.test_webhook import SECRET, WEBHOOK_URL, settings_for

READERS = range(4001, 4004)
HANDLED = {"message", "callback_query", "my_chat_member"}
NOT_HANDLED = {"edited_message", "channel_post", "edited_channel_post"}


@asynccontextmanager
async def running(api: FakeBotApi, database_url: str, **overrides: Any) -> AsyncIterator[None]:
    """`serve` (polling, or webhook when configured) until the block ends; then SIGTERM's stop."""
    settings = settings_for(
        api, database_url, language="en", operators=frozenset({OPERATOR}), **overrides
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    try:
        if "webhook_url" in overrides:
            await api.wait_for(lambda: api.webhook.url, description="setWebhook")
        else:
            polls = len(api.calls("getUpdates"))
            await api.wait_for(lambda: len(api.calls("getUpdates")) > polls, description="a poll")
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@asynccontextmanager
async def webhook(api: FakeBotApi, database_url: str) -> AsyncIterator[Poster]:
    """The bot in webhook mode and a way to post updates to it with the secret."""
    port = free_port()
    hook = {"webhook_url": WEBHOOK_URL, "webhook_secret": SECRET, "listen": f"127.0.0.1:{port}"}
    async with running(api, database_url, **hook), aiohttp.ClientSession() as http:
        poster = Poster(http, f"http://127.0.0.1:{port}")
        async with asyncio.timeout(5):
            while True:
                if await poster.healthy():
                    break
                await asyncio.sleep(0.02)
        yield poster


class Poster:
    """Posts to the bot's webhook as Telegram does."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    async def healthy(self) -> bool:
        try:
            async with self.http.get(f"{self.base}/healthz") as response:
                return response.status == 200
        except aiohttp.ClientConnectionError:
            return False

    async def post(self, update: object) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with self.http.post(
            f"{self.base}/telegram/updates", json=update, headers=headers
        ) as response:
            return response.status


def take(api: FakeBotApi, update_id: int) -> dict[str, Any]:
    """The pending update with this id, taken off the queue for a test to post."""
    (update,) = [u for u in api.updates.peek(100) if u["update_id"] == update_id]
    api.updates.confirm(update_id + 1)
    return update


async def newsroom(
    sessionmaker: async_sessionmaker[AsyncSession], api: FakeBotApi
) -> tuple[list[int], int]:
    """Subscribed readers and a stored article."""
    helpers = DeliveryWorld(sessionmaker, api, None, None, None)  # type: ignore[arg-type]
    readers = await helpers.add_readers(READERS)
    return readers, await helpers.add_article()


async def count_broadcasts(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with unit_of_work(sessionmaker) as session:
        return len(await broadcasts.list_broadcasts(session=session))


def copies(api: FakeBotApi) -> Counter[int]:
    """Messages each chat got."""
    return Counter(chat_id for _, chat_id, _ in api.timeline)


async def test_polling_asks_only_for_the_updates_it_handles(
    fake_api: FakeBotApi, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    async with running(fake_api, database_url):
        asked = set(fake_api.calls("getUpdates")[-1]["allowed_updates"])
        assert asked >= HANDLED and not asked & NOT_HANDLED
        update_id = fake_api.send_user_message(READERS[0], "/start")
        await fake_api.wait_for_messages(READERS[0], 1)
        # Telegram no longer makes the updates the bot did not ask for.
        message_id = max(fake_api.chat(READERS[0]).user_messages)
        assert fake_api.edit_user_message(READERS[0], message_id, "/help") == 0
        assert fake_api.post_in_channel(-1005, "post") == 0
        assert update_id > 0


async def test_the_webhook_asks_for_the_same_updates(
    fake_api: FakeBotApi, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    async with webhook(fake_api, database_url):
        asked = fake_api.webhook.allowed_updates
        assert asked is not None
        assert set(asked) >= HANDLED and not set(asked) & NOT_HANDLED
        assert fake_api.post_in_channel(-1005, "post") == 0


async def test_a_publish_delivered_again_to_a_restarted_poller_acts_once(
    fake_api: FakeBotApi, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    readers, article_id = await newsroom(sessionmaker, fake_api)
    async with running(fake_api, database_url):
        update_id = fake_api.send_user_message(OPERATOR, f"/publish {article_id}")
        (created,) = await fake_api.wait_for_messages(OPERATOR, 1)
        assert created.text.startswith("Broadcast #1 of article")
        await wait_for_status(sessionmaker, 1, "done", within=20)
    # The confirmation never reached Telegram: the next poller gets the update again.
    fake_api.repeat_update(update_id)
    async with running(fake_api, database_url):
        await fake_api.wait_for(lambda: len(fake_api.updates) == 0, description="the repeat")
        fake_api.send_user_message(OPERATOR, "/broadcasts")
        _, listing = await fake_api.wait_for_messages(OPERATOR, 2)
        assert "#1 · done" in listing.text
    assert await count_broadcasts(sessionmaker) == 1
    assert [copies(fake_api)[reader] for reader in readers] == [1, 1, 1]
    assert len(fake_api.messages(OPERATOR)) == 2


async def test_a_publish_posted_twice_to_the_webhook_acts_once(
    fake_api: FakeBotApi, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    readers, article_id = await newsroom(sessionmaker, fake_api)
    async with webhook(fake_api, database_url) as hook:
        publish = take(fake_api, fake_api.send_user_message(OPERATOR, f"/publish {article_id}"))
        assert await hook.post(publish) == 200
        assert await hook.post(publish) == 200  # our first 200 was lost on the way
        await fake_api.wait_for_messages(OPERATOR, 1)
        await wait_for_status(sessionmaker, 1, "done", within=20)
        listing = take(fake_api, fake_api.send_user_message(OPERATOR, "/broadcasts"))
        assert await hook.post(listing) == 200
        await fake_api.wait_for_messages(OPERATOR, 2)
    assert await count_broadcasts(sessionmaker) == 1
    assert [copies(fake_api)[reader] for reader in readers] == [1, 1, 1]
    created, listed = fake_api.messages(OPERATOR)
    assert created.text.startswith("Broadcast #1") and listed.text.startswith("Broadcasts")


async def test_a_read_more_press_posted_twice_to_the_webhook_sends_its_section_once(
    fake_api: FakeBotApi, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    (reader, *_), article_id = await newsroom(sessionmaker, fake_api)
    async with webhook(fake_api, database_url) as hook:
        query_id, press = await read_more_press(fake_api, hook, reader, article_id)
        assert await hook.post(press) == 200
        assert await hook.post(press) == 200  # our first 200 was lost on the way
        # One chat's updates run in order: once /help is answered, the repeat has been seen.
        helping = take(fake_api, fake_api.send_user_message(reader, "/help"))
        assert await hook.post(helping) == 200
        await fake_api.wait_for_messages(reader, 3)
    # The card, the first section, the help: no second section.
    assert len(fake_api.messages(reader)) == 3
    assert [a.query_id for a in fake_api.callback_answers] == [query_id]
    async with unit_of_work(sessionmaker) as session:
        assert not await updates.remember_update(
            session=session, update_id=press["update_id"], now=datetime.now(UTC)
        )


async def test_a_press_whose_handler_fails_is_still_remembered(
    fake_api: FakeBotApi, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    (reader, *_), article_id = await newsroom(sessionmaker, fake_api)
    async with webhook(fake_api, database_url) as hook:
        _, press = await read_more_press(fake_api, hook, reader, article_id)
        # A press on a message posted through inline mode carries no chat: the handler fails
        # (and rolls back its unit of work) before it sends anything.
        query = dict(press["callback_query"])
        del query["message"]
        query["inline_message_id"] = "AAAA"
        assert await hook.post({"update_id": press["update_id"], "callback_query": query}) == 200
        async with asyncio.timeout(5):
            # A database has no change notification to wait on, so this one wait polls.
            while not await remembered(sessionmaker, press["update_id"]):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    assert len(fake_api.messages(reader)) == 1


async def read_more_press(
    api: FakeBotApi, hook: Poster, reader: int, article_id: int
) -> tuple[str, dict[str, Any]]:
    """The reader asks for the article's card through the webhook, then presses "Read more";
    the press's query id and its update, taken off the queue for the test to post."""
    asking = take(api, api.send_user_message(reader, f"/summary {article_id}"))
    assert await hook.post(asking) == 200
    (card,) = await api.wait_for_messages(reader, 1)
    query_id = api.press_button(reader, card.message_id, ReadSection(article_id, 1).encode())
    return query_id, taken_press(api, query_id)


def taken_press(api: FakeBotApi, query_id: str) -> dict[str, Any]:
    """The pending callback-query update of this query, taken off the queue for a test to post."""
    (update,) = [
        u for u in api.updates.peek(100) if u.get("callback_query", {}).get("id") == query_id
    ]
    api.updates.confirm(update["update_id"] + 1)
    return update


async def remembered(sessionmaker: async_sessionmaker[AsyncSession], update_id: int) -> bool:
    """Whether the update's id is recorded as handled (the check itself writes nothing)."""
    async with sessionmaker() as session:
        known = not await updates.remember_update(
            session=session, update_id=update_id, now=datetime.now(UTC)
        )
        await session.rollback()
    return known


async def test_a_publish_repeated_after_its_update_was_forgotten_is_still_one_broadcast(
    fake_api: FakeBotApi, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    _, article_id = await newsroom(sessionmaker, fake_api)
    async with webhook(fake_api, database_url) as hook:
        command = f"/publish {article_id} tomorrow 08:00"
        publish = take(fake_api, fake_api.send_user_message(OPERATOR, command))
        assert await hook.post(publish) == 200
        (created,) = await fake_api.wait_for_messages(OPERATOR, 1)
        # Update ids are remembered for a day; the message itself is remembered with its
        # broadcast, so even a much later repeat does not schedule it again.
        async with unit_of_work(sessionmaker) as session:
            later = datetime.now(UTC) + timedelta(days=2)
            assert await updates.forget_handled_updates(session=session, before=later) == 1
        assert await hook.post(publish) == 200
        _, again = await fake_api.wait_for_messages(OPERATOR, 2)
    assert created.text.startswith("Broadcast #1 of article")
    assert again.text.startswith("Broadcast #1 of article") and "already" in again.text
    assert await count_broadcasts(sessionmaker) == 1


async def test_an_unreadable_webhook_update_is_logged_once_and_acknowledged(
    fake_api: FakeBotApi,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with webhook(fake_api, database_url) as hook:
        bad = take(fake_api, fake_api.send_unreadable_update(READERS[0]))
        # 200: any other answer makes Telegram send it again and again.
        assert await hook.post(bad) == 200
        good = take(fake_api, fake_api.send_user_message(READERS[0], "/start"))
        assert await hook.post(good) == 200
        await fake_api.wait_for_messages(READERS[0], 1)
    about_it = [r for r in caplog.records if str(bad["update_id"]) in r.getMessage()]
    assert len(about_it) == 1
    assert "could not be read" in about_it[0].getMessage()


async def test_sigterm_after_an_unreadable_update_stops_cleanly(
    fake_api: FakeBotApi,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
) -> None:
    bot = await BotProcess.start(fake_api, database_url, tmp_path / "bot.log")
    try:
        await fake_api.wait_for(lambda: fake_api.calls("getUpdates"), timeout=20)
        bad = fake_api.send_unreadable_update(READERS[0])
        fake_api.send_user_message(READERS[1], "/start")
        await fake_api.wait_for_messages(READERS[1], 1, timeout=10)
        took = await bot.terminate()
    finally:
        await bot.kill()
    output = bot.output()
    assert bot.process.returncode == 0, output[-3000:]
    assert took < SHUTDOWN_BUDGET
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    about_it = [line for line in lines if str(bad) in line["message"]]
    assert [line["level"] for line in about_it] == ["ERROR"], about_it
    assert any(line["message"].startswith("stopped in") for line in lines)
    print(f"unreadable update: {len(output)} bytes, {len(lines)} lines of log; stop {took:.2f} s")
