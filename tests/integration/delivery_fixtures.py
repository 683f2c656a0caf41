"""A delivery world for tests: the store with readers and an article, a paced bot, a Deliverer.

The bot is PTB's ExtBot with our Pacer, talking HTTP to the fake Bot API; nothing is mocked
between the Deliverer and the server.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.delivery.deliverer import BACKOFF_BASE, Deliverer
from bot.delivery.pacing import Pace, Pacer
from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import store_sources
from bot.newsroom.sources import load_sources
from bot.sandbox.botapi.server import FakeBotApi
from bot.settings import Settings
from db import broadcasts, store
from db.models import DeliveryRow
from db.session import unit_of_work
from tests.texts import SAMPLES

DELIVERY_TOKEN = "424242:delivery-test-token"


@dataclass
class DeliveryWorld:
    """The store, the fake Telegram, a paced bot and a Deliverer over them."""

    sessionmaker: async_sessionmaker[AsyncSession]
    api: FakeBotApi
    bot: ExtBot[Pace]
    pacer: Pacer
    deliverer: Deliverer

    async def add_readers(
        self, chat_ids: Iterable[int], *, topic: str | None = None, language: str = "en"
    ) -> list[int]:
        """Register chats (private for positive ids, groups for negative) and subscribe them."""
        chat_ids = list(chat_ids)
        async with unit_of_work(self.sessionmaker) as session:
            for chat_id in chat_ids:
                kind = "private" if chat_id > 0 else "group"
                await store.ensure_chat(
                    session=session,
                    chat_id=chat_id,
                    kind=kind,
                    telegram_language=language,
                    now=utcnow(),
                )
                await store.subscribe(session=session, chat_id=chat_id, topic=topic)
        return chat_ids

    async def add_article(
        self, name: str = "en-night-buses.md", topics: Iterable[str] = ()
    ) -> int:
        """Store a sample article and return its id."""
        async with unit_of_work(self.sessionmaker) as session:
            (stored,) = await store_sources(
                session=session,
                sources=load_sources([str(SAMPLES / name)]),
                topics=list(topics),
                target=1200,
                now=utcnow(),
            )
        return stored.article_id

    async def start_broadcast(self, article_id: int, *, topic: str | None = None) -> int:
        """Create a broadcast due now and fan it out; return its id."""
        now = datetime.now(UTC)
        async with unit_of_work(self.sessionmaker) as session:
            row = await broadcasts.create_broadcast(
                session=session, article_id=article_id, due_at=now, now=now, topic=topic
            )
            await broadcasts.start_broadcast(session=session, broadcast_id=row.id, now=now)
        return row.id

    async def deliver_all(self) -> None:
        """Run delivery rounds until nothing is queued (retries included)."""
        for _ in range(200):
            await self.deliverer.deliver_available()
            async with unit_of_work(self.sessionmaker) as session:
                if not await broadcasts.running_broadcast_ids(session=session):
                    return
            # Retries wait out their backoff; a later round picks them up.
            await asyncio.sleep(0.05)
        raise AssertionError("deliveries still queued after 200 rounds")

    def copies(self) -> Counter[int]:
        """How many story cards each chat received."""
        return Counter(chat_id for _, chat_id, _ in self.api.timeline)

    async def statuses(self, broadcast_id: int) -> dict[int, str]:
        """Each delivery's status, by chat."""
        async with unit_of_work(self.sessionmaker) as session:
            rows = await session.execute(
                select(DeliveryRow.chat_id, DeliveryRow.status).where(
                    DeliveryRow.broadcast_id == broadcast_id
                )
            )
            return {row.chat_id: row.status for row in rows}


def make_deliverer(
    bot: ExtBot[Pace],
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    concurrency: int,
    batch_size: int,
    backoff_base: float = BACKOFF_BASE,
) -> Deliverer:
    """The Deliverer as the bot assembles it (English by default), with the test's sizes."""
    return Deliverer.for_settings(
        Settings(_env_file=None, language="en"),  # type: ignore[call-arg]
        bot=bot,
        sessionmaker=sessionmaker,
        clock=utcnow,
        concurrency=concurrency,
        batch_size=batch_size,
        backoff_base=backoff_base,
    )


def make_bot(api: FakeBotApi, pacer: Pacer, *, read_timeout: float = 5.0) -> ExtBot[Pace]:
    """PTB's ExtBot on the fake server, paced, with short timeouts."""
    return ExtBot(
        api.token,
        base_url=f"{api.url}/bot",
        request=HTTPXRequest(connection_pool_size=64, read_timeout=read_timeout),
        rate_limiter=pacer,
    )


@pytest.fixture
async def world(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[DeliveryWorld]:
    """An unpaced world (the rate limit lifted) with the fake server in this process."""
    async with FakeBotApi(token=DELIVERY_TOKEN) as api:
        pacer = Pacer(rate=None, paid_rate=None)
        bot = make_bot(api, pacer, read_timeout=0.5)
        async with bot:
            deliverer = make_deliverer(
                bot, sessionmaker, concurrency=8, batch_size=10, backoff_base=0.05
            )
            yield DeliveryWorld(sessionmaker, api, bot, pacer, deliverer)
