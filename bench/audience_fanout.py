"""Fan-out time and peak memory of one broadcast to many readers, with and without readers'
settings. Prints a table.

Two populations of --readers private chats (default 1,000,000), each on every --database-url:
- "none": every reader subscribes to every topic and has no settings;
- "settings": 10% have quiet hours (24 windows in 4 zones, a third of them quiet at any time;
  a third of those silent), 10% read hourly digests, 10% have a daily cap of 3 (half of them
  used up today), 5% follow "night bus" without subscribing to anything (follow-only), and
  another 10% follow a phrase the story does not contain (1,000 distinct ones).

A row times `db.broadcasts.start_broadcast` (the whole fan-out, committed) of the English sample
story and reports the peak of Python allocations meanwhile (tracemalloc): the readers are
chosen in the database, so this stays flat however many there are. Seeding is not timed.

Run: .venv/bin/python bench/audience_fanout.py [--readers 1000000]
     [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test ...]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from fanout import fresh_database
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.newsroom.ingest import store_sources
from bot.newsroom.sources import load_sources
from db import broadcasts
from db.models import DeliveryRow, DigestItemRow
from db.session import create_engine, create_sessionmaker, unit_of_work

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FIRST_CHAT = 50_000_000
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

# Column expressions over the row number i (the same SQL on SQLite and PostgreSQL).
_PLAIN = {
    "timezone": "NULL",
    "quiet_start": "NULL",
    "quiet_end": "NULL",
    "quiet_silent": "(1 = 0)",
    "digest": "'off'",
    "cap": "NULL",
    "cap_day": "NULL",
    "cap_used": "0",
}
_SETTINGS = {
    "timezone": "CASE i % 40 WHEN 0 THEN 'Asia/Riyadh' WHEN 10 THEN 'Europe/Berlin' "
    "WHEN 20 THEN 'America/New_York' ELSE NULL END",
    "quiet_start": "CASE WHEN i % 10 = 0 THEN ((i / 10) % 24) * 60 ELSE NULL END",
    "quiet_end": "CASE WHEN i % 10 = 0 THEN (((i / 10) % 24 + 8) % 24) * 60 ELSE NULL END",
    "quiet_silent": "(i % 30 = 0)",
    "digest": "CASE WHEN i % 10 = 1 THEN 'hourly' ELSE 'off' END",
    "cap": "CASE WHEN i % 10 = 3 THEN 3 ELSE NULL END",
    "cap_day": "CASE WHEN i % 10 = 3 THEN '2026-06-01' ELSE NULL END",
    "cap_used": "CASE WHEN i % 20 = 3 THEN 3 ELSE 0 END",
}


def _numbers(dialect: str, count: int) -> str:
    """A FROM clause yielding i = 0 … count-1."""
    if dialect == "postgresql":
        return f"generate_series(0, {count - 1}) AS n(i)"
    return (
        f"(WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {count - 1})"
        " SELECT i FROM n)"
    )


async def seed(
    sessionmaker: async_sessionmaker[AsyncSession], readers: int, with_settings: bool
) -> int:
    """Store the readers (in SQL, not through Python) and the story; the story's id."""
    columns = _SETTINGS if with_settings else _PLAIN
    async with unit_of_work(sessionmaker) as session:
        dialect = session.get_bind().dialect.name
        numbers = _numbers(dialect, readers)
        names = ", ".join(columns)
        values = ", ".join(columns.values())
        await session.execute(
            text(
                "INSERT INTO chats (chat_id, kind, language, active, joined_at, edition, "
                f"digest_due_at, {names}) SELECT {FIRST_CHAT} + i, 'private', 'en', (1 = 1), "
                f":now, 'all', NULL, {values} FROM {numbers}"
            ),
            {"now": NOW},
        )
        follow_only = "i % 20 = 2" if with_settings else "1 = 0"
        await session.execute(
            text(
                f"INSERT INTO subscriptions (chat_id, topic) SELECT {FIRST_CHAT} + i, '*' "
                f"FROM {numbers} WHERE NOT ({follow_only})"
            )
        )
        if with_settings:
            await session.execute(
                text(
                    "INSERT INTO follows (chat_id, phrase, first_word, shown, created_at) "
                    f"SELECT {FIRST_CHAT} + i, 'night bus', 'night', 'night bus', :now "
                    f"FROM {numbers} WHERE i % 20 = 2"
                ),
                {"now": NOW},
            )
            await session.execute(
                text(
                    "INSERT INTO follows (chat_id, phrase, first_word, shown, created_at) "
                    f"SELECT {FIRST_CHAT} + i, 'council' || ' p' || (i % 1000), 'council', "
                    f"'council', :now FROM {numbers} WHERE i % 10 = 5"
                ),
                {"now": NOW},
            )
        (stored,) = await store_sources(
            session=session,
            sources=load_sources([str(SAMPLES / "en-night-buses.md")]),
            target=1200,
            now=NOW,
        )
    return stored.article_id


async def measure(
    database_url: str, readers: int, with_settings: bool
) -> tuple[int, int, float, float]:
    """(deliveries, digest items, seconds, peak MiB of Python allocations) of one fan-out."""
    await fresh_database(database_url)
    engine = create_engine(database_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        article_id = await seed(sessionmaker, readers, with_settings)
        async with unit_of_work(sessionmaker) as session:
            row = await broadcasts.create_broadcast(
                session=session, article_id=article_id, due_at=NOW, now=NOW
            )
        tracemalloc.start()
        tracemalloc.reset_peak()
        started = time.perf_counter()
        async with unit_of_work(sessionmaker) as session:
            queued = await broadcasts.start_broadcast(
                session=session, broadcast_id=row.id, now=NOW, zone="UTC"
            )
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        async with unit_of_work(sessionmaker) as session:
            items = await session.scalar(select(func.count()).select_from(DigestItemRow))
            rows = await session.scalar(
                select(func.count())
                .select_from(DeliveryRow)
                .where(DeliveryRow.broadcast_id == row.id)
            )
        assert queued == rows
        return rows or 0, items or 0, seconds, peak
    finally:
        await engine.dispose()


def backend(database_url: str) -> str:
    """The database kind of a SQLAlchemy URL: sqlite, postgresql, ..."""
    return database_url.split(":", 1)[0].split("+", 1)[0]


async def run(readers: int, database_urls: Sequence[str]) -> None:
    """Measure both populations on each database and print the table."""
    print(
        f"{'population':<10} {'database':<10} {'readers':>9} {'deliveries':>10} "
        f"{'digest':>8} {'fan-out s':>9} {'peak MiB':>8}"
    )
    for url in database_urls:
        for with_settings in (False, True):
            rows, items, seconds, peak = await measure(url, readers, with_settings)
            name = "settings" if with_settings else "none"
            print(
                f"{name:<10} {backend(url):<10} {readers:>9,} {rows:>10,} {items:>8,} "
                f"{seconds:>9.2f} {peak:>8.2f}",
                flush=True,
            )


def main() -> None:
    """Parse the arguments and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readers", type=int, default=1_000_000)
    parser.add_argument("--database-url", action="append", default=[])
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        urls = arguments.database_url or [f"sqlite+aiosqlite:///{folder}/audience.db"]
        asyncio.run(run(arguments.readers, urls))


if __name__ == "__main__":
    main()
