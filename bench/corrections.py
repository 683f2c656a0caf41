"""Time and requests to correct, then retract, a story pushed to N readers. Prints a table.

The story's cards are put straight into the fake Bot API (in this process) and recorded as sent
deliveries, as if a push had reached every reader; then a revision is stored, a correction job
runs through the real Deliverer and Pacer at the given rate until done, and so does a
retraction, with a share of the cards made older than 48 hours (those are edited into a note
instead of deleted). A row: job, readers, seconds, requests by method.

Run: .venv/bin/python bench/corrections.py [--readers 10000] [--rate 30] [--old 0.1]
     [--database-url sqlite+aiosqlite:///bench.db]
At 30 requests a second the pacing sets the time: 10,000 readers take about 5.5 minutes a job.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import ExtBot

from bot.delivery.deliverer import Deliverer
from bot.delivery.pacing import Pace, Pacer
from bot.delivery.request import AiohttpRequest
from bot.newsroom import corrections
from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import store_sources
from bot.newsroom.sources import load_sources
from bot.sandbox.botapi.server import DEFAULT_TOKEN, FakeBotApi
from bot.sandbox.botapi.state import BotMessage
from bot.settings import Settings
from bot.telegram.messages import story_card
from db import broadcasts
from db.migrate import upgrade
from db.models import ArticleRow, BroadcastRow, ChatRow, DeliveryRow
from db.session import create_engine, create_sessionmaker, unit_of_work

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "en-night-buses.md"
FIRST_CHAT = 70_000_000
OLD_TITLE = "City approves a night bus network after a year of debate"
NEW_TITLE = "City approves a night bus network after two years of debate"


async def seed(
    sessionmaker: async_sessionmaker[AsyncSession], api: FakeBotApi, readers: int
) -> int:
    """Readers who each hold the story's card, as a finished push left them; the article id."""
    now = datetime.now(UTC)
    async with unit_of_work(sessionmaker) as session:
        (stored,) = await store_sources(
            session=session, sources=load_sources([str(SAMPLE)]), target=1200, now=now
        )
        article = await session.get(ArticleRow, stored.article_id)
        assert article is not None
        body, keyboard = story_card(article, "en", bot_username=api.bot_username)
        push = BroadcastRow(
            article_id=stored.article_id,
            status="done",
            due_at=now,
            created_at=now,
            started_at=now,
            finished_at=now,
            target_count=readers,
            kind="push",
        )
        session.add(push)
        await session.flush()
        chats = range(FIRST_CHAT, FIRST_CHAT + readers)
        await session.execute(
            insert(ChatRow),
            [
                {"chat_id": c, "kind": "private", "telegram_language": "en", "active": True}
                | {"joined_at": now}
                for c in chats
            ],
        )
        rows = []
        for chat_id in chats:
            chat = api.chat(chat_id)
            message = BotMessage(
                chat_id=chat_id,
                message_id=chat.allocate_message_id(),
                date=int(time.time()),
                text=body,
                entities=(),
                html=body,
                parse_mode="HTML",
                reply_markup=keyboard.to_dict() if keyboard else None,
            )
            chat.messages[message.message_id] = message
            rows.append(
                {"broadcast_id": push.id, "chat_id": chat_id, "status": "sent", "attempts": 1}
                | {"claims": 0, "message_id": message.message_id, "sent_at": now}
            )
        await session.execute(insert(DeliveryRow), rows)
    return stored.article_id


async def revise(sessionmaker: async_sessionmaker[AsyncSession], folder: Path) -> None:
    """Store the sample again under its URL with a corrected title."""
    source = folder / "revised.md"
    source.write_text(SAMPLE.read_text().replace(OLD_TITLE, NEW_TITLE), encoding="utf-8")
    async with unit_of_work(sessionmaker) as session:
        (stored,) = await store_sources(
            session=session, sources=load_sources([str(source)]), target=1200, now=utcnow()
        )
    assert stored.updated


async def timed_job(
    sessionmaker: async_sessionmaker[AsyncSession],
    api: FakeBotApi,
    article_id: int,
    kind: str,
) -> tuple[float, Counter[str]]:
    """Start a job and wait until the running deliverer has finished it."""
    before = len(api.requests)
    started = time.monotonic()
    async with unit_of_work(sessionmaker) as session:
        use_case = corrections.correct if kind == "correct" else corrections.retract
        job = await use_case(session=session, article_id=article_id, now=utcnow())
    while True:
        async with unit_of_work(sessionmaker) as session:
            row = await broadcasts.get_broadcast(session=session, broadcast_id=job.broadcast.id)
            assert row is not None
            if row.status == "done":
                break
        await asyncio.sleep(0.2)
    seconds = time.monotonic() - started
    return seconds, Counter(request.method for request in api.requests[before:])


async def run(readers: int, rate: float, old: float, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        # Above 30/s only paid broadcasts are allowed; the pacer below applies the rate itself.
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            language="en",
            rate=rate,
            paid_broadcast=rate > 30,
        )
        async with FakeBotApi(token=DEFAULT_TOKEN) as api:
            article_id = await seed(sessionmaker, api, readers)
            await revise(sessionmaker, Path(folder))
            bot: ExtBot[Pace] = ExtBot(
                api.token,
                base_url=f"{api.url}/bot",
                request=AiohttpRequest(connection_pool_size=64),
                rate_limiter=Pacer(rate=rate),
            )
            async with bot:
                deliverer = Deliverer.for_settings(
                    settings, bot=bot, sessionmaker=sessionmaker, clock=utcnow
                )
                running = asyncio.create_task(deliverer.run(idle_interval=0.1))
                try:
                    rows = [
                        ("correct", *await timed_job(sessionmaker, api, article_id, "correct"))
                    ]
                    aged = int(readers * old)
                    for chat_id in range(FIRST_CHAT, FIRST_CHAT + aged):
                        api.age_messages(chat_id, 49 * 3600)
                    rows.append(
                        ("retract", *await timed_job(sessionmaker, api, article_id, "retract"))
                    )
                finally:
                    deliverer.stop()
                    with contextlib.suppress(Exception):
                        await running
        await engine.dispose()
    print(f"readers {readers}, rate {rate:g}/s, {old:.0%} of cards older than 48 h")
    print(f"{'job':<8} {'seconds':>8} {'per s':>7}  requests")
    for name, seconds, methods in rows:
        total = sum(methods.values())
        listed = ", ".join(f"{method} {count}" for method, count in sorted(methods.items()))
        print(f"{name:<8} {seconds:8.1f} {total / seconds:7.1f}  {total} ({listed})")


def main() -> None:
    """Parse the options and run the bench."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=30.0, help="requests per second")
    parser.add_argument("--old", type=float, default=0.1, help="share of cards over 48 h old")
    parser.add_argument("--database-url", default=None)
    options = parser.parse_args()
    asyncio.run(run(options.readers, options.rate, options.old, options.database_url))


if __name__ == "__main__":
    main()
