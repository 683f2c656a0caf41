"""Alembic migrations: the stairway test and the migrated schema against the models."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from db.migrate import alembic_config, downgrade, upgrade
from db.models import Base, in_schema, schema_filters

pytest_plugins = ["tests.integration.db_fixtures"]


async def _run_sync_on(url: str, function: Any) -> Any:
    """Run function(sync_connection) on a fresh engine and return its result."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(function)
    finally:
        await engine.dispose()


def _tables(connection: Connection) -> set[str]:
    """The tables in the database, without Alembic's own and SQLite's full-text index."""
    names = set(inspect(connection).get_table_names()) - {"alembic_version"}
    return {name for name in names if in_schema(name, "table", connection.dialect.name)}


def _schema_differences(connection: Connection) -> list[Any]:
    """What autogenerate would change to make the database match the models."""
    opts = {"compare_type": True, **schema_filters(connection.dialect.name)}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, Base.metadata))


async def test_stairway(database_url: str) -> None:
    """Every revision upgrades, downgrades to the previous one and upgrades again."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    revisions = list(reversed(list(script.walk_revisions())))
    assert revisions, "no migrations found"
    for revision in revisions:
        previous = revision.down_revision
        assert previous is None or isinstance(previous, str), "branches are not expected"
        await asyncio.to_thread(upgrade, database_url, revision.revision)
        await asyncio.to_thread(downgrade, database_url, previous or "base")
        await asyncio.to_thread(upgrade, database_url, revision.revision)


async def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    """Head, then base (no tables left), then head again, with every model's table."""
    await asyncio.to_thread(upgrade, database_url)
    assert await _run_sync_on(database_url, _tables) == set(Base.metadata.tables)
    await asyncio.to_thread(downgrade, database_url, "base")
    assert await _run_sync_on(database_url, _tables) == set()
    await asyncio.to_thread(upgrade, database_url)
    assert await _run_sync_on(database_url, _tables) == set(Base.metadata.tables)


async def test_migrated_schema_matches_models(database_url: str) -> None:
    """Autogenerate finds nothing to change after upgrading to head."""
    await asyncio.to_thread(upgrade, database_url)
    assert await _run_sync_on(database_url, _schema_differences) == []
