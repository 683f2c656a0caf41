"""Bot-side time to handle a "Read more"/"Next" press, with a large store behind it.

Stores N articles and M subscribed chats, then feeds K callback-query updates for random
(chat, article, section) through the real Application (handlers, store, unit of work, PTB
serialisation). Telegram is replaced by an in-process request object that answers at once,
so the figures are the bot's own time, not the network's. Prints p50/p95/p99; asserts nothing.

With `--in-flight K`, presses arrive K at a time through the Application's update processor, as
a burst after a push does (different chats run side by side, up to NEWSBOT_CONCURRENT_UPDATES;
one chat's presses keep their order), and each press's time runs from its arrival to its reply.

Run: .venv/bin/python bench/read_more.py [--articles 10000] [--chats 100000] [--presses 10000]
     [--in-flight 1000] [--concurrent-updates 16]
     [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.ops.runtime import running_bot
from bot.settings import Settings
from bot.telegram.app import NewsApp
from bot.telegram.callbacks import ReadSection
from db.migrate import upgrade
from db.models import ArticleRow, ArticleTopicRow, ChatRow, SectionRow, SubscriptionRow
from db.session import create_engine

TOKEN = "1:bench"
SECTIONS_PER_ARTICLE = 5
BATCH = 5000


class InstantTelegram(BaseRequest):
    """Answers every Bot API call at once with a minimal valid result."""

    def __init__(self) -> None:
        self.message_id = 0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def read_timeout(self) -> float | None:
        """No network, no timeout."""
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Answer like Telegram: getMe, sendMessage, and True for the rest."""
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        result: Any = True
        if name == "getMe":
            result = {"id": 1, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
        elif name == "sendMessage":
            self.message_id += 1
            result = {
                "message_id": self.message_id,
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "text": "x",
            }
        return 200, json.dumps({"ok": True, "result": result}).encode()


async def fill(database_url: str, articles: int, chats: int) -> None:
    """Bulk-load articles with sections and topics, and subscribed chats."""
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        for start in range(0, articles, BATCH):
            ids = range(start + 1, min(start + BATCH, articles) + 1)
            await connection.execute(
                insert(ArticleRow),
                [
                    {
                        "id": i,
                        "title": f"Story {i}",
                        "byline": "Bench Desk",
                        "lead": None,
                        "summary": f"Summary of story {i}.",
                        "language": "en",
                        "url": f"https://example.org/{i}",
                        "guid": None,
                        "content_hash": f"{i:064x}",
                        "published_at": now - timedelta(minutes=i),
                        "created_at": now,
                        "sort_at": now - timedelta(minutes=i),
                        "related": [],
                        "section_count": SECTIONS_PER_ARTICLE,
                    }
                    for i in ids
                ],
            )
            await connection.execute(
                insert(SectionRow),
                [
                    {
                        "article_id": i,
                        "index": n,
                        "heading": None,
                        "html": f"<b>Part {n}</b>\n\n" + "Words of the section. " * 50,
                        "text": f"Part {n}\n\n" + "Words of the section. " * 50,
                    }
                    for i in ids
                    for n in range(1, SECTIONS_PER_ARTICLE + 1)
                ],
            )
            await connection.execute(
                insert(ArticleTopicRow), [{"article_id": i, "topic": f"t{i % 20}"} for i in ids]
            )
        for start in range(0, chats, BATCH):
            ids = range(start + 1, min(start + BATCH, chats) + 1)
            await connection.execute(
                insert(ChatRow),
                [
                    {
                        "chat_id": i,
                        "kind": "private",
                        "language": None,
                        "telegram_language": "en",
                        "active": True,
                        "blocked_at": None,
                        "joined_at": now,
                        "current_article_id": None,
                    }
                    for i in ids
                ],
            )
            await connection.execute(
                insert(SubscriptionRow), [{"chat_id": i, "topic": "*"} for i in ids]
            )
    await engine.dispose()


def press(update_id: int, chat_id: int, article_id: int, index: int) -> dict[str, Any]:
    """A callback-query update as Telegram sends it for a "Next" button."""
    user = {"id": chat_id, "is_bot": False, "first_name": "R", "language_code": "en"}
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "from": user,
            "chat_instance": "1",
            "data": ReadSection(article_id, index).encode(),
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "text": "previous section",
            },
        },
    }


async def measure(
    database_url: str,
    articles: int,
    chats: int,
    presses: int,
    *,
    in_flight: int = 1,
    concurrent_updates: int = 1,
) -> tuple[list[float], float]:
    """Handle `presses` callback updates; each one's time to reply, and the whole run's time."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        token=TOKEN,
        database_url=database_url,
        concurrent_updates=concurrent_updates,
    )

    def instant(app: NewsApp) -> None:
        app.bot._request = (InstantTelegram(), InstantTelegram())  # type: ignore[attr-defined]
        # The pacer would hold replies to Telegram's 30 sends/s; this measures the bot's own time.
        app.bot._rate_limiter = None  # type: ignore[attr-defined]

    rng = random.Random(1)
    durations = []
    async with running_bot(settings, configure=instant) as runtime:
        app = runtime.app
        updates = [
            Update.de_json(
                press(n + 1, rng.randint(1, chats), rng.randint(1, articles), rng.randint(2, 5)),
                app.bot,
            )
            for n in range(presses)
        ]
        began = time.perf_counter()
        if in_flight == 1:
            for update in updates:
                start = time.perf_counter()
                await app.process_update(update)
                durations.append(time.perf_counter() - start)
        else:

            async def one(update: Update, arrived: float) -> None:
                # What PTB's update fetcher does with each update: the processor decides when.
                await app.update_processor.process_update(update, app.process_update(update))
                durations.append(time.perf_counter() - arrived)

            for start in range(0, presses, in_flight):
                arrived = time.perf_counter()
                burst = updates[start : start + in_flight]
                await asyncio.gather(*(one(update, arrived) for update in burst))
        elapsed = time.perf_counter() - began
    return durations, elapsed


async def reset(database_url: str) -> None:
    """Empty a PostgreSQL database before filling it."""
    if database_url.startswith("postgresql"):
        engine = create_engine(database_url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()


def main() -> None:
    """Fill a store, press buttons, print percentiles."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--presses", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=1)
    parser.add_argument("--concurrent-updates", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        asyncio.run(reset(url))
        upgrade(url)
        started = time.perf_counter()
        asyncio.run(fill(url, args.articles, args.chats))
        print(f"database: {url.split(':', 1)[0]}, filled in {time.perf_counter() - started:.1f} s")
        print(
            f"store: {args.articles:,} articles x {SECTIONS_PER_ARTICLE} sections, "
            f"{args.chats:,} subscribed chats"
        )
        durations, elapsed = asyncio.run(
            measure(
                url,
                args.articles,
                args.chats,
                args.presses,
                in_flight=args.in_flight,
                concurrent_updates=args.concurrent_updates,
            )
        )
    ms = sorted(d * 1000 for d in durations)
    q = statistics.quantiles(ms, n=100)
    mode = (
        "one at a time"
        if args.in_flight == 1
        else f"{args.in_flight} in flight, {args.concurrent_updates} handled at once"
    )
    print(
        f"presses: {len(ms):,} ({mode})  p50 {q[49]:.2f} ms  p95 {q[94]:.2f} ms  "
        f"p99 {q[98]:.2f} ms  max {ms[-1]:.2f} ms  ({len(ms) / elapsed:.0f} presses/s)"
    )


if __name__ == "__main__":
    main()
