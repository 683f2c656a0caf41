"""A broadcast of a story with its lead photo beside one of a text card, to the same readers.
Prints the sends by method (the photo's URL should be fetched once, every other copy sent by
file_id) and each broadcast's rate, from fan-out to the last recorded outcome.

The fake Bot API runs in its own process with the sample image hosted at the feed's URL; the
bot side is the real Deliverer as `newsbot run` builds it, with the rate limit lifted (per-chat
pacing stays on).

Run: .venv/bin/python bench/photo_fanout.py [--subscribers 1000] [--concurrency 16]
     [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from fanout import SAMPLES, TOKEN, FakeApiProcess, fresh_database, seed, timed_broadcast
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import ExtBot

from bot.delivery.deliverer import Deliverer
from bot.delivery.pacing import Pacer
from bot.delivery.request import AiohttpRequest
from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import store_sources
from bot.newsroom.sources import load_sources
from bot.settings import Settings
from db.session import create_engine, create_sessionmaker, unit_of_work

IMAGE_URL = "https://example.org/images/library-night.png"
IMAGE = SAMPLES / "images" / "library-night.png"


async def store_photo_story(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Store the sample feed; the id of its entry with a lead image."""
    async with unit_of_work(sessionmaker) as session:
        stored = await store_sources(
            session=session,
            sources=load_sources([str(SAMPLES / "en-feed.xml")]),
            target=1200,
            now=utcnow(),
        )
    return stored[0].article_id


async def run(subscribers: int, concurrency: int, database_url: str) -> None:
    """Seed, broadcast the text card then the photo card, and print the figures."""
    async with FakeApiProcess(TOKEN, "--host-image", f"{IMAGE_URL}={IMAGE}") as server:
        await fresh_database(database_url)
        engine = create_engine(database_url)
        sessionmaker = create_sessionmaker(engine)
        try:
            text_id = await seed(sessionmaker, subscribers)
            photo_id = await store_photo_story(sessionmaker)
            async with ExtBot(
                TOKEN,
                base_url=f"{server.url}/bot",
                request=AiohttpRequest(connection_pool_size=concurrency),
                rate_limiter=Pacer(rate=None, paid_rate=None),
            ) as bot:
                deliverer = Deliverer.for_settings(
                    Settings(_env_file=None, language="en"),  # type: ignore[call-arg]
                    bot=bot,
                    sessionmaker=sessionmaker,
                    clock=utcnow,
                    concurrency=concurrency,
                    batch_size=500,
                )
                text_seconds, _, text_progress = await timed_broadcast(
                    sessionmaker, deliverer, text_id
                )
                photo_seconds, _, photo_progress = await timed_broadcast(
                    sessionmaker, deliverer, photo_id
                )
                await deliverer.close()
        finally:
            await engine.dispose()
    assert text_progress is not None and photo_progress is not None
    counts = server.counts
    print(f"subscribers              {subscribers:,}  (database {database_url.split(':')[0]})")
    print(f"text card broadcast      {text_progress.sent:,} sent in {text_seconds:.2f} s")
    print(f"                         {text_progress.sent / text_seconds:,.0f} messages/s")
    print(f"photo card broadcast     {photo_progress.sent:,} sent in {photo_seconds:.2f} s")
    print(f"                         {photo_progress.sent / photo_seconds:,.0f} messages/s")
    print(f"photo refused            {photo_progress.photo_refused or 'no'}")
    print("sends by method (both broadcasts, as the fake Bot API counted them)")
    print(f"  sendMessage            {counts.get('sendMessage', 0) - photo_progress.sent:,}")
    for how in ("url", "file_id", "upload"):
        print(f"  sendPhoto by {how:<9} {counts.get(f'sendPhoto by {how}', 0):,}")


def main() -> None:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        asyncio.run(run(args.subscribers, args.concurrency, url))


if __name__ == "__main__":
    main()
