"""Store functions that make updates act once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import store_sources
from bot.newsroom.sources import load_sources
from db import broadcasts, updates
from db.session import unit_of_work
from tests.texts import SAMPLES

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
BIG_ID = 2**40  # update ids need not fit in 32 bits


async def test_an_update_is_new_once(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with unit_of_work(sessionmaker) as session:
        assert await updates.remember_update(session=session, update_id=BIG_ID, now=NOW)
        assert not await updates.remember_update(session=session, update_id=BIG_ID, now=NOW)
    async with unit_of_work(sessionmaker) as session:
        assert not await updates.remember_update(session=session, update_id=BIG_ID, now=NOW)
        assert await updates.remember_update(session=session, update_id=BIG_ID + 1, now=NOW)


async def test_two_sessions_at_once_let_one_take_the_update(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async def take() -> bool:
        async with unit_of_work(sessionmaker) as session:
            return await updates.remember_update(session=session, update_id=7, now=NOW)

    assert sorted(await asyncio.gather(take(), take(), take())) == [False, False, True]


async def test_update_ids_older_than_the_cutoff_are_forgotten(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessionmaker) as session:
        for hours, update_id in ((30, 1), (25, 2), (2, 3)):
            await updates.remember_update(
                session=session, update_id=update_id, now=NOW - timedelta(hours=hours)
            )
    async with unit_of_work(sessionmaker) as session:
        cutoff = NOW - timedelta(days=1)
        assert await updates.forget_handled_updates(session=session, before=cutoff) == 2
        assert await updates.forget_handled_updates(session=session, before=cutoff) == 0
    async with unit_of_work(sessionmaker) as session:
        assert await updates.remember_update(session=session, update_id=1, now=NOW)
        assert not await updates.remember_update(session=session, update_id=3, now=NOW)


async def test_one_message_makes_one_broadcast(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessionmaker) as session:
        (stored,) = await store_sources(
            session=session,
            sources=load_sources([str(SAMPLES / "en-night-buses.md")]),
            target=1200,
            now=utcnow(),
        )
    article = stored.article_id
    async with unit_of_work(sessionmaker) as session:
        first, created = await updates.create_broadcast_once(
            session=session,
            chat_id=7007,
            message_id=5,
            article_id=article,
            due_at=NOW,
            now=utcnow(),
        )
        assert created
        again, created_again = await updates.create_broadcast_once(
            session=session,
            chat_id=7007,
            message_id=5,
            article_id=article,
            due_at=NOW + timedelta(hours=1),
            now=utcnow(),
        )
        assert not created_again and again.id == first.id and again.due_at == NOW
        # The same message id in another chat is another message.
        other, created_other = await updates.create_broadcast_once(
            session=session,
            chat_id=7008,
            message_id=5,
            article_id=article,
            due_at=NOW,
            now=utcnow(),
        )
        assert created_other and other.id != first.id
        # Broadcasts from the command line have no message; any number of them.
        for _ in range(2):
            await broadcasts.create_broadcast(
                session=session, article_id=article, due_at=NOW, now=utcnow()
            )
    async with unit_of_work(sessionmaker) as session:
        found = await updates.broadcast_from_message(session=session, chat_id=7007, message_id=5)
        assert found is not None and found.id == first.id
        assert len(await broadcasts.list_broadcasts(session=session)) == 4
    # The database itself refuses a second broadcast for one message.
    with pytest.raises(IntegrityError):
        async with unit_of_work(sessionmaker) as session:
            row = await broadcasts.create_broadcast(
                session=session, article_id=article, due_at=NOW, now=utcnow()
            )
            row.source_chat_id, row.source_message_id = 7007, 5
            await session.flush()
