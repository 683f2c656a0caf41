"""The newsroom's use cases on each database: broadcasts scheduled, cancelled, listed and counted,
and articles stored one unit of work each with a push for the new ones.

The chat, the command line and the sandbox panel word these results; here they are data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.newsroom import broadcasts, refusals
from bot.newsroom.broadcasts import SourceMessage
from bot.newsroom.ingest import Rendered, prepare_sources, store_and_push, store_sources
from bot.newsroom.sources import load_sources
from content.article import Article
from db import broadcasts as outbox
from db import store
from db.session import unit_of_work
from tests.texts import SAMPLES

Sessionmaker = async_sessionmaker[AsyncSession]
NOW = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)
ZONE = "Asia/Riyadh"  # UTC+3 all year
OPERATOR = 7007


async def add_article(sessionmaker: Sessionmaker, name: str = "en-night-buses.md") -> int:
    async with unit_of_work(sessionmaker) as session:
        (stored,) = await store_sources(
            session=session,
            sources=load_sources([str(SAMPLES / name)]),
            target=1200,
            now=NOW,
        )
    return stored.article_id


async def add_readers(sessionmaker: Sessionmaker, count: int) -> None:
    async with unit_of_work(sessionmaker) as session:
        for chat_id in range(1, count + 1):
            await store.ensure_chat(
                session=session,
                chat_id=chat_id,
                kind="private",
                telegram_language="en",
                now=NOW,
            )
            await store.subscribe(session=session, chat_id=chat_id, topic=None)


async def schedule(
    sessionmaker: Sessionmaker,
    article_id: int,
    when: str = "now",
    *,
    topic: str | None = None,
    created_by: int | None = None,
    source: SourceMessage | None = None,
) -> broadcasts.Scheduled:
    async with unit_of_work(sessionmaker) as session:
        return await broadcasts.schedule(
            session=session,
            article_id=article_id,
            when=when,
            now=NOW,
            zone=ZONE,
            topic=topic,
            created_by=created_by,
            source=source,
        )


async def broadcast_count(sessionmaker: Sessionmaker) -> int:
    async with unit_of_work(sessionmaker, read_only=True) as session:
        return len(await outbox.list_broadcasts(session=session, limit=100))


async def test_schedule_reads_when_in_the_zone_and_normalises_the_topic(
    sessionmaker: Sessionmaker,
) -> None:
    article = await add_article(sessionmaker)
    scheduled = await schedule(
        sessionmaker, article, "tomorrow 08:00", topic=" #Sport ", created_by=OPERATOR
    )
    row = scheduled.broadcast
    assert scheduled.created
    assert (row.article_id, row.topic, row.status, row.created_by) == (
        article,
        "sport",
        "scheduled",
        OPERATOR,
    )
    # 08:00 in Riyadh (UTC+3) on the day after NOW.
    assert row.due_at == datetime(2030, 3, 5, 5, 0, tzinfo=UTC)


async def test_schedule_refusals_come_in_order_and_schedule_nothing(
    sessionmaker: Sessionmaker,
) -> None:
    article = await add_article(sessionmaker)
    with pytest.raises(refusals.BadWhen) as bad_when:
        await schedule(sessionmaker, 999, "25:00", topic="#")
    assert bad_when.value.error.code == "bad_time"
    with pytest.raises(refusals.BadWhen) as past:
        await schedule(sessionmaker, article, "2001-01-01 10:00")
    assert past.value.error.code == "past"
    with pytest.raises(refusals.NoArticle) as no_article:
        await schedule(sessionmaker, 999, "in 2h", topic="#")
    assert no_article.value.article_id == 999
    for empty in ("#", "  ", "##"):
        with pytest.raises(refusals.BadTopic) as bad_topic:
            await schedule(sessionmaker, article, "in 2h", topic=empty)
        assert bad_topic.value.topic == empty
    assert await broadcast_count(sessionmaker) == 0


async def test_the_same_source_message_gets_its_broadcast_back(
    sessionmaker: Sessionmaker,
) -> None:
    article = await add_article(sessionmaker)
    message = SourceMessage(chat_id=OPERATOR, message_id=41)
    first = await schedule(sessionmaker, article, "18:00", source=message)
    # Asked again, even with words that would now be refused, it is the same broadcast.
    again = await schedule(sessionmaker, article, "25:00", source=message)
    other = await schedule(
        sessionmaker, article, "18:00", source=SourceMessage(chat_id=OPERATOR, message_id=42)
    )
    assert first.created and not again.created and other.created
    assert again.broadcast.id == first.broadcast.id != other.broadcast.id
    assert await broadcast_count(sessionmaker) == 2


async def test_cancel_drops_the_unsent_and_says_why_it_cannot(
    sessionmaker: Sessionmaker,
) -> None:
    article = await add_article(sessionmaker)
    await add_readers(sessionmaker, 3)
    running = (await schedule(sessionmaker, article)).broadcast.id
    async with unit_of_work(sessionmaker) as session:
        assert await outbox.start_broadcast(session=session, broadcast_id=running, now=NOW) == 3
    waiting = (await schedule(sessionmaker, article, "in 2h")).broadcast.id

    async with unit_of_work(sessionmaker) as session:
        assert await broadcasts.cancel(session=session, broadcast_id=running, now=NOW) == 3
        assert await broadcasts.cancel(session=session, broadcast_id=waiting, now=NOW) == 0
    for broadcast_id in (running, waiting):
        with pytest.raises(refusals.NotOpen) as not_open:
            async with unit_of_work(sessionmaker) as session:
                await broadcasts.cancel(session=session, broadcast_id=broadcast_id, now=NOW)
        assert (not_open.value.broadcast_id, not_open.value.status) == (broadcast_id, "cancelled")
    with pytest.raises(refusals.NoBroadcast) as missing:
        async with unit_of_work(sessionmaker) as session:
            await broadcasts.cancel(session=session, broadcast_id=99, now=NOW)
    assert missing.value.broadcast_id == 99

    async with unit_of_work(sessionmaker, read_only=True) as session:
        progress = await broadcasts.progress(session=session, broadcast_id=running)
    assert (progress.broadcast.status, progress.dropped, progress.queued) == ("cancelled", 3, 0)


async def test_newest_and_progress_default_to_the_newest_broadcast(
    sessionmaker: Sessionmaker,
) -> None:
    async with unit_of_work(sessionmaker, read_only=True) as session:
        assert await broadcasts.newest(session=session, limit=10) == []
        with pytest.raises(refusals.NoBroadcastsYet):
            await broadcasts.progress(session=session)
    article = await add_article(sessionmaker)
    await add_readers(sessionmaker, 2)
    ids = [
        (await schedule(sessionmaker, article, f"in {hours}h")).broadcast.id for hours in (1, 2, 3)
    ]
    async with unit_of_work(sessionmaker) as session:
        await outbox.start_broadcast(session=session, broadcast_id=ids[-1], now=NOW)

    async with unit_of_work(sessionmaker, read_only=True) as session:
        listed = await broadcasts.newest(session=session, limit=2)
        newest = await broadcasts.progress(session=session)
        oldest = await broadcasts.progress(session=session, broadcast_id=ids[0])
        with pytest.raises(refusals.NoBroadcast) as missing:
            await broadcasts.progress(session=session, broadcast_id=99)
    assert [p.broadcast.id for p in listed] == [ids[2], ids[1]]
    assert (listed[0].queued, listed[1].queued) == (2, 0)
    assert (newest.broadcast.id, newest.queued, newest.broadcast.target_count) == (ids[2], 2, 2)
    assert (oldest.broadcast.id, oldest.broadcast.status) == (ids[0], "scheduled")
    assert missing.value.broadcast_id == 99


def sample_articles() -> list[Rendered]:
    """Four articles in this order: English, English, Arabic (the feed's two), Arabic."""
    names = ("en-night-buses.md", "en-feed.xml", "ar-solar-station.txt")
    rendered = prepare_sources(load_sources([str(SAMPLES / n) for n in names]), [], 1200)
    assert [item.article.language for item in rendered] == ["en", "en", "ar", "ar"]
    return rendered


async def article_count(sessionmaker: Sessionmaker) -> int:
    async with unit_of_work(sessionmaker, read_only=True) as session:
        return len(await store.list_articles(session=session, limit=100))


async def test_store_and_push_commits_article_by_article(sessionmaker: Sessionmaker) -> None:
    visible: list[int] = []
    async for item in store_and_push(
        lambda: unit_of_work(sessionmaker), sample_articles(), clock=lambda: NOW
    ):
        assert item.stored.created and item.broadcast_id is None and not item.held_back
        # Another session sees each article as soon as it is handed over, before the next.
        visible.append(await article_count(sessionmaker))
    assert visible == [1, 2, 3, 4]
    assert await broadcast_count(sessionmaker) == 0


async def test_store_and_push_pushes_new_articles_by_the_rule_and_up_to_the_cap(
    sessionmaker: Sessionmaker,
) -> None:
    due = NOW + timedelta(hours=2)

    def english_only(article: Article) -> datetime | None:
        return due if article.language == "en" else None

    first = [
        item
        async for item in store_and_push(
            lambda: unit_of_work(sessionmaker),
            sample_articles(),
            clock=lambda: NOW,
            push_at=english_only,
            max_pushes=1,
        )
    ]
    assert [(i.broadcast_id is not None, i.held_back) for i in first] == [
        (True, False),  # English: pushed
        (False, True),  # English, but over the cap of one push
        (False, False),  # Arabic: the rule says no push
        (False, False),
    ]
    async with unit_of_work(sessionmaker, read_only=True) as session:
        (row,) = await outbox.list_broadcasts(session=session)
    assert (row.id, row.article_id, row.due_at) == (
        first[0].broadcast_id,
        first[0].stored.article_id,
        due,
    )

    # Stored before: neither stored nor pushed again, however the rule reads.
    again = [
        item
        async for item in store_and_push(
            lambda: unit_of_work(sessionmaker),
            sample_articles(),
            clock=lambda: NOW,
            push_at=lambda _: NOW,
        )
    ]
    assert [i.stored.article_id for i in again] == [i.stored.article_id for i in first]
    assert not any(i.stored.created or i.broadcast_id or i.held_back for i in again)
    assert await broadcast_count(sessionmaker) == 1
