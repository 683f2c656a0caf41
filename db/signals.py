"""Word between processes that the broadcasts changed, so the running bot starts one at once.

A use case that schedules or cancels a broadcast calls `announce` in its unit of work. On
PostgreSQL that is a NOTIFY, which the server delivers when (and only if) the transaction
commits: a listener that hears it reads the committed rows, and a rolled-back command says
nothing. SQLite has no notifications: its watcher polls `PRAGMA data_version` on one connection,
a number that changes only when another connection committed, and on a change compares a short
summary of the open broadcasts, so the bot's own writes (every delivery recorded) wake nobody.

A watcher only calls back; what to do, and what to do when it fails, is the caller's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from db.broadcasts import OPEN_BROADCAST_STATUSES
from db.models import BroadcastRow
from db.session import READ_ONLY

CHANNEL = "newsbot_broadcasts"
# How the listening connection shows in pg_stat_activity (unless the URL names another).
LISTENER_NAME = "newsbot-listener"
SQLITE_POLL_INTERVAL = 0.15  # seconds between two looks at PRAGMA data_version
# A connection can die without the socket saying so (a dropped route): ask it now and then.
KEEPALIVE_INTERVAL = 10.0
KEEPALIVE_TIMEOUT = 5.0
# Options of SQLAlchemy's asyncpg adapter that asyncpg.connect itself does not take.
_ADAPTER_OPTIONS = ("prepared_statement_cache_size", "prepared_statement_name_func")


class ListenerLost(ConnectionError):
    """The listening connection closed or stopped answering."""


async def announce(*, session: AsyncSession) -> None:
    """Tell running bots that broadcasts changed, once this unit of work commits.

    A no-op on SQLite, whose watcher sees every commit by itself.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(CHANNEL, "")))


class Watcher(Protocol):
    """Calls back when another process may have scheduled, started or cancelled a broadcast."""

    async def watch(self, changed: Callable[[], None], ready: Callable[[], None]) -> None:
        """Call `ready` once watching, then `changed` on each change; raises when it cannot go on.

        Changes made while nobody watched are not reported: `ready` is the caller's cue to look.
        """
        ...


class PostgresListener:
    """LISTEN on a connection of its own, outside the engine's pool."""

    def __init__(self, engine: AsyncEngine) -> None:
        _, options = engine.dialect.create_connect_args(engine.url)
        self._options: dict[str, Any] = {
            key: value for key, value in options.items() if key not in _ADAPTER_OPTIONS
        }
        settings = dict(self._options.get("server_settings") or {})
        settings.setdefault("application_name", LISTENER_NAME)
        self._options["server_settings"] = settings

    async def watch(self, changed: Callable[[], None], ready: Callable[[], None]) -> None:
        """Listen until the connection is lost; ListenerLost then (or the connect's error)."""
        connection = await asyncpg.connect(**self._options)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(CHANNEL, lambda *_notification: changed())
            ready()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), KEEPALIVE_INTERVAL)
                if not lost.is_set():
                    await asyncio.wait_for(connection.fetchval("SELECT 1"), KEEPALIVE_TIMEOUT)
            raise ListenerLost("the listening connection was closed")
        finally:
            # terminate, not close: a connection that stopped answering would not say goodbye.
            connection.terminate()


class SqliteWatcher:
    """Polls PRAGMA data_version on one read-only connection of the engine."""

    def __init__(self, engine: AsyncEngine, interval: float = SQLITE_POLL_INTERVAL) -> None:
        self._engine = engine
        self._interval = interval

    async def watch(self, changed: Callable[[], None], ready: Callable[[], None]) -> None:
        """Poll until a statement fails (its error is raised)."""
        async with self._engine.connect() as connection:
            # A deferred transaction: the watcher never waits for, nor holds, the write lock.
            await connection.execution_options(**{READ_ONLY: True})
            version, summary = await self._look(connection, None)
            ready()
            while True:
                await asyncio.sleep(self._interval)
                now, seen = await self._look(connection, version)
                if now != version:
                    version = now
                    if seen != summary:
                        summary = seen
                        changed()

    async def _look(
        self, connection: AsyncConnection, version: int | None
    ) -> tuple[int, tuple[Any, ...] | None]:
        """The data version and, when it moved, the open broadcasts' summary."""
        async with connection.begin():
            now = int(await connection.scalar(_DATA_VERSION) or 0)
            if now == version:
                return now, None
            row = (await connection.execute(_OPEN_SUMMARY)).one()
            return now, tuple(row)


_DATA_VERSION = text("PRAGMA data_version")
_OPEN_SUMMARY = select(
    func.max(BroadcastRow.id),
    func.count(),
    func.sum(BroadcastRow.id),
).where(BroadcastRow.status.in_(OPEN_BROADCAST_STATUSES))


def watcher_for(engine: AsyncEngine) -> Watcher | None:
    """The watcher for the engine's database; None for an in-memory one (no other process)."""
    if engine.dialect.name == "postgresql":
        return PostgresListener(engine)
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return SqliteWatcher(engine)
