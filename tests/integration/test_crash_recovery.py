"""Kill -9 in the middle of a broadcast, start again: nothing lost, repeats only in flight.

`newsbot run` runs as a real process against the fake Bot API served by this test.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import DELIVERY_CONCURRENCY
from bot.delivery import max_unrecorded_for
from bot.sandbox.fake_api import FakeBotApi
from db import broadcasts
from db.session import unit_of_work
from tests.integration.delivery_fixtures import DeliveryWorld

TOKEN = "515151:crash-test-token"
READERS = 400
RATE = 200  # paid broadcasts: fast enough to finish in seconds, slow enough to be caught
# The bot's cap on sends whose outcome is not yet written, at this rate.
MAX_UNRECORDED = max_unrecorded_for(RATE, DELIVERY_CONCURRENCY)


@pytest.fixture
async def crash_api() -> AsyncIterator[FakeBotApi]:
    """The fake Bot API the bot process talks to."""
    async with FakeBotApi(token=TOKEN) as api:
        yield api


async def start_bot(api: FakeBotApi, database_url: str) -> asyncio.subprocess.Process:
    """`newsbot run` in its own process, paced at RATE with paid broadcasts."""
    env = {
        **os.environ,
        "NEWSBOT_TOKEN": TOKEN,
        "NEWSBOT_API_URL": api.url,
        "NEWSBOT_DATABASE_URL": database_url,
        "NEWSBOT_PAID_BROADCAST": "true",
        "NEWSBOT_RATE": str(RATE),
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def broadcast_status(
    sessionmaker: async_sessionmaker[AsyncSession], broadcast_id: int
) -> str:
    async with unit_of_work(sessionmaker) as session:
        row = await broadcasts.get_broadcast(session=session, broadcast_id=broadcast_id)
    assert row is not None
    return row.status


async def test_sigkill_mid_broadcast_loses_nothing(
    crash_api: FakeBotApi, database_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # The world fixture is not used: its bot would be a second deliverer. Only its helpers are.
    helpers = DeliveryWorld(sessionmaker, crash_api, None, None, None)  # type: ignore[arg-type]
    readers = await helpers.add_readers(range(1, READERS + 1))
    article_id = await helpers.add_article()
    async with unit_of_work(sessionmaker) as session:
        row = await broadcasts.create_broadcast(
            session=session, article_id=article_id, due_at=datetime.now(UTC)
        )
    broadcast_id = row.id

    first = await start_bot(crash_api, database_url)
    try:
        await crash_api.wait_for(lambda: len(crash_api.timeline) >= READERS // 4, timeout=30)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    sent_before_kill = len(crash_api.timeline)
    assert sent_before_kill < READERS, "the broadcast finished before it could be interrupted"
    assert await broadcast_status(sessionmaker, broadcast_id) == "running"

    second = await start_bot(crash_api, database_url)
    try:
        async with asyncio.timeout(60):
            while await broadcast_status(sessionmaker, broadcast_id) != "done":  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        _, errors = await second.communicate()
    assert second.returncode == 0, errors.decode()[-2000:]

    copies = Counter(chat_id for _, chat_id, _ in crash_api.timeline)
    assert set(copies) == set(readers)  # nothing lost
    repeats = sum(copies.values()) - READERS
    # Only what was in flight or answered-but-unrecorded at the kill can repeat.
    assert repeats <= MAX_UNRECORDED, f"{repeats} repeats: more than the {MAX_UNRECORDED} cap"
    print(f"sent before the kill: {sent_before_kill}; repeated after restart: {repeats}")
