"""A broadcast paced to Telegram's limits against a fake Bot API that enforces them. Prints how
long it took, the rate it kept, and how many sends the server refused with 429 (the goal: none).

The fake server runs in its own process with flood control on: one message a second to a
private chat and NEWSBOT_RATE sends a second overall, counted as Telegram counts them, by
arrival. The bot side is the real Deliverer with the Pacer as `newsbot run` builds them.

Run: .venv/bin/python bench/broadcast_limits.py [--subscribers 10000] [--rate 30] [--paid]
     [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from fanout import TOKEN, FakeApiProcess, fresh_database, seed, timed_broadcast
from telegram.ext import ExtBot

from bot.delivery.deliverer import Deliverer
from bot.delivery.pacing import Pacer
from bot.delivery.request import AiohttpRequest
from bot.newsroom.clock import utcnow
from bot.settings import Settings
from db.session import create_engine, create_sessionmaker


async def run(subscribers: int, rate: int, paid: bool, database_url: str) -> None:
    """Seed, broadcast to every subscriber under the limits, and print the figures."""
    async with FakeApiProcess(TOKEN, "--flood-control", str(rate)) as server:
        await fresh_database(database_url)
        engine = create_engine(database_url)
        sessionmaker = create_sessionmaker(engine)
        try:
            article_id = await seed(sessionmaker, subscribers)
            pacer = Pacer(rate=None if paid else rate, paid_rate=rate if paid else None)
            async with ExtBot(
                TOKEN,
                base_url=f"{server.url}/bot",
                request=AiohttpRequest(connection_pool_size=32),
                rate_limiter=pacer,
            ) as bot:
                settings = Settings(
                    _env_file=None,  # type: ignore[call-arg]
                    language="en",
                    rate=rate,
                    paid_broadcast=paid,
                )
                deliverer = Deliverer.for_settings(
                    settings, bot=bot, sessionmaker=sessionmaker, clock=utcnow
                )
                seconds, _, progress = await timed_broadcast(sessionmaker, deliverer, article_id)
        finally:
            await engine.dispose()
    assert progress is not None
    print(f"subscribers           {subscribers:,}")
    print(f"rate limit            {rate}/s{' (paid broadcast)' if paid else ''}")
    print(f"status                {progress.broadcast.status}")
    print(f"sent                  {progress.sent:,} (failed {progress.failed})")
    print(f"seconds               {seconds:.1f}")
    print(f"achieved rate         {progress.sent / seconds:.1f}/s")
    print(f"429s seen by the bot  {pacer.retry_after_count}")
    print(f"refused by the server {server.refused}")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=30, help="sends per second (default 30)")
    parser.add_argument("--paid", action="store_true", help="paid broadcast (rate up to 1000)")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'limits.db'}"
        asyncio.run(run(args.subscribers, args.rate, args.paid, url))


if __name__ == "__main__":
    main()
