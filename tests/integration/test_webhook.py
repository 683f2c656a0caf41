"""Webhook mode, /healthz and /metrics: `serve` in this process, the test playing Telegram.

The fake Bot API builds each update (as a user's message would make one); the test posts it to
the bot's webhook the way Telegram does, with or without the secret header.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.newsroom.clock import utcnow
from bot.ops.runner import serve
from bot.sandbox.botapi.server import FakeBotApi
from bot.settings import Settings
from db import broadcasts
from db.migrate import upgrade
from db.session import unit_of_work
from tests.integration.bot_fixtures import TOKEN
from tests.integration.delivery_fixtures import DeliveryWorld
from tests.integration.processes import free_port, wait_for_status

SECRET = "webhook-Secret_for-tests-42"
WEBHOOK_URL = "https://news.example.org/telegram/updates"


def settings_for(api: FakeBotApi, database_url: str, **overrides: Any) -> Settings:
    """The bot's settings against the fake API and the test database, plus `overrides`."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        token=TOKEN,
        api_url=api.url,
        database_url=database_url,
        **overrides,
    )


@dataclass
class Served:
    """The bot in webhook mode and a way to post to it."""

    api: FakeBotApi
    base: str
    http: aiohttp.ClientSession

    def update_from(self, chat_id: int, words: str) -> dict[str, Any]:
        """The update Telegram would send for a user's message (taken off the fake's queue)."""
        self.api.send_user_message(chat_id, words)
        (update,) = self.api.updates.peek(1)
        self.api.updates.confirm(update["update_id"] + 1)
        return update

    async def post(self, update: object, headers: dict[str, str] | None = None) -> int:
        """POST to the webhook path; the HTTP status."""
        async with self.http.post(
            f"{self.base}/telegram/updates", json=update, headers=headers or {}
        ) as response:
            return response.status

    async def get(self, path: str) -> tuple[int, str]:
        """GET a path; status and body."""
        async with self.http.get(f"{self.base}{path}") as response:
            return response.status, await response.text()


@pytest.fixture
async def served(fake_api: FakeBotApi, database_url: str) -> AsyncIterator[Served]:
    """`serve` in webhook mode on a free port, stopped (as by SIGTERM) after the test."""
    await asyncio.to_thread(upgrade, database_url)
    port = free_port()
    settings = settings_for(
        fake_api,
        database_url,
        language="en",
        webhook_url=WEBHOOK_URL,
        webhook_secret=SECRET,
        listen=f"127.0.0.1:{port}",
    )
    stop = asyncio.Event()
    running = asyncio.create_task(serve(settings, stop))
    await fake_api.wait_for(lambda: fake_api.webhook.url, description="setWebhook")
    async with aiohttp.ClientSession() as http:
        served = Served(fake_api, f"http://127.0.0.1:{port}", http)
        async with asyncio.timeout(5):
            while True:
                try:
                    if (await served.get("/healthz"))[0] == 200:
                        break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.02)
        try:
            yield served
        finally:
            stop.set()
            await asyncio.wait_for(running, 10)


async def test_the_webhook_is_registered_with_the_secret(served: Served) -> None:
    assert served.api.webhook.url == WEBHOOK_URL
    assert served.api.webhook.secret_token == SECRET


async def test_an_update_with_the_secret_is_handled(served: Served) -> None:
    status = await served.post(
        served.update_from(31, "/start"), {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert status == 200
    (greeting, *_) = await served.api.wait_for_messages(31, 1)
    assert greeting.text


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {"X-Telegram-Bot-Api-Secret-Token": ""}],
    ids=["missing", "wrong", "empty"],
)
async def test_an_update_without_the_secret_is_refused_and_not_handled(
    served: Served, headers: dict[str, str]
) -> None:
    refused = await served.post(served.update_from(41, "/start"), headers)
    assert refused == 403
    # A good update sent after it is answered; by then the refused one would have been too.
    accepted = await served.post(
        served.update_from(42, "/start"), {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert accepted == 200
    await served.api.wait_for_messages(42, 1)
    assert served.api.messages(41) == []
    _, metrics = await served.get("/metrics")
    assert 'newsbot_updates_total{kind="message"} 1.0' in metrics


async def test_a_body_that_is_not_an_update_is_a_bad_request(served: Served) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    async with served.http.post(
        f"{served.base}/telegram/updates", data=b"{not json", headers=headers
    ) as response:
        assert response.status == 400


async def test_healthz_reports_the_database(served: Served) -> None:
    status, body = await served.get("/healthz")
    assert status == 200
    assert '"database": "ok"' in body


async def test_metrics_count_updates_and_their_handling_time(served: Served) -> None:
    for chat_id in (51, 52):
        await served.post(
            served.update_from(chat_id, "/help"), {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        await served.api.wait_for_messages(chat_id, 1)
    status, metrics = await served.get("/metrics")
    assert status == 200
    assert 'newsbot_updates_total{kind="message"} 2.0' in metrics
    assert "newsbot_update_handling_seconds_count 2.0" in metrics
    assert "newsbot_queue_depth 0.0" in metrics
    assert "newsbot_telegram_429_total 0.0" in metrics
    assert "newsbot_database_up 1.0" in metrics


async def test_polling_mode_serves_health_on_its_own_port(
    fake_api: FakeBotApi, database_url: str
) -> None:
    await asyncio.to_thread(upgrade, database_url)
    port = free_port()
    settings = settings_for(fake_api, database_url, metrics_listen=f"127.0.0.1:{port}")
    stop = asyncio.Event()
    running = asyncio.create_task(serve(settings, stop))
    try:
        await fake_api.wait_for(lambda: fake_api.calls("getUpdates"), description="polling")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
            # No webhook route in polling mode.
            async with http.post(f"http://127.0.0.1:{port}/", json={}) as response:
                assert response.status in (404, 405)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)


async def test_running_counts_count_each_running_broadcast_by_status(
    fake_api: FakeBotApi, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    helpers = DeliveryWorld(sessionmaker, fake_api, None, None, None)  # type: ignore[arg-type]
    await helpers.add_readers(range(601, 604))
    article_id = await helpers.add_article()
    async with unit_of_work(sessionmaker) as session:
        now = datetime.now(UTC)
        started = await broadcasts.create_broadcast(
            session=session, article_id=article_id, due_at=now, now=now
        )
        await broadcasts.start_broadcast(session=session, broadcast_id=started.id, now=now)
        # Scheduled, not running: not counted.
        await broadcasts.create_broadcast(
            session=session, article_id=article_id, due_at=now, now=now
        )
    async with unit_of_work(sessionmaker) as session:
        assert await broadcasts.running_counts(session=session) == {started.id: {"queued": 3}}


async def test_metrics_count_broadcast_outcomes(
    served: Served, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    helpers = DeliveryWorld(sessionmaker, served.api, None, None, None)  # type: ignore[arg-type]
    readers = await helpers.add_readers(range(501, 506))
    served.api.block_chat(readers[0])
    article_id = await helpers.add_article()
    async with unit_of_work(sessionmaker) as session:
        row = await broadcasts.create_broadcast(
            session=session, article_id=article_id, due_at=datetime.now(UTC), now=utcnow()
        )
    await wait_for_status(sessionmaker, row.id, "done", within=20)
    _, metrics = await served.get("/metrics")
    assert 'newsbot_broadcast_messages_total{outcome="sent"} 4.0' in metrics
    assert 'newsbot_broadcast_messages_total{outcome="skipped"} 1.0' in metrics
    assert "newsbot_queue_depth 0.0" in metrics
    assert "newsbot_delivery_lock_held 1.0" in metrics
    # A finished broadcast leaves the per-broadcast gauge.
    assert f'broadcast="{row.id}"' not in metrics
