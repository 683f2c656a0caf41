"""Delivery faults with `newsbot run` as a real process against the fake Bot API of the test.

- Answers the client cannot read, for every reader: each gets one copy, all recorded as sent.
- A message that kills the deliverer every time it is sent: kill -9 at the same message, start
  again, three times; that reader gets it at most MAX_CLAIMS times, the others once. The fatal
  message is one whose answer never comes (the server stores it, then stalls), so the process
  is always killed after the message left and before its outcome could be written.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.botapi.server import FakeBotApi
from db.broadcasts import MAX_CLAIMS
from db.models import DeliveryRow
from db.session import unit_of_work
from tests.integration.processes import BotProcess, queue_broadcast, wait_for_status

TOKEN = "616161:crash-loop-token"
READERS = 5
VICTIM = 3


@pytest.fixture
async def loop_api() -> AsyncIterator[FakeBotApi]:
    """The fake Bot API the bot processes talk to."""
    async with FakeBotApi(token=TOKEN) as api:
        yield api


async def delivery_rows(
    sessionmaker: async_sessionmaker[AsyncSession], broadcast_id: int
) -> dict[int, DeliveryRow]:
    """The broadcast's deliveries, by chat."""
    async with unit_of_work(sessionmaker) as session:
        rows = await session.scalars(
            select(DeliveryRow).where(DeliveryRow.broadcast_id == broadcast_id)
        )
        return {row.chat_id: row for row in rows}


async def wait_until_others_recorded(
    sessionmaker: async_sessionmaker[AsyncSession], broadcast_id: int, within: float = 30
) -> None:
    """Poll the database until every reader but the victim has a recorded outcome."""
    async with asyncio.timeout(within):
        while True:
            rows = await delivery_rows(sessionmaker, broadcast_id)
            others = {row.status for chat, row in rows.items() if chat != VICTIM}
            if len(rows) == READERS and others == {"sent"}:
                return
            await asyncio.sleep(0.05)


def log_messages(process: BotProcess) -> list[str]:
    """The message of each JSON log line the process wrote."""
    messages = []
    for line in process.output().splitlines():
        if line.startswith("{"):
            messages.append(str(json.loads(line).get("message", "")))
    return messages


async def test_answers_that_cannot_be_read_are_sent_once_each(
    loop_api: FakeBotApi,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    readers, broadcast_id = await queue_broadcast(sessionmaker, loop_api, 30)
    loop_api.misanswer_next("sendMessage", len(readers), how="unreadable")
    process = await BotProcess.start(loop_api, database_url, tmp_path / "bot.log")
    try:
        await wait_for_status(sessionmaker, broadcast_id, "done", within=30)
        await process.terminate()
    finally:
        await process.kill()
    assert process.process.returncode == 0, process.output()[-2000:]

    copies = Counter(chat_id for _, chat_id, _ in loop_api.timeline)
    assert copies == {chat: 1 for chat in readers}
    rows = await delivery_rows(sessionmaker, broadcast_id)
    assert {row.status for row in rows.values()} == {"sent"}
    messages = log_messages(process)
    unreadable = [m for m in messages if "could not be read" in m]
    assert len(unreadable) == len(readers)
    assert not [m for m in messages if "delivery round failed" in m]


async def test_a_crash_loop_sends_the_fatal_message_at_most_max_claims_times(
    loop_api: FakeBotApi,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    readers, broadcast_id = await queue_broadcast(sessionmaker, loop_api, READERS)
    # More stalls than the cap: were the message sent a fourth time, it would stall again.
    loop_api.misanswer_next("sendMessage", MAX_CLAIMS + 1, how="stall", chat_id=VICTIM)

    for start in range(1, MAX_CLAIMS + 1):
        process = await BotProcess.start(loop_api, database_url, tmp_path / f"start-{start}.log")
        try:
            await loop_api.wait_for_messages(VICTIM, start, timeout=30)
            if start == 1:
                await wait_until_others_recorded(sessionmaker, broadcast_id)
        finally:
            await process.kill()

    last = await BotProcess.start(loop_api, database_url, tmp_path / "last.log")
    try:
        await wait_for_status(sessionmaker, broadcast_id, "done")
        await last.terminate()
    finally:
        await last.kill()
    assert last.process.returncode == 0, last.output()[-2000:]

    copies = Counter(chat_id for _, chat_id, _ in loop_api.timeline)
    assert copies == {**{chat: 1 for chat in readers}, VICTIM: MAX_CLAIMS}
    victim = (await delivery_rows(sessionmaker, broadcast_id))[VICTIM]
    reason = f"claimed {MAX_CLAIMS} times without an outcome"
    assert (victim.status, victim.error) == ("failed", reason)
    # The start that gave up says so once, naming the chat.
    given_up = [m for m in log_messages(last) if reason in m]
    assert len(given_up) == 1 and f"chat {VICTIM}" in given_up[0], given_up
    print(f"copies of the fatal message: {copies[VICTIM]} (cap {MAX_CLAIMS})")
