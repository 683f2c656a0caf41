"""Scheduling on a controlled clock, and the lock that lets one process deliver."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.scheduler import BroadcastScheduler, Plan, plan
from bot.newsroom.clock import utcnow
from db import broadcasts, upkeep
from db.lock import delivery_lock
from db.models import BroadcastRow
from db.session import unit_of_work
from tests.integration.delivery_fixtures import DeliveryWorld

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
GRACE = timedelta(hours=6)
DEADLINE = 30.0  # seconds: a generous bound that only proves delivery does not hang


class Clock:
    """A clock that moves only when told."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def engine_of(world: DeliveryWorld) -> AsyncEngine:
    """The engine behind the world's sessionmaker."""
    engine = world.sessionmaker.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return engine


def scheduler_for(world: DeliveryWorld, clock: Clock) -> tuple[BroadcastScheduler, list[int]]:
    """A scheduler on the world's store and deliverer, and the ids it reports as missed."""
    missed: list[int] = []

    async def report(broadcast: BroadcastRow) -> None:
        missed.append(broadcast.id)

    world.deliverer.clock = clock
    scheduler = BroadcastScheduler(
        sessionmaker=world.sessionmaker,
        deliverer=world.deliverer,
        lock=delivery_lock(engine_of(world)),
        grace=GRACE,
        clock=clock,
        on_missed=report,
    )
    return scheduler, missed


async def schedule(world: DeliveryWorld, article_id: int, due_at: datetime) -> int:
    async with unit_of_work(world.sessionmaker) as session:
        row = await broadcasts.create_broadcast(
            session=session, article_id=article_id, due_at=due_at, now=utcnow()
        )
    return row.id


async def status(world: DeliveryWorld, broadcast_id: int) -> str:
    async with unit_of_work(world.sessionmaker) as session:
        row = await broadcasts.get_broadcast(session=session, broadcast_id=broadcast_id)
    assert row is not None
    return row.status


async def delivered(world: DeliveryWorld, broadcast_id: int) -> None:
    """Wait for the scheduler's own deliverer to finish a broadcast.

    Delivery rounds run only in the scheduler's task, as in the bot: a test that ran rounds of
    its own beside it would exercise two rounds at once on one deliverer, which the bot never does.
    """
    async with asyncio.timeout(DEADLINE):
        # A database has no change notification to wait on, so this one wait polls.
        while await status(world, broadcast_id) != "done":  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def test_plan_sorts_due_missed_and_later() -> None:
    rows = [
        BroadcastRow(id=1, due_at=START - timedelta(minutes=5)),
        BroadcastRow(id=2, due_at=START - GRACE - timedelta(seconds=1)),
        BroadcastRow(id=3, due_at=START + timedelta(hours=1)),
        BroadcastRow(id=4, due_at=START - GRACE),
        BroadcastRow(id=5, due_at=START),
    ]
    result = plan(rows, now=START, grace=GRACE)
    assert result.start == [1, 4, 5]
    assert result.missed == [2]
    assert result.later == [(3, START + timedelta(hours=1))]


async def test_on_start_due_run_overdue_are_missed_and_future_wait(world: DeliveryWorld) -> None:
    readers = await world.add_readers([1, 2, 3])
    article_id = await world.add_article()
    clock = Clock(START)
    due = await schedule(world, article_id, START - timedelta(minutes=10))
    stale = await schedule(world, article_id, START - timedelta(hours=7))
    later = await schedule(world, article_id, START + timedelta(hours=2))
    scheduler, missed = scheduler_for(world, clock)
    try:
        result = await scheduler.tick()
        assert result is not None
        assert (result.start, result.missed) == ([due], [stale])
        assert missed == [stale]
        assert (await status(world, stale), await status(world, later)) == ("missed", "scheduled")
        await delivered(world, due)
        assert world.copies() == {chat_id: 1 for chat_id in readers}
        assert await status(world, due) == "done"

        clock.now = START + timedelta(hours=2)  # the clock reaches the later one: it starts
        result = await scheduler.tick()
        assert result is not None and result.start == [later]
        await delivered(world, later)
        assert world.copies() == {chat_id: 2 for chat_id in readers}
        assert missed == [stale]  # reported once
    finally:
        await scheduler.close()


async def test_only_one_scheduler_delivers_and_the_next_takes_over(world: DeliveryWorld) -> None:
    await world.add_readers([1, 2, 3, 4])
    article_id = await world.add_article()
    clock = Clock(datetime.now(UTC))
    first, _ = scheduler_for(world, clock)
    second, _ = scheduler_for(world, clock)
    try:
        assert await first.tick() is not None
        assert first.delivering
        assert await second.tick() is None  # it serves updates and waits
        assert not second.delivering

        # The first one dies holding claims: they are requeued by whoever takes over.
        await first.close()
        broadcast_id = await schedule(world, article_id, clock.now)
        async with unit_of_work(world.sessionmaker) as session:
            await broadcasts.start_broadcast(
                session=session, broadcast_id=broadcast_id, now=clock.now
            )
            claimed = await broadcasts.claim_deliveries(session=session, limit=2, now=clock.now)
        assert len(claimed) == 2
        assert await second.tick() is not None
        assert second.delivering
        await world.api.wait_for(lambda: len(world.api.timeline) >= 4, timeout=10)
        assert world.copies() == {1: 1, 2: 1, 3: 1, 4: 1}
    finally:
        await first.close()
        await second.close()


async def last_analyze(world: DeliveryWorld) -> object:
    """When the deliveries table was last analyzed by hand (not by autovacuum); None if never."""
    async with unit_of_work(world.sessionmaker) as session:
        return await session.scalar(
            text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'deliveries'")
        )


async def test_a_large_fan_out_refreshes_the_statistics_of_deliveries(
    world: DeliveryWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine_of(world).dialect.name != "postgresql":
        pytest.skip("SQLite's planner keeps no statistics of its own")
    monkeypatch.setattr(upkeep, "LARGE_FAN_OUT", 3)  # "large" at three rows, for a small test
    await world.add_readers([1, 2])
    article_id = await world.add_article()
    scheduler, _ = scheduler_for(world, Clock(START))
    try:
        small = await schedule(world, article_id, START)
        assert (await scheduler.tick() or Plan()).start == [small]
        assert await last_analyze(world) is None
        await world.add_readers([3, 4])
        large = await schedule(world, article_id, START)
        assert (await scheduler.tick() or Plan()).start == [large]
        # The statistics collector reports with a delay; pg_stat_force_next_flush is 15+ only.
        async with asyncio.timeout(DEADLINE):
            while await last_analyze(world) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        await delivered(world, large)
    finally:
        await scheduler.close()
