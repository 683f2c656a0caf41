"""The delivery lock: at most one process sends broadcasts, whatever the number running.

PostgreSQL: a session-level advisory lock held on a dedicated connection; the server releases it
when that connection ends, so a killed process frees it at once. SQLite: an exclusive `flock` on
a file beside the database, which the kernel releases when the process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# Any fixed 64-bit number; it only has to differ from other applications' advisory locks.
ADVISORY_LOCK_KEY = 0x6E657773626F74  # "newsbot"


class DeliveryLock(Protocol):
    """Held by the one process that delivers."""

    @property
    def held(self) -> bool:
        """Whether this process holds the lock (as far as it last knew)."""
        ...

    async def acquire(self) -> bool:
        """Take the lock if it is free; never waits. True when held afterwards."""
        ...

    async def check(self) -> bool:
        """Confirm the lock is still held (a dropped connection loses it)."""
        ...

    async def release(self) -> None:
        """Let another process deliver."""
        ...


class AdvisoryLock:
    """PostgreSQL's pg_try_advisory_lock on a connection kept for as long as it is held."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._connection is not None

    async def acquire(self) -> bool:
        """Take the advisory lock if no other session has it."""
        if self._connection is not None:
            return True
        connection = await self._engine.connect()
        try:
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
            # Leave no transaction open on a connection that lives for hours.
            await connection.commit()
        except BaseException:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._connection = connection
        return True

    async def check(self) -> bool:
        """Ping the lock's connection; a lost connection means a lost lock."""
        if self._connection is None:
            return False
        try:
            await self._connection.execute(text("SELECT 1"))
            await self._connection.commit()
        except Exception:
            await self._drop()
            return False
        return True

    async def release(self) -> None:
        """Unlock and close the connection."""
        if self._connection is None:
            return
        with contextlib.suppress(Exception):
            await self._connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
            await self._connection.commit()
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


class FileLock:
    """An exclusive flock on `<database file>.deliver.lock`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._fd is not None

    async def acquire(self) -> bool:
        """Take the file lock if no other process has it."""
        if self._fd is not None:
            return True
        return await asyncio.to_thread(self._try_lock)

    def _try_lock(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def check(self) -> bool:
        """A flock lasts as long as the descriptor: held if taken."""
        return self._fd is not None

    async def release(self) -> None:
        """Unlock and close the file."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class ProcessLock:
    """For an in-memory database, which no other process can see."""

    def __init__(self) -> None:
        self._held = False

    @property
    def held(self) -> bool:
        """Whether this process took the lock."""
        return self._held

    async def acquire(self) -> bool:
        """Always free."""
        self._held = True
        return True

    async def check(self) -> bool:
        """Held if taken."""
        return self._held

    async def release(self) -> None:
        """Forget it."""
        self._held = False


def delivery_lock(engine: AsyncEngine) -> DeliveryLock:
    """The right kind of delivery lock for the engine's database."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    database = engine.url.database
    if not database or database == ":memory:":
        return ProcessLock()
    return FileLock(f"{database}.deliver.lock")


async def someone_delivers(engine: AsyncEngine) -> bool | None:
    """Whether another process holds the delivery lock; None when no other process could.

    Takes the lock for a moment when it is free: a bot starting then takes it on its next tick.
    """
    lock = delivery_lock(engine)
    if isinstance(lock, ProcessLock):
        return None
    if await lock.acquire():
        await lock.release()
        return False
    return True
