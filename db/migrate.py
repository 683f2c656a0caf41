"""Upgrade or downgrade a database with the Alembic migrations shipped inside this package.

Both functions are synchronous: Alembic's command API runs the async migration environment with
`asyncio.run`, which cannot run inside an event loop that is already running. From async code:

    await asyncio.to_thread(upgrade, url)

Every CLI command and `newsbot run` upgrade first, so several may start on one fresh database at
once: the migration environment holds `migration_lock` while it migrates, and whoever comes
second finds the work done.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# A PostgreSQL advisory lock key of our own: one more than the delivery lock's (db.lock).
MIGRATION_LOCK_KEY = 0x6E657773626F75


def alembic_config(url: str) -> Config:
    """Build the Alembic Config in code: no ini file, so it works from an installed package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The Config is a ConfigParser: a percent-encoded password ("%40") must be escaped as "%%".
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at url to revision (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Downgrade the database at url to revision ("base" removes every table)."""
    command.downgrade(alembic_config(url), revision)


def migration_lock_path(database: str) -> str:
    """The file beside a SQLite database that migrating processes lock."""
    return f"{database}.migrate.lock"


@contextlib.contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Hold, on this connection's database, the lock that lets one process at a time migrate.

    Waits as long as another process migrates. PostgreSQL: a session-level advisory lock on the
    migration's own connection. SQLite: an exclusive flock on a file beside the database. Both
    are released by the server or the kernel if the process dies.
    """
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        # The lock outlives this transaction; committing leaves Alembic a clean connection.
        connection.commit()
        try:
            yield
        finally:
            # Closing the connection would release it too; a failed unlock is no reason to fail.
            with contextlib.suppress(Exception):
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
        return
    database = connection.engine.url.database
    if dialect != "sqlite" or not database or database == ":memory:":
        yield  # no other process can see this database
        return
    descriptor = os.open(migration_lock_path(database), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the flock
