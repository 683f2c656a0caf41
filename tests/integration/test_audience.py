"""The fan-out's choices in the store, on each database: chats from before editions keep every
language, a quiet hold across a DST change, and `newsbot publish --breaking`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from bot.cli import app
from bot.newsroom.ingest import store_sources
from bot.newsroom.sources import load_sources
from db import broadcasts, store
from db.migrate import upgrade
from db.models import BroadcastRow, ChatRow, DeliveryRow
from db.session import create_engine, create_sessionmaker, unit_of_work
from tests.texts import SAMPLES

pytest_plugins = ["tests.integration.db_fixtures"]


async def test_chats_from_before_editions_keep_every_language(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url, "0004")
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO chats (chat_id, kind, language, active, joined_at) "
                    "VALUES (1, 'private', 'ar', (1 = 1), :now)"
                ),
                {"now": datetime(2026, 1, 1, tzinfo=UTC)},
            )
    finally:
        await engine.dispose()
    await asyncio.to_thread(upgrade, database_url)
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT edition, digest, cap_used, quiet_silent FROM chats")
                )
            ).one()
    finally:
        await engine.dispose()
    assert (row.edition, row.digest, row.cap_used, bool(row.quiet_silent)) == (
        "all",
        "off",
        0,
        False,
    )


async def _reader(session: AsyncSession, chat_id: int, **settings: object) -> None:
    await store.ensure_chat(
        session=session,
        chat_id=chat_id,
        kind="private",
        telegram_language="en",
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    await store.subscribe(session=session, chat_id=chat_id, topic=None)
    chat = await session.get(ChatRow, chat_id)
    assert chat is not None
    for name, value in settings.items():
        setattr(chat, name, value)


async def test_a_quiet_night_in_berlin_ends_at_the_clock_change(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # 2026-03-29 00:30 in Berlin; at 02:00 the clocks jump to 03:00, past the 02:30 end.
    now = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    async with unit_of_work(sessionmaker) as session:
        await _reader(session, 1, timezone="Europe/Berlin", quiet_start=23 * 60, quiet_end=150)
        await _reader(session, 2, timezone="Europe/Berlin", quiet_start=23 * 60, quiet_end=7 * 60)
        await _reader(session, 3, quiet_start=23 * 60, quiet_end=7 * 60)  # UTC: 23:30 is quiet
        await _reader(session, 4, quiet_start=1 * 60, quiet_end=7 * 60)  # not quiet yet
        (stored,) = await store_sources(
            session=session,
            sources=load_sources([str(SAMPLES / "en-night-buses.md")]),
            target=1200,
            now=now,
        )
        row = await broadcasts.create_broadcast(
            session=session, article_id=stored.article_id, due_at=now, now=now
        )
        assert (
            await broadcasts.start_broadcast(
                session=session, broadcast_id=row.id, now=now, zone="UTC"
            )
            == 4
        )
    async with unit_of_work(sessionmaker) as session:
        held = {
            d.chat_id: d.not_before
            for d in await session.scalars(select(DeliveryRow).order_by(DeliveryRow.chat_id))
        }
    assert held == {
        1: datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # the jump from 02:00 to 03:00
        2: datetime(2026, 3, 29, 5, 0, tzinfo=UTC),  # 07:00 summer time
        3: datetime(2026, 3, 29, 7, 0, tzinfo=UTC),
        4: None,
    }


def test_publish_breaking_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", str(SAMPLES / "en-night-buses.md")])
    assert ingested.exit_code == 0, ingested.stderr
    published = runner.invoke(app, ["publish", "1", "--breaking"])
    assert published.exit_code == 0, published.stderr
    assert published.stdout.startswith("breaking broadcast #1: article 1")
    plain = runner.invoke(app, ["publish", "1"])
    assert plain.stdout.startswith("broadcast #2: article 1")

    async def flags() -> list[bool]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
        try:
            async with unit_of_work(create_sessionmaker(engine)) as session:
                rows = await session.scalars(select(BroadcastRow).order_by(BroadcastRow.id))
                return [row.breaking for row in rows]
        finally:
            await engine.dispose()

    assert asyncio.run(flags()) == [True, False]
