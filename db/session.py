"""Engine and session setup, and the unit of work that commits or rolls back."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# How long a SQLite statement waits for another connection's write lock before "database is
# locked". Writers hold it for one short unit of work (an ingest commits article by article), so
# this is only reached when something is wrong; it is generous for a slow disk or a busy machine.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# The connection execution option that marks a SQLite transaction read-only (see _begin_sqlite).
READ_ONLY = "newsbot_read_only"


def _configure_sqlite_connection(dbapi_connection: Any, _connection_record: Any) -> None:
    """Set the per-connection SQLite pragmas the store relies on."""
    cursor = dbapi_connection.cursor()
    try:
        # The busy timeout goes first: switching to WAL itself needs a lock that another
        # connection may hold.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # WAL lets readers work while one writer writes (the bot and a feed job, two processes).
        cursor.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL never corrupts the file; it only risks the last commits on power
        # loss, and saves an fsync on every commit (every button press writes a reading).
        cursor.execute("PRAGMA synchronous = NORMAL")
        # SQLite ignores foreign keys, and so ON DELETE CASCADE, unless each connection asks.
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()
    # SQLAlchemy, not the sqlite3 module, begins every transaction (_begin_sqlite): sqlite3's
    # legacy mode only begins at the first write, so reads before it see no stable snapshot.
    dbapi_connection.isolation_level = None


def _begin_sqlite(connection: Connection) -> None:
    """Begin a SQLite transaction, holding the write lock from the start unless read-only."""
    # A deferred transaction that reads and then writes cannot wait for the write lock: in WAL
    # mode SQLite fails its first write at once with "database is locked", whatever the busy
    # timeout, when another connection holds the lock or wrote since the read. BEGIN IMMEDIATE
    # takes the lock first (waiting up to the busy timeout), so the unit of work then runs
    # without a conflict. Read-only work begins deferred and never waits: WAL readers see a
    # snapshot while a writer writes.
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def _no_checkpoint_on_commit(dbapi_connection: Any, _connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA wal_autocheckpoint = 0")
    finally:
        cursor.close()


def create_engine(url: str, *, checkpoint_on_commit: bool = True) -> AsyncEngine:
    """Create the async engine for a SQLite (aiosqlite) or PostgreSQL (asyncpg) URL.

    `checkpoint_on_commit=False` (the bot, which runs db.checkpoints.Checkpointer) leaves
    SQLite's WAL checkpoints to someone else instead of the commit that fills the log.
    """
    is_sqlite = url.startswith("sqlite")
    # A file cannot drop a connection, so only a server's connections are checked on checkout.
    engine = create_async_engine(url, pool_pre_ping=not is_sqlite)
    if is_sqlite:
        event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
        if not checkpoint_on_commit:
            event.listen(engine.sync_engine, "connect", _no_checkpoint_on_commit)
        event.listen(engine.sync_engine, "begin", _begin_sqlite)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Create the session factory; rows stay readable after commit (no expiry)."""
    return async_sessionmaker(engine, expire_on_commit=False)


# Per SQLite engine, the turn of the bot's writing units of work (see writer_turn).
_WRITER_TURNS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


def writer_turn(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AbstractAsyncContextManager[object]:
    """On SQLite, a lock that writing units of work of this process take in turn; nothing on
    PostgreSQL, whose writers do not wait for each other unless they touch the same rows.

    SQLite has one write lock, and a connection that finds it taken polls for it, sleeping
    1, 2, 5, 10… ms between tries: with 16 presses at once most of the time went to those
    sleeps. Queued here, the next writer starts the moment the last one commits.
    """
    bind = sessionmaker.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return nullcontext()
    lock = _WRITER_TURNS.get(bind.sync_engine)
    if lock is None:
        lock = _WRITER_TURNS[bind.sync_engine] = asyncio.Lock()
    return lock


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession], *, read_only: bool = False
) -> AsyncIterator[AsyncSession]:
    """Open a session; commit when the block succeeds, roll back when it raises.

    On SQLite a unit of work holds the write lock from its start; `read_only=True` (for work
    that never writes) takes no lock and is never kept waiting by a writer.
    """
    async with sessionmaker() as session:
        try:
            if read_only:
                # The option must be on the connection before its transaction begins.
                await session.connection(execution_options={READ_ONLY: True})
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
