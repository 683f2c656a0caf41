"""When broadcasts start: the database says what is due, APScheduler (the JobQueue) says when.

Jobs cannot be the source of truth (PTB's jobs hold the Application and cannot be persisted), so
every second a tick reads the scheduled broadcasts: due ones start, ones overdue by more than the
grace are marked missed and reported, and later ones get a date job at their due time (by id,
replacing any earlier job, so a tick repeated in any process is harmless). The tick also takes
the delivery lock when it is free: the process that holds it runs the Deliverer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import JobQueue

from bot.delivery.deliverer import Deliverer
from bot.newsroom.clock import Clock
from bot.ops import logs
from db import broadcasts, upkeep
from db.lock import DeliveryLock
from db.models import BroadcastRow
from db.session import unit_of_work

log = logging.getLogger(__name__)

TICK_INTERVAL = 1.0  # seconds: broadcasts made by another process start within this


@dataclass(frozen=True)
class Plan:
    """What to do with the scheduled broadcasts at one moment."""

    start: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    later: list[tuple[int, datetime]] = field(default_factory=list)


def plan(scheduled: Sequence[BroadcastRow], *, now: datetime, grace: timedelta) -> Plan:
    """Sort scheduled broadcasts into due now, too late to send, and later."""
    result = Plan()
    for broadcast in scheduled:
        if broadcast.due_at > now:
            result.later.append((broadcast.id, broadcast.due_at))
        elif now - broadcast.due_at > grace:
            result.missed.append(broadcast.id)
        else:
            result.start.append(broadcast.id)
    return result


def job_name(broadcast_id: int) -> str:
    """The JobQueue name and APScheduler id of a broadcast's start job."""
    return f"broadcast-{broadcast_id}"


class BroadcastScheduler:
    """Starts due broadcasts, reports missed ones, and runs the Deliverer under the lock."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        deliverer: Deliverer,
        lock: DeliveryLock,
        grace: timedelta,
        clock: Clock,
        job_queue: JobQueue[Any] | None = None,
        on_missed: Callable[[BroadcastRow], Awaitable[None]] | None = None,
        zone: str = "UTC",
    ) -> None:
        self.sessionmaker = sessionmaker
        self.zone = zone  # readers' local time where they chose no zone (NEWSBOT_TIMEZONE)
        self.deliverer = deliverer
        self.lock = lock
        self.grace = grace
        self.clock = clock
        self.job_queue = job_queue
        self.on_missed = on_missed
        self._delivering: asyncio.Task[None] | None = None
        self._tick_lock = asyncio.Lock()

    @property
    def delivering(self) -> bool:
        """Whether this process is the one that delivers."""
        return self._delivering is not None and not self._delivering.done()

    @property
    def ticking(self) -> bool:
        """Whether a tick is running (or waiting for the one that is)."""
        return self._tick_lock.locked()

    async def tick(self) -> Plan | None:
        """Take the lock if free, then start, miss or schedule broadcasts; None when not ours."""
        async with self._tick_lock:  # the repeating job and a date job may fire together
            if not await self._hold_lock():
                return None
            return await self._run_plan()

    async def _hold_lock(self) -> bool:
        if self.lock.held:
            if await self.lock.check():
                return True
            log.error("lost the delivery lock; delivery stops until it is taken again")
            await self._stop_delivering()
            return False
        if not await self.lock.acquire():
            return False
        async with unit_of_work(self.sessionmaker) as session:
            requeued = await broadcasts.requeue_claimed(session=session)
        log.info("this process delivers now; %d interrupted deliveries requeued", requeued)
        self._delivering = asyncio.create_task(self.deliverer.run(), name="deliverer")
        return True

    async def _run_plan(self) -> Plan:
        now = self.clock()
        fanned_out = 0
        async with unit_of_work(self.sessionmaker) as session:
            dialect = session.get_bind().dialect.name
            scheduled = await broadcasts.scheduled_broadcasts(session=session)
            todo = plan(scheduled, now=now, grace=self.grace)
            missed = []
            for broadcast_id in todo.missed:
                if await broadcasts.mark_missed(
                    session=session, broadcast_id=broadcast_id, now=now
                ):
                    missed.append(next(b for b in scheduled if b.id == broadcast_id))
            for broadcast_id in todo.start:
                queued = await broadcasts.start_broadcast(
                    session=session, broadcast_id=broadcast_id, now=now, zone=self.zone
                )
                fanned_out += queued or 0
                log.info(
                    "broadcast %s started: %s deliveries",
                    broadcast_id,
                    queued,
                    extra=logs.about(broadcast_id),
                )
        if todo.start:
            self.deliverer.wake()
        if upkeep.needs_analyze(dialect, fanned_out):
            await self._analyze()
        for broadcast in missed:
            log.warning(
                "broadcast %s missed (due %s)",
                broadcast.id,
                broadcast.due_at,
                extra=logs.about(broadcast.id),
            )
            if self.on_missed is not None:
                await self.on_missed(broadcast)
        self._schedule_later(todo.later)
        return todo

    async def _analyze(self) -> None:
        # After the commit, and after the wake: the first claims need not wait for it.
        try:
            async with unit_of_work(self.sessionmaker) as session:
                await upkeep.analyze_deliveries(session=session)
        except Exception as error:
            # Only the claims' speed depends on it, until autovacuum analyzes the table.
            log.warning("could not refresh the deliveries' statistics: %s", error)

    def _schedule_later(self, later: Sequence[tuple[int, datetime]]) -> None:
        if self.job_queue is None:
            return
        for broadcast_id, due_at in later:
            name = job_name(broadcast_id)
            if self.job_queue.get_jobs_by_name(name):
                continue
            self.job_queue.run_once(
                self._on_due,
                when=due_at,
                name=name,
                # A late start is still a start: the tick decides about the grace, not APScheduler.
                job_kwargs={"id": name, "replace_existing": True, "misfire_grace_time": None},
            )

    async def _on_due(self, _context: object) -> None:
        await self.tick()

    async def close(self) -> None:
        """Stop delivering (unsent claims go back to the queue) and release the lock."""
        await self._stop_delivering()
        await self.lock.release()

    async def _stop_delivering(self) -> None:
        task, self._delivering = self._delivering, None
        if task is not None:
            self.deliverer.stop()
            await task
