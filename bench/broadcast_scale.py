"""A broadcast to a million subscribers: the fan-out, the claim and record rates, peak memory.

Seeds N subscribed private chats (default 1,000,000) with INSERT … SELECT statements that make
the rows in the database, one article, then times:
- the fan-out: create and start the broadcast (db.broadcasts.start_broadcast's INSERT … SELECT
  of one delivery row per chat) in one unit of work, commit included; then, on PostgreSQL, the
  ANALYZE the scheduler runs after a large fan-out (db/upkeep.py);
- delivery by the real Deliverer (claimer, senders, recorder), Telegram replaced by an
  in-process request object that answers at once and the rate limit lifted, so the database
  side is what is measured: claims/s (rows claimed over the time spent in the deliverer's claim
  step, its unit of work included), outcomes/s (outcomes over the time spent in its record
  step) and sends/s overall. `--deliver M` stops after M outcomes (0: the whole broadcast);
  the claims of the first rounds, with the whole queue before them, are the slowest;
- the process's peak RSS (ru_maxrss) and current RSS, sampled every 0.2 s throughout and
  reported per phase, against the 200 MB goal. `--tracemalloc` also prints the top
  allocation sites by line at the end of the delivery (slower).

Run: .venv/bin/python bench/broadcast_scale.py [--chats 1000000] [--deliver 100000]
     [--concurrency 16] [--batch-size 200] [--tracemalloc]
     [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]   (that database is wiped)
Each database runs in its own process (the script starts itself again), so each peak is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fanout import fresh_database
from read_more import InstantTelegram
from sqlalchemy import Select, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import ExtBot

from bot.delivery.deliverer import Deliverer
from bot.delivery.pacing import Pacer
from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import store_sources
from bot.newsroom.sources import load_sources
from bot.settings import PAID_RATE_CEILING, Settings
from db import broadcasts, upkeep
from db.checkpoints import bot_engine
from db.models import ChatRow, SubscriptionRow
from db.session import create_sessionmaker, unit_of_work

TOKEN = "1:bench"
FIRST_CHAT = 50_000_000  # positive ids: private chats
SEED_CHUNK = 200_000
SAMPLE_INTERVAL = 0.2
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
GOAL_MB = 200


def rss_mb() -> float:
    """The current resident set, from /proc (ru_maxrss only ever grows)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_mb() -> float:
    """The peak resident set so far (ru_maxrss is in kilobytes on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Memory:
    """Current RSS sampled throughout, its largest value per phase."""

    phase: str = "start"
    highest: dict[str, float] = field(default_factory=dict)

    async def sample(self) -> None:
        """Sample until cancelled."""
        while True:
            self.note()
            await asyncio.sleep(SAMPLE_INTERVAL)

    def note(self) -> None:
        """Record one sample for the current phase."""
        now = rss_mb()
        self.highest[self.phase] = max(self.highest.get(self.phase, 0.0), now)


@dataclass
class Timed:
    """Rows handled by one deliverer step and the seconds spent in it."""

    rows: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Rows per second spent in the step."""
        return self.rows / self.seconds if self.seconds else 0.0


def numbers(dialect: str, start: int, stop: int) -> Select[Any]:
    """The integers start … stop - 1 as a one-column select `n`, made by the database."""
    if dialect == "postgresql":
        series = func.generate_series(start, stop - 1).table_valued("n").render_derived("seq")
        return select(series.c.n)
    seq = select(literal(start).label("n")).cte("seq", recursive=True)
    seq = seq.union_all(select(seq.c.n + 1).where(seq.c.n + 1 < stop))
    return select(seq.c.n)


async def seed(sessionmaker: async_sessionmaker[AsyncSession], chats: int) -> int:
    """Store `chats` private chats subscribed to every topic, and one article; its id."""
    now = datetime.now(UTC)
    for start in range(0, chats, SEED_CHUNK):
        stop = min(start + SEED_CHUNK, chats)
        async with unit_of_work(sessionmaker) as session:
            dialect = session.get_bind().dialect.name
            n = numbers(dialect, FIRST_CHAT + start, FIRST_CHAT + stop).subquery()
            rows = select(
                n.c.n,
                literal("private"),
                literal("en"),
                literal(True),
                literal(now, ChatRow.__table__.c.joined_at.type),
            )
            await session.execute(
                insert(ChatRow).from_select(
                    ["chat_id", "kind", "language", "active", "joined_at"], rows
                )
            )
            await session.execute(
                insert(SubscriptionRow).from_select(
                    ["chat_id", "topic"],
                    select(n.c.n, literal("*")),
                )
            )
    async with unit_of_work(sessionmaker) as session:
        (stored,) = await store_sources(
            session=session,
            sources=load_sources([str(SAMPLES / "en-night-buses.md")]),
            target=1200,
            now=utcnow(),
        )
    return stored.article_id


def timed(step: Callable[..., Awaitable[Any]], into: Timed, rows: Callable[[Any], int]) -> Any:
    """Wrap a deliverer step: count its rows and the seconds spent in it."""

    async def wrapper(*args: Any) -> Any:
        started = time.perf_counter()
        result = await step(*args)
        into.seconds += time.perf_counter() - started
        into.rows += rows(result if result is not None else args)
        return result

    return wrapper


async def measure(
    database_url: str,
    chats: int,
    deliver: int,
    concurrency: int,
    batch_size: int,
    trace: bool,
) -> None:
    """Seed, fan out, deliver; print the figures of one database."""
    memory = Memory()
    sampler = asyncio.create_task(memory.sample())
    name = database_url.split(":", 1)[0].split("+", 1)[0]
    try:
        memory.phase = "seed"
        await fresh_database(database_url)
        # The bot's engine: on SQLite its commits leave WAL checkpoints to a checkpointer.
        async with bot_engine(database_url) as (engine, _checkpointer):
            sessionmaker = create_sessionmaker(engine)
            started = time.perf_counter()
            article_id = await seed(sessionmaker, chats)
            print(f"{name}: seeded {chats:,} chats in {time.perf_counter() - started:.1f} s")
            after_seed = peak_mb()

            memory.phase = "fan-out"
            memory.note()
            started = time.perf_counter()
            now = utcnow()
            async with unit_of_work(sessionmaker) as session:
                row = await broadcasts.create_broadcast(
                    session=session, article_id=article_id, due_at=now, now=now
                )
                queued = await broadcasts.start_broadcast(
                    session=session, broadcast_id=row.id, now=now
                )
            fan_out = time.perf_counter() - started
            assert queued == chats, queued
            print(f"{name}: fan-out of {queued:,} deliveries in {fan_out:.2f} s")
            if upkeep.needs_analyze(engine.dialect.name, queued):
                # What the scheduler does after a large fan-out on PostgreSQL.
                started = time.perf_counter()
                async with unit_of_work(sessionmaker) as session:
                    await upkeep.analyze_deliveries(session=session)
                print(f"{name}: ANALYZE deliveries in {time.perf_counter() - started:.2f} s")
            after_fan_out = peak_mb()

            memory.phase = "delivery"
            memory.note()
            claims, records = Timed(), Timed()
            target = deliver or chats
            recorded = 0
            steps = [target * k // 10 for k in range(1, 11)]
            progress: list[str] = []
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None, language="en", paid_broadcast=True, rate=PAID_RATE_CEILING
            )
            async with ExtBot(
                TOKEN, request=InstantTelegram(), rate_limiter=Pacer(rate=None, paid_rate=None)
            ) as bot:
                deliverer = Deliverer.for_settings(
                    settings,
                    bot=bot,
                    sessionmaker=sessionmaker,
                    clock=utcnow,
                    concurrency=concurrency,
                    batch_size=batch_size,
                )

                def count(batch: Any) -> None:
                    nonlocal recorded
                    recorded += len(batch)
                    if steps and recorded >= steps[0]:
                        while steps and recorded >= steps[0]:
                            steps.pop(0)
                        progress.append(f"{recorded:,}: {rss_mb():.0f} MB")
                    if recorded >= target:
                        deliverer.stop()

                deliverer.on_recorded = count
                deliverer._claim = timed(  # type: ignore[method-assign]
                    deliverer._claim, claims, lambda result: result[0]
                )
                deliverer._record = timed(  # type: ignore[method-assign]
                    deliverer._record, records, lambda args: len(args[0])
                )
                if trace:
                    tracemalloc.start(10)
                started = time.perf_counter()
                await deliverer.run(idle_interval=0.05)
                seconds = time.perf_counter() - started
                if trace:
                    snapshot = tracemalloc.take_snapshot()
                    tracemalloc.stop()
            memory.note()
            print(
                f"{name}: delivered {recorded:,} in {seconds:.1f} s = {recorded / seconds:,.0f} "
                f"sends/s; claims {claims.rate:,.0f}/s ({claims.rows:,} in {claims.seconds:.1f} s "
                f"of claim steps); outcomes {records.rate:,.0f}/s ({records.rows:,} in "
                f"{records.seconds:.1f} s of record steps)"
            )
            print(f"{name}: current RSS after each tenth of the delivery: {'; '.join(progress)}")
    finally:
        sampler.cancel()
    peak = peak_mb()
    highs = ", ".join(f"{phase} {mb:.0f} MB" for phase, mb in memory.highest.items())
    print(
        f"{name}: peak RSS {peak:.0f} MB (goal ≤ {GOAL_MB} MB; {after_seed:.0f} MB after the "
        f"seed, {after_fan_out:.0f} MB after the fan-out); current RSS highest by phase: {highs}"
    )
    print(
        f"broadcast scale, {name}, {chats:,} chats: fan-out {fan_out:.2f} s; "
        f"claims {claims.rate:,.0f}/s; outcomes {records.rate:,.0f}/s; "
        f"sends {recorded / seconds:,.0f}/s; peak RSS {peak:.0f} MB"
    )
    if trace:
        print(f"{name}: largest live allocations at the end of the delivery, by line:")
        for stat in snapshot.statistics("lineno")[:15]:
            print(f"  {stat.size / 2**20:8.1f} MB  {stat.count:>9,}  {stat.traceback[0]}")


def main() -> None:
    """Parse the arguments; run each database in a process of its own."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=1_000_000)
    parser.add_argument("--deliver", type=int, default=100_000, help="0: the whole broadcast")
    parser.add_argument("--concurrency", type=int, default=16, help="sends in flight")
    parser.add_argument("--batch-size", type=int, default=200, help="claims per round")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--database-url", action="append", default=None)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        (url,) = args.database_url
        asyncio.run(
            measure(
                url,
                args.chats,
                args.deliver,
                args.concurrency,
                args.batch_size,
                args.tracemalloc,
            )
        )
        return
    with tempfile.TemporaryDirectory() as folder:
        urls = args.database_url or [f"sqlite+aiosqlite:///{Path(folder) / 'scale.db'}"]
        for url in urls:
            command = [sys.executable, __file__, "--one", "--database-url", url]
            command += ["--chats", str(args.chats), "--deliver", str(args.deliver)]
            command += ["--concurrency", str(args.concurrency)]
            command += ["--batch-size", str(args.batch_size)]
            if args.tracemalloc:
                command.append("--tracemalloc")
            subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
