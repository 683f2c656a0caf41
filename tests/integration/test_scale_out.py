"""Two webhook processes on one database: exactly one delivers; kill it, the other takes over.

This is the scale-out of the production compose profile: replicas share the database, and the
one holding the delivery lock (a PostgreSQL advisory lock; a file lock beside a SQLite file)
runs the scheduler and the fan-out.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.deliverer import DELIVERY_CONCURRENCY, max_unrecorded_for
from bot.newsroom.clock import utcnow
from bot.sandbox.botapi.server import FakeBotApi
from db import broadcasts
from db.session import unit_of_work
from tests.integration.delivery_fixtures import DeliveryWorld
from tests.integration.processes import BotProcess, free_port, wait_for_status

TOKEN = "737373:scale-out-test-token"
READERS = 600
RATE = 200  # paid broadcasts: three seconds of sending, long enough to kill the deliverer
MAX_UNRECORDED = max_unrecorded_for(RATE, DELIVERY_CONCURRENCY)
TAKEOVER_WITHIN = 5.0  # seconds: the lock frees when the process dies, the next tick takes it


@pytest.fixture
async def shared_api() -> AsyncIterator[FakeBotApi]:
    """The one fake Telegram both processes talk to."""
    async with FakeBotApi(token=TOKEN) as api:
        yield api


async def start_replica(api: FakeBotApi, database_url: str, log_path: Path) -> BotProcess:
    """A webhook replica on its own port, as in the compose file's scale profile."""
    port = free_port()
    return await BotProcess.start(
        api,
        database_url,
        log_path,
        env={
            "NEWSBOT_WEBHOOK_URL": "https://news.example.org/telegram",
            "NEWSBOT_WEBHOOK_SECRET": "shared-secret",
            "NEWSBOT_LISTEN": f"127.0.0.1:{port}",
            "NEWSBOT_PAID_BROADCAST": "true",
            "NEWSBOT_RATE": str(RATE),
        },
        health_port=port,
    )


async def test_one_replica_delivers_and_the_other_takes_over_when_it_dies(
    shared_api: FakeBotApi,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    helpers = DeliveryWorld(sessionmaker, shared_api, None, None, None)  # type: ignore[arg-type]
    readers = await helpers.add_readers(range(1, READERS + 1))
    article_id = await helpers.add_article()

    first = await start_replica(shared_api, database_url, tmp_path / "first.log")
    second: BotProcess | None = None
    try:
        await first.wait_healthy(delivering=True)
        second = await start_replica(shared_api, database_url, tmp_path / "second.log")
        await second.wait_healthy(delivering=False)

        async with unit_of_work(sessionmaker) as session:
            row = await broadcasts.create_broadcast(
                session=session, article_id=article_id, due_at=datetime.now(UTC), now=utcnow()
            )
        broadcast_id = row.id
        await shared_api.wait_for(lambda: len(shared_api.timeline) >= READERS // 5, timeout=30)
        # Mid-broadcast, still exactly one deliverer.
        assert (await first.health() or {}).get("delivering") is True
        assert (await second.health() or {}).get("delivering") is False

        await first.kill()
        killed_at = time.monotonic()
        sent_before = len(shared_api.timeline)
        assert sent_before < READERS, "the broadcast finished before the kill"
        await second.wait_healthy(delivering=True, within=TAKEOVER_WITHIN + 5)
        await wait_for_status(sessionmaker, broadcast_id, "done")
        took_over = min(t for t, _, _ in shared_api.timeline[sent_before:]) - killed_at
        assert took_over < TAKEOVER_WITHIN, f"the second replica resumed after {took_over:.1f} s"
        assert await second.terminate() < 10
        assert second.process.returncode == 0, second.output()[-3000:]
    finally:
        await first.kill()
        if second is not None:
            await second.kill()

    copies = Counter(chat_id for _, chat_id, _ in shared_api.timeline)
    assert set(copies) == set(readers)  # nothing lost
    repeats = sum(copies.values()) - READERS
    assert repeats <= MAX_UNRECORDED, f"{repeats} repeats: more than the {MAX_UNRECORDED} cap"
    print(f"sent before the kill: {sent_before}; resumed after {took_over:.2f} s; {repeats=}")


async def test_a_replica_that_starts_second_does_not_deliver(
    shared_api: FakeBotApi, database_url: str, tmp_path: Path
) -> None:
    first = await start_replica(shared_api, database_url, tmp_path / "first.log")
    second: BotProcess | None = None
    try:
        await first.wait_healthy(delivering=True)
        second = await start_replica(shared_api, database_url, tmp_path / "second.log")
        await second.wait_healthy()
        # Several ticks: the second keeps trying the lock and keeps failing.
        await asyncio.sleep(2.5)
        assert (await second.health() or {}).get("delivering") is False
        assert (await first.health() or {}).get("delivering") is True
        # A graceful stop hands the lock over too.
        assert await first.terminate() < 10
        await second.wait_healthy(delivering=True, within=TAKEOVER_WITHIN)
    finally:
        await first.kill()
        if second is not None:
            await second.kill()
