"""Kill -9 in the middle of a broadcast, start again: nothing lost, repeats only in flight.

`newsbot run` runs as a real process against the fake Bot API served by this test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.deliverer import DELIVERY_CONCURRENCY, max_unrecorded_for
from bot.sandbox.botapi.server import FakeBotApi
from tests.integration.processes import (
    BotProcess,
    broadcast_status,
    queue_broadcast,
    wait_for_status,
)

TOKEN = "515151:crash-test-token"
READERS = 400
RATE = 200  # paid broadcasts: fast enough to finish in seconds, slow enough to be caught
# The bot's cap on sends whose outcome is not yet written, at this rate.
MAX_UNRECORDED = max_unrecorded_for(RATE, DELIVERY_CONCURRENCY)
PACED = {"NEWSBOT_PAID_BROADCAST": "true", "NEWSBOT_RATE": str(RATE)}


@pytest.fixture
async def crash_api() -> AsyncIterator[FakeBotApi]:
    """The fake Bot API the bot process talks to."""
    async with FakeBotApi(token=TOKEN) as api:
        yield api


async def test_sigkill_mid_broadcast_loses_nothing(
    crash_api: FakeBotApi,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    readers, broadcast_id = await queue_broadcast(sessionmaker, crash_api, READERS)

    first = await BotProcess.start(crash_api, database_url, tmp_path / "first.log", PACED)
    try:
        await crash_api.wait_for(lambda: len(crash_api.timeline) >= READERS // 4, timeout=30)
    finally:
        await first.kill()
    sent_before_kill = len(crash_api.timeline)
    assert sent_before_kill < READERS, "the broadcast finished before it could be interrupted"
    assert await broadcast_status(sessionmaker, broadcast_id) == "running"

    second = await BotProcess.start(crash_api, database_url, tmp_path / "second.log", PACED)
    try:
        await wait_for_status(sessionmaker, broadcast_id, "done")
        await second.terminate()
    finally:
        await second.kill()
    assert second.process.returncode == 0, second.output()[-2000:]

    copies = Counter(chat_id for _, chat_id, _ in crash_api.timeline)
    assert set(copies) == set(readers)  # nothing lost
    repeats = sum(copies.values()) - READERS
    # Only what was in flight or answered-but-unrecorded at the kill can repeat.
    assert repeats <= MAX_UNRECORDED, f"{repeats} repeats: more than the {MAX_UNRECORDED} cap"
    print(f"sent before the kill: {sent_before_kill}; repeated after restart: {repeats}")
