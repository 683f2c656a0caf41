"""SQLite's WAL checkpoints, taken off the bot's commits and run beside them.

By default the commit that takes the write-ahead log past 1,000 pages copies them into the
database file and syncs it before it returns: a reader's press that happened to commit then
waited 10-40 ms, which set the 99th percentile of every press (bench/read_more.py: p99 11.7 ms
with it, 8.1-8.6 ms without, at 200,000 chats). The bot's connections turn that off, and a
checkpointer copies the log every second from a connection of its own in a thread: a PASSIVE
checkpoint takes no write lock, so writers go on meanwhile. Other processes (the CLI) keep
SQLite's default, which is right for short runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from db.session import create_engine

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL = 1.0  # seconds between two checkpoints
BUSY_TIMEOUT_S = 5.0  # a checkpoint waits this long for another checkpoint to finish


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What one checkpoint found: pages in the log, and how many of them are now in the file."""

    busy: bool  # another connection held what a PASSIVE checkpoint must not wait for
    log_pages: int
    copied_pages: int


def checkpoint(path: str) -> Checkpoint:
    """Copy what the write-ahead log holds into the database file, as far as readers allow."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        busy, log_pages, copied_pages = connection.execute(
            "PRAGMA wal_checkpoint(PASSIVE)"
        ).fetchone()
    finally:
        connection.close()
    return Checkpoint(bool(busy), log_pages, copied_pages)


class Checkpointer:
    """Checkpoints one SQLite file every `interval` seconds until closed."""

    def __init__(self, path: str, interval: float = CHECKPOINT_INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self.last: Checkpoint | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in a task of its own."""
        self._task = asyncio.create_task(self._run(), name="wal-checkpoints")

    async def close(self) -> None:
        """Stop; the engine's last connection checkpoints on closing anyway."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.last = await asyncio.to_thread(checkpoint, self.path)
            except sqlite3.Error as error:
                # Tried again next time; meanwhile the log grows, and nothing else is lost.
                log.warning("WAL checkpoint of %s failed: %s", self.path, error)


@contextlib.asynccontextmanager
async def bot_engine(url: str) -> AsyncIterator[tuple[AsyncEngine, Checkpointer | None]]:
    """The engine of a running bot and its checkpointer (None where there is no write-ahead
    log to copy: PostgreSQL, an in-memory SQLite database); both closed on the way out."""
    engine = create_engine(url, checkpoint_on_commit=False)
    database = engine.url.database
    checkpointer = None
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        checkpointer = Checkpointer(database)
        checkpointer.start()
    try:
        yield engine, checkpointer
    finally:
        if checkpointer is not None:
            await checkpointer.close()
        await engine.dispose()
