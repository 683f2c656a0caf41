"""Database fixtures: each database test runs on SQLite and, when configured, on PostgreSQL.

Load them from tests/conftest.py with

    pytest_plugins = ["tests.integration.db_fixtures"]

(the modules in tests/integration that need them also list the plugin themselves, which is harmless
once conftest does).

Set NEWSBOT_TEST_DATABASE_URL (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test) to run
every database test on PostgreSQL too. That database is wiped before each test: its schema
`public` is dropped with everything in it and created again.

Fixtures:
- `database_url`: the URL of an empty database, with ids "sqlite" and "postgresql".
- `sessionmaker`: an async_sessionmaker on that database, migrated to head.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from db.migrate import upgrade
from db.session import create_engine, create_sessionmaker

POSTGRESQL_URL_VARIABLE = "NEWSBOT_TEST_DATABASE_URL"
_SQLITE = "sqlite"


def _database_params() -> list[object]:
    """SQLite always; PostgreSQL when its URL is in the environment."""
    params: list[object] = [pytest.param(_SQLITE, id="sqlite")]
    postgresql_url = os.environ.get(POSTGRESQL_URL_VARIABLE)
    if postgresql_url:
        params.append(pytest.param(postgresql_url, id="postgresql"))
    return params


async def reset_postgresql(url: str) -> None:
    """Drop and re-create the schema public, leaving an empty database."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(params=_database_params())
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a SQLite file in tmp_path, or the wiped PostgreSQL one."""
    param = request.param
    assert isinstance(param, str)
    if param == _SQLITE:
        return f"sqlite+aiosqlite:///{tmp_path / 'newsbot.db'}"
    await reset_postgresql(param)
    return param


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A sessionmaker on the database migrated to head; the engine is disposed afterwards."""
    # Alembic's command API runs its own event loop, which cannot nest inside this one.
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()
