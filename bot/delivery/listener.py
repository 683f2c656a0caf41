"""Starts a broadcast the moment another process writes it, instead of at the next tick.

`newsbot publish` (or `cancel`, `correct`, an ingest with `--publish`) runs in a process of its
own; the running bot would otherwise notice its broadcast at the scheduler's next tick. A watcher
(db/signals.py: LISTEN/NOTIFY on PostgreSQL, a short poll on SQLite) calls back on each change,
and the listener runs a tick at once and wakes the Deliverer.

The tick stays the fallback: a watcher that fails is logged and tried again after a growing
pause (never in a tight loop), and meanwhile broadcasts start at the next tick as before. After
each (re)start of the watcher one tick runs, for what was written while nobody listened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bot.delivery.scheduler import BroadcastScheduler
from db.signals import Watcher

log = logging.getLogger(__name__)

RETRY_FIRST = 1.0  # seconds before a failed watcher is started again; doubles with each failure
RETRY_CAP = 60.0
CLOSE_BUDGET = 5.0  # seconds a tick in progress may take to finish on the way out


class BroadcastListener:
    """Runs a tick whenever the watcher reports a change; the periodic tick is the fallback."""

    def __init__(self, *, watcher: Watcher, scheduler: BroadcastScheduler) -> None:
        self.watcher = watcher
        self.scheduler = scheduler
        self._wanted = asyncio.Event()
        self._closing = False
        self._ready_at: float | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def listening(self) -> bool:
        """Whether the watcher is up (changes are heard at once)."""
        return self._ready_at is not None

    def start(self) -> None:
        """Start watching and reacting, in tasks of their own."""
        self._tasks = [
            asyncio.create_task(self._watch(), name="broadcast-listener"),
            asyncio.create_task(self._react(), name="broadcast-listener-tick"),
        ]

    def poke(self) -> None:
        """Ask for a tick; pokes that come while one runs make one more tick, not one each."""
        self._wanted.set()

    async def close(self) -> None:
        """Stop watching; a tick in progress finishes (within CLOSE_BUDGET)."""
        self._closing = True
        self._wanted.set()
        if self._tasks:
            self._tasks[0].cancel()  # the watcher; the reactor ends after its tick
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, CLOSE_BUDGET)

    def _ready(self) -> None:
        self._ready_at = time.monotonic()
        log.info("listening for broadcasts written by other processes")
        self.poke()

    async def _watch(self) -> None:
        failures = 0
        while not self._closing:
            try:
                await self.watcher.watch(self.poke, self._ready)
                raise RuntimeError("the watcher stopped")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # A watcher that had been up for long starts a new streak: the pause is short.
                if self._ready_at is not None and time.monotonic() - self._ready_at > RETRY_CAP:
                    failures = 0
                self._ready_at = None
                failures += 1
                delay = min(RETRY_FIRST * 2 ** (failures - 1), RETRY_CAP)
                log.warning(
                    "broadcast listener failed (%s: %s); broadcasts start at the scheduler's "
                    "tick until it is back; trying again in %.0f s",
                    type(error).__name__,
                    error,
                    delay,
                    exc_info=failures == 1,
                )
                await asyncio.sleep(delay)

    async def _react(self) -> None:
        while True:
            await self._wanted.wait()
            if self._closing:
                return
            self._wanted.clear()
            try:
                await self.scheduler.tick()
                # A cancel or a correction job needs no start, only the Deliverer's attention.
                if self.scheduler.delivering:
                    self.scheduler.deliverer.wake()
            except Exception:
                log.exception("a tick the listener asked for failed; the next tick tries again")
