"""Kill -9 in the middle of a correction, start again: every card edited, and edited once.

`newsbot run` runs as a real process against the fake Bot API served by this test.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.deliverer import DELIVERY_CONCURRENCY, max_unrecorded_for
from bot.newsroom import corrections
from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import store_sources
from bot.newsroom.sources import load_sources
from bot.sandbox.botapi.server import FakeBotApi
from db.session import unit_of_work
from tests.integration.processes import (
    BotProcess,
    broadcast_status,
    queue_broadcast,
    wait_for_status,
)
from tests.integration.test_corrections import NEW_TITLE, revised_text
from tests.integration.test_crash_recovery import PACED, crash_api  # noqa: F401

READERS = 400
MAX_UNRECORDED = max_unrecorded_for(float(PACED["NEWSBOT_RATE"]), DELIVERY_CONCURRENCY)


async def test_sigkill_mid_correction_edits_every_card_once(
    crash_api: FakeBotApi,  # noqa: F811
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    readers, push = await queue_broadcast(sessionmaker, crash_api, READERS)
    first = await BotProcess.start(crash_api, database_url, tmp_path / "first.log", PACED)
    try:
        await wait_for_status(sessionmaker, push, "done")
        source = tmp_path / "night-buses.md"
        source.write_text(revised_text(), encoding="utf-8")
        async with unit_of_work(sessionmaker) as session:
            (stored,) = await store_sources(
                session=session, sources=load_sources([str(source)]), target=1200, now=utcnow()
            )
            assert stored.updated
            job = await corrections.correct(
                session=session, article_id=stored.article_id, now=utcnow()
            )
        await crash_api.wait_for(
            lambda: len(crash_api.calls("editMessageText")) >= READERS // 4, timeout=30
        )
    finally:
        await first.kill()
    edited_before_kill = len(crash_api.calls("editMessageText"))
    assert edited_before_kill < READERS, "the correction finished before it could be interrupted"
    assert await broadcast_status(sessionmaker, job.broadcast.id) == "running"

    second = await BotProcess.start(crash_api, database_url, tmp_path / "second.log", PACED)
    try:
        await wait_for_status(sessionmaker, job.broadcast.id, "done")
        await second.terminate()
    finally:
        await second.kill()
    assert second.process.returncode == 0, second.output()[-2000:]

    for reader in readers:
        (card,) = crash_api.messages(reader)
        assert card.text.startswith(NEW_TITLE), reader
        assert card.text_edits == 1, reader  # asked again at most, never changed twice
    asked = Counter(call["chat_id"] for call in crash_api.calls("editMessageText"))
    assert set(asked) == set(readers)
    repeats = sum(asked.values()) - READERS
    assert repeats <= MAX_UNRECORDED, f"{repeats} repeats: more than the {MAX_UNRECORDED} cap"
    print(f"edited before the kill: {edited_before_kill}; asked again after restart: {repeats}")
