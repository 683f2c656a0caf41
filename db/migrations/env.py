"""Alembic environment: runs the migrations through an async engine (SQLite or PostgreSQL).

The database URL is not read from an ini file: `db.migrate` builds the Config in code and sets
`sqlalchemy.url` on it.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from db.migrate import migration_lock
from db.models import Base, UTCDateTime, schema_filters
from db.session import SQLITE_BUSY_TIMEOUT_MS

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    """Return the database URL set on the Alembic Config."""
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url on the Alembic Config (see db.migrate)")
    return url


def _render_item(type_: str, obj: object, _context: AutogenContext) -> str | Literal[False]:
    """Render UTCDateTime as the column type it stores, so migrations never import db.models."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    """Emit the migrations as SQL text instead of running them (`sql=True` in the command API)."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        render_item=_render_item,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
        **schema_filters("sqlite" if url.startswith("sqlite") else "postgresql"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_migrations(connection: Connection) -> None:
    """Run the migrations on a synchronous connection (inside run_sync)."""
    # Several processes may start on one fresh database: one migrates, the others wait here and
    # then find the version table at head (instead of "table already exists").
    with migration_lock(connection):
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead. Our engine for
        # the bot turns foreign keys on; this one deliberately does not, because rebuilding a
        # table drops the old one, and with foreign keys on SQLite's DROP TABLE would cascade
        # its deletes.
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_item=_render_item,
            render_as_batch=connection.dialect.name == "sqlite",
            # The search index lives partly outside the models (db.models.in_schema).
            **schema_filters(connection.dialect.name),
        )
        with context.begin_transaction():
            context.run_migrations()


async def _run_async_migrations() -> None:
    """Open an async engine, run the migrations through it, and dispose of it."""
    url = _url()
    # A running bot may hold SQLite's write lock for a moment: wait as long as the bot's own
    # connections do, not the sqlite3 module's 5 s.
    options = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000} if url.startswith("sqlite") else {}
    engine = create_async_engine(url, poolclass=NullPool, connect_args=options)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(_run_async_migrations())
