"""Store functions on every configured database (see tests/integration/db_fixtures.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.newsroom.clock import utcnow
from content.article import Article, Block, Section
from db import store
from db.models import ArticleRow, ArticleTopicRow, ChatRow, ReadingRow, SectionRow
from db.session import unit_of_work
from tests.integration import store_helpers

pytest_plugins = ["tests.integration.db_fixtures"]

Sessionmaker = async_sessionmaker[AsyncSession]

PUBLISHED = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


def make_article(
    *,
    title: str = "Spring rain returns to the valley",
    paragraphs: tuple[str, ...] = (
        "Farmers in the valley welcomed the first heavy rain of the season on Friday.",
        "The reservoir rose by a metre overnight, the water board said.",
    ),
    url: str | None = "https://news.example/rain",
    topics: tuple[str, ...] = ("Weather", " Farming "),
    published: datetime | None = PUBLISHED,
    language: str = "en",
) -> Article:
    """A short English article; every field can be overridden."""
    return Article(
        title=title,
        blocks=(
            Block("paragraph", paragraphs[0]),
            Block("heading", "What comes next"),
            *(Block("paragraph", text) for text in paragraphs[1:]),
        ),
        language=language,
        byline="Valley Desk",
        lead="Rain is back after a dry winter.",
        topics=topics,
        url=url,
        related=("https://news.example/drought",),
        published=published,
        guid="rain-2026-03-14",
    )


def make_arabic_article(*, url: str | None = "https://news.example/ar/rain") -> Article:
    """A short Arabic article."""
    return Article(
        title="عودة الأمطار إلى الوادي",
        blocks=(
            Block(
                "paragraph", "استقبل المزارعون في الوادي أول أمطار غزيرة هذا الموسم يوم الجمعة."
            ),
            Block("paragraph", "وارتفع منسوب الخزان مترًا واحدًا خلال الليل."),
        ),
        language="ar",
        topics=("طقس", "زراعة"),
        url=url,
        published=PUBLISHED + timedelta(hours=1),
    )


def make_sections(article: Article) -> list[Section]:
    """One section per body block, numbered from 1."""
    return [
        Section(index=number, heading=None, html=f"<p>{block.text}</p>", text=block.text)
        for number, block in enumerate(article.blocks, start=1)
    ]


async def add(
    sessionmaker: Sessionmaker, article: Article, summary: str = "A summary."
) -> tuple[int, bool]:
    """Store an article in its own unit of work; return (id, created)."""
    async with unit_of_work(sessionmaker) as session:
        row, created = await store.add_article(
            session=session,
            article=article,
            sections=make_sections(article),
            summary=summary,
            now=utcnow(),
        )
        return row.id, created


async def count(sessionmaker: Sessionmaker, model: type[object]) -> int:
    """Count the rows of a model's table."""
    async with unit_of_work(sessionmaker) as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def add_chat(
    sessionmaker: Sessionmaker, chat_id: int, *, topics: tuple[str | None, ...] = ()
) -> None:
    """Create a private chat subscribed to the given topics."""
    async with unit_of_work(sessionmaker) as session:
        await store.ensure_chat(
            session=session, chat_id=chat_id, kind="private", telegram_language="en", now=utcnow()
        )
        for topic in topics:
            await store.subscribe(session=session, chat_id=chat_id, topic=topic)


def assert_utc(value: datetime | None) -> None:
    """The value is a timezone-aware datetime in UTC."""
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# Articles


async def test_add_article_stores_everything(sessionmaker: Sessionmaker) -> None:
    """Metadata, casefolded topics, ordered sections, and aware datetimes on the way back."""
    article = make_article()
    async with unit_of_work(sessionmaker) as session:
        row, created = await store.add_article(
            session=session,
            article=article,
            sections=make_sections(article),
            summary="Rain.",
            now=utcnow(),
        )
        assert created
        assert [section.index for section in row.sections] == [1, 2, 3]
        assert row.topic_names == ["farming", "weather"]
        article_id = row.id

    async with unit_of_work(sessionmaker) as session:
        stored = await store.get_article(session=session, article_id=article_id)
        assert stored is not None
        assert stored.title == article.title
        assert stored.byline == "Valley Desk"
        assert stored.lead == article.lead
        assert stored.summary == "Rain."
        assert stored.language == "en"
        assert stored.url == article.url
        assert stored.guid == "rain-2026-03-14"
        assert stored.related == ["https://news.example/drought"]
        assert stored.section_count == 3
        assert stored.topic_names == ["farming", "weather"]
        assert stored.published_at == PUBLISHED
        assert_utc(stored.published_at)
        assert_utc(stored.created_at)
        sections = await stored.awaitable_attrs.sections
        assert [section.text for section in sections] == [block.text for block in article.blocks]

        second = await store.get_section(session=session, article_id=article_id, index=2)
        assert second is not None
        assert second.text == "What comes next"
        assert await store.get_section(session=session, article_id=article_id, index=4) is None
        assert await store.get_article(session=session, article_id=article_id + 1) is None


async def test_add_arabic_article(sessionmaker: Sessionmaker) -> None:
    """Arabic text and topics round-trip unchanged."""
    article = make_arabic_article()
    article_id, created = await add(sessionmaker, article, summary="عادت الأمطار.")
    assert created
    async with unit_of_work(sessionmaker) as session:
        stored = await store.get_article(session=session, article_id=article_id)
        assert stored is not None
        assert stored.title == "عودة الأمطار إلى الوادي"
        assert stored.summary == "عادت الأمطار."
        assert stored.topic_names == sorted(["طقس", "زراعة"])
        section = await store.get_section(session=session, article_id=article_id, index=1)
        assert section is not None
        assert section.text == article.blocks[0].text


async def test_add_article_deduplicates_by_url(sessionmaker: Sessionmaker) -> None:
    """The same url with edited words is the article already stored."""
    first_id, created = await add(sessionmaker, make_article())
    assert created
    edited = make_article(title="Spring rain returns to the valley (updated)")
    second_id, created = await add(sessionmaker, edited)
    assert not created
    assert second_id == first_id
    assert await count(sessionmaker, ArticleRow) == 1


async def test_add_article_deduplicates_by_content_hash(sessionmaker: Sessionmaker) -> None:
    """The same words at another url (or none) are the article already stored."""
    first_id, _ = await add(sessionmaker, make_article())
    reshaped = make_article(
        title="  SPRING rain returns\nto the valley ",
        url="https://mirror.example/rain",
        topics=("other",),
    )
    second_id, created = await add(sessionmaker, reshaped)
    assert not created
    assert second_id == first_id
    third_id, created = await add(sessionmaker, make_article(url=None))
    assert not created
    assert third_id == first_id
    assert await count(sessionmaker, ArticleRow) == 1
    assert await count(sessionmaker, ArticleTopicRow) == 2


def open_together(sessionmaker: Sessionmaker) -> asyncio.Barrier:
    """A barrier for two units of work that should both be open before either writes."""
    # A SQLite unit of work holds the write lock from its start (BEGIN IMMEDIATE): the second
    # waits for the first to commit, so only PostgreSQL can have both open at once.
    sqlite = sessionmaker.kw["bind"].dialect.name == "sqlite"
    return asyncio.Barrier(1 if sqlite else 2)


async def test_concurrent_add_article_stores_one_row(sessionmaker: Sessionmaker) -> None:
    """Two sessions ingesting the same article at once: one row, one creator, same id."""
    article = make_article()
    both_started = open_together(sessionmaker)

    async def ingest() -> tuple[int, bool]:
        async with unit_of_work(sessionmaker) as session:
            # Both transactions are open, and neither has stored anything, before either adds.
            await session.execute(select(1))
            await both_started.wait()
            row, created = await store.add_article(
                session=session,
                article=article,
                sections=make_sections(article),
                summary="S",
                now=utcnow(),
            )
            return row.id, created

    results = await asyncio.gather(ingest(), ingest())
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0] == results[1][0]
    assert await count(sessionmaker, ArticleRow) == 1
    assert await count(sessionmaker, ArticleTopicRow) == 2
    assert await count(sessionmaker, SectionRow) == 3


async def test_add_article_rejects_bad_input(sessionmaker: Sessionmaker) -> None:
    """A naive publication time or misnumbered sections are caller errors."""
    async with unit_of_work(sessionmaker) as session:
        naive = make_article(published=datetime(2026, 3, 14, 9, 30))  # noqa: DTZ001
        with pytest.raises(ValueError, match="timezone-aware"):
            await store.add_article(
                session=session,
                article=naive,
                sections=make_sections(naive),
                summary="S",
                now=utcnow(),
            )
        article = make_article()
        with pytest.raises(ValueError, match="numbered"):
            await store.add_article(
                session=session,
                article=article,
                sections=make_sections(article)[1:],
                summary="S",
                now=utcnow(),
            )


async def test_list_articles_order_and_topics(sessionmaker: Sessionmaker) -> None:
    """Newest first by publication (or storage) time; topics filter case-insensitively."""
    old_id, _ = await add(
        sessionmaker,
        make_article(
            title="Old news",
            url="https://news.example/old",
            published=PUBLISHED - timedelta(days=2),
            topics=("Politics",),
        ),
    )
    rain_id, _ = await add(sessionmaker, make_article())
    arabic_id, _ = await add(sessionmaker, make_arabic_article())
    undated_id, _ = await add(
        sessionmaker,
        make_article(
            title="Undated", url="https://news.example/undated", published=None, topics=()
        ),
    )
    async with unit_of_work(sessionmaker) as session:
        newest = await store.list_articles(session=session)
        # Undated articles sort by when they were stored: now, after every published one.
        assert [row.id for row in newest] == [undated_id, arabic_id, rain_id, old_id]
        limited = await store.list_articles(session=session, limit=2)
        assert [row.id for row in limited] == [undated_id, arabic_id]
        weather = await store.list_articles(session=session, topics=[" WEATHER"])
        assert [row.id for row in weather] == [rain_id]
        several = await store.list_articles(session=session, topics={"politics", "طقس"})
        assert [row.id for row in several] == [arabic_id, old_id]
        assert await store.list_articles(session=session, topics=[]) == []
        assert len(await store.list_articles(session=session, topics=["*"])) == 4

        assert await store.known_topics(session=session) == sorted(
            ["farming", "politics", "weather", "طقس", "زراعة"]
        )


async def test_find_article_by_url_or_guid(sessionmaker: Sessionmaker) -> None:
    """Feeds can look an item up before fetching it."""
    article_id, _ = await add(sessionmaker, make_article())
    async with unit_of_work(sessionmaker) as session:
        by_url = await store.find_article(session=session, url="https://news.example/rain")
        by_guid = await store.find_article(session=session, guid="rain-2026-03-14")
        assert by_url is not None
        assert by_guid is not None
        assert by_url.id == by_guid.id == article_id
        assert await store.find_article(session=session, url="https://news.example/x") is None
        assert await store.find_article(session=session) is None


async def test_latest_for_chat_honours_subscriptions(sessionmaker: Sessionmaker) -> None:
    """No subscriptions or "*": everything; topics: only matching articles."""
    rain_id, _ = await add(sessionmaker, make_article())
    arabic_id, _ = await add(sessionmaker, make_arabic_article())
    await add_chat(sessionmaker, 1)
    await add_chat(sessionmaker, 2, topics=("Weather",))
    await add_chat(sessionmaker, 3, topics=("weather", None))
    await add_chat(sessionmaker, 4, topics=("sport",))
    async with unit_of_work(sessionmaker) as session:
        for chat_id, expected in [
            (1, [arabic_id, rain_id]),
            (2, [rain_id]),
            (3, [arabic_id, rain_id]),
            (4, []),
        ]:
            latest = await store.latest_for_chat(session=session, chat_id=chat_id)
            assert [row.id for row in latest] == expected, chat_id
        one = await store.latest_for_chat(session=session, chat_id=1, limit=1)
        assert [row.id for row in one] == [arabic_id]


async def test_delete_article_cascades(sessionmaker: Sessionmaker) -> None:
    """Topics, sections and readings go with the article; chats stop pointing at it."""
    article_id, _ = await add(sessionmaker, make_article())
    await add_chat(sessionmaker, 7)
    async with unit_of_work(sessionmaker) as session:
        await store.record_reading(
            session=session, chat_id=7, article_id=article_id, section_index=1, now=utcnow()
        )
    async with unit_of_work(sessionmaker) as session:
        assert await store_helpers.delete_article(session=session, article_id=article_id)
        assert not await store_helpers.delete_article(session=session, article_id=article_id)
    for model in (ArticleRow, ArticleTopicRow, SectionRow, ReadingRow):
        assert await count(sessionmaker, model) == 0, model
    async with unit_of_work(sessionmaker) as session:
        chat = await store.get_chat(session=session, chat_id=7)
        assert chat is not None
        assert chat.current_article_id is None
        assert await store.current_reading(session=session, chat_id=7) is None


# Chats


async def test_ensure_chat_upserts(sessionmaker: Sessionmaker) -> None:
    """A second call updates kind and client language but keeps the chosen language."""
    async with unit_of_work(sessionmaker) as session:
        chat = await store.ensure_chat(
            session=session, chat_id=-100123, kind="group", telegram_language="ar", now=utcnow()
        )
        assert chat.active
        assert chat.language is None
        assert_utc(chat.joined_at)
        joined_at = chat.joined_at
        assert await store.set_chat_language(session=session, chat_id=-100123, language="en")
        assert not await store.set_chat_language(session=session, chat_id=5, language="en")
    async with unit_of_work(sessionmaker) as session:
        chat = await store.ensure_chat(
            session=session,
            chat_id=-100123,
            kind="supergroup",
            telegram_language=None,
            now=utcnow(),
        )
        assert chat.kind == "supergroup"
        assert chat.telegram_language == "ar"
        assert chat.language == "en"
        assert chat.joined_at == joined_at
        chat = await store.ensure_chat(
            session=session,
            chat_id=-100123,
            kind="supergroup",
            telegram_language="fr",
            now=utcnow(),
        )
        assert chat.telegram_language == "fr"
        with pytest.raises(ValueError, match="chat kind"):
            await store.ensure_chat(
                session=session, chat_id=1, kind="bot", telegram_language=None, now=utcnow()
            )
    assert await count(sessionmaker, ChatRow) == 1
    async with unit_of_work(sessionmaker) as session:
        stored = await store.get_chat(session=session, chat_id=-100123)
        assert stored is not None
        assert stored.kind == "supergroup"
        assert (stored.language, stored.telegram_language) == ("en", "fr")
        assert await store.get_chat(session=session, chat_id=42) is None


async def test_concurrent_ensure_chat(sessionmaker: Sessionmaker) -> None:
    """Two updates from a new chat at once: one row, no error."""
    both_started = open_together(sessionmaker)

    async def ensure(language: str) -> None:
        async with unit_of_work(sessionmaker) as session:
            await session.execute(select(1))
            await both_started.wait()
            await store.ensure_chat(
                session=session,
                chat_id=99,
                kind="private",
                telegram_language=language,
                now=utcnow(),
            )

    await asyncio.gather(ensure("en"), ensure("ar"))
    assert await count(sessionmaker, ChatRow) == 1


async def test_blocked_and_active_again(sessionmaker: Sessionmaker) -> None:
    """Blocking keeps the first blocked time; unblocking clears it; subscribers follow."""
    await add_chat(sessionmaker, 5, topics=(None,))
    async with unit_of_work(sessionmaker) as session:
        assert await store.count_subscribers(session=session) == 1
        assert await store.mark_chats_blocked(session=session, chat_ids={5}, now=utcnow())
        assert not await store.mark_chats_blocked(session=session, chat_ids={6}, now=utcnow())
    async with unit_of_work(sessionmaker) as session:
        chat = await store.get_chat(session=session, chat_id=5)
        assert chat is not None
        assert not chat.active
        assert_utc(chat.blocked_at)
        blocked_at = chat.blocked_at
        assert await store.count_subscribers(session=session) == 0
    async with unit_of_work(sessionmaker) as session:
        assert await store.mark_chats_blocked(session=session, chat_ids={5}, now=utcnow())
        chat = await store.get_chat(session=session, chat_id=5)
        assert chat is not None
        assert chat.blocked_at == blocked_at
    async with unit_of_work(sessionmaker) as session:
        assert await store.mark_chat_active(session=session, chat_id=5)
        assert not await store.mark_chat_active(session=session, chat_id=6)
    async with unit_of_work(sessionmaker) as session:
        chat = await store.get_chat(session=session, chat_id=5)
        assert chat is not None
        assert chat.active
        assert chat.blocked_at is None
        assert await store.count_subscribers(session=session) == 1


async def test_migrate_chat_moves_everything(sessionmaker: Sessionmaker) -> None:
    """Subscriptions, readings, language and current article move to the new id."""
    old, new = -4001, -1004001
    rain_id, _ = await add(sessionmaker, make_article())
    arabic_id, _ = await add(sessionmaker, make_arabic_article())
    async with unit_of_work(sessionmaker) as session:
        await store.ensure_chat(
            session=session, chat_id=old, kind="group", telegram_language="ar", now=utcnow()
        )
        await store.set_chat_language(session=session, chat_id=old, language="ar")
        await store.subscribe(session=session, chat_id=old, topic="weather")
        await store.subscribe(session=session, chat_id=old, topic="farming")
        await store.record_reading(
            session=session, chat_id=old, article_id=rain_id, section_index=2, now=utcnow()
        )
        await store.record_reading(
            session=session, chat_id=old, article_id=arabic_id, section_index=1, now=utcnow()
        )
        old_chat = await store.get_chat(session=session, chat_id=old)
        assert old_chat is not None
        joined_at = old_chat.joined_at
    # The new supergroup sent an update before the migration was handled.
    async with unit_of_work(sessionmaker) as session:
        await store.ensure_chat(
            session=session, chat_id=new, kind="supergroup", telegram_language=None, now=utcnow()
        )
        await store.subscribe(session=session, chat_id=new, topic="weather")

    async with unit_of_work(sessionmaker) as session:
        assert await store.migrate_chat(session=session, old_chat_id=old, new_chat_id=new)
        assert not await store.migrate_chat(session=session, old_chat_id=old, new_chat_id=new)

    async with unit_of_work(sessionmaker) as session:
        assert await store.get_chat(session=session, chat_id=old) is None
        assert await store.subscriptions(session=session, chat_id=old) == []
        chat = await store.get_chat(session=session, chat_id=new)
        assert chat is not None
        assert chat.kind == "supergroup"
        assert chat.language == "ar"
        assert chat.telegram_language == "ar"
        assert chat.joined_at == joined_at
        assert chat.current_article_id == arabic_id
        assert await store.subscriptions(session=session, chat_id=new) == ["farming", "weather"]
        reading = await store.current_reading(session=session, chat_id=new)
        assert reading is not None
        assert (reading.article_id, reading.section_index) == (arabic_id, 1)
        assert await store_helpers.count_readers(session=session, article_id=rain_id) == 1
    assert await count(sessionmaker, ChatRow) == 1
    assert await count(sessionmaker, ReadingRow) == 2


async def test_migrate_chat_to_a_new_id(sessionmaker: Sessionmaker) -> None:
    """Without an existing new chat, the row is created from the old one."""
    await add_chat(sessionmaker, -5, topics=(None,))
    async with unit_of_work(sessionmaker) as session:
        assert await store.migrate_chat(session=session, old_chat_id=-5, new_chat_id=-1005)
        assert not await store.migrate_chat(session=session, old_chat_id=-6, new_chat_id=-1006)
    async with unit_of_work(sessionmaker) as session:
        chat = await store.get_chat(session=session, chat_id=-1005)
        assert chat is not None
        assert chat.active
        assert await store.subscriptions(session=session, chat_id=-1005) == ["*"]


# Subscriptions


async def test_subscribe_and_unsubscribe(sessionmaker: Sessionmaker) -> None:
    """Return values tell what changed; None means all topics."""
    await add_chat(sessionmaker, 8)
    async with unit_of_work(sessionmaker) as session:
        assert await store.subscribe(session=session, chat_id=8, topic=" Weather ")
        assert not await store.subscribe(session=session, chat_id=8, topic="weather")
        assert await store.subscribe(session=session, chat_id=8, topic=None)
        assert not await store.subscribe(session=session, chat_id=8, topic="*")
        assert await store.subscribe(session=session, chat_id=8, topic="طقس")
        with pytest.raises(ValueError, match="empty"):
            await store.subscribe(session=session, chat_id=8, topic="  ")
        assert await store.subscriptions(session=session, chat_id=8) == sorted(
            ["*", "weather", "طقس"]
        )
        assert await store.unsubscribe(session=session, chat_id=8, topic="WEATHER")
        assert not await store.unsubscribe(session=session, chat_id=8, topic="weather")
        assert await store.unsubscribe(session=session, chat_id=8, topic=None)
        assert not await store.unsubscribe(session=session, chat_id=8, topic=None)
        assert await store.subscriptions(session=session, chat_id=8) == []


async def test_count_subscribers(sessionmaker: Sessionmaker) -> None:
    """Active chats subscribed to the topic or to everything, each counted once."""
    await add_chat(sessionmaker, 1, topics=("weather",))
    await add_chat(sessionmaker, 2, topics=("weather", None))
    await add_chat(sessionmaker, 3, topics=(None,))
    await add_chat(sessionmaker, 4, topics=("sport",))
    await add_chat(sessionmaker, 5, topics=("weather",))
    await add_chat(sessionmaker, 6)
    async with unit_of_work(sessionmaker) as session:
        await store.mark_chats_blocked(session=session, chat_ids={5}, now=utcnow())
        assert await store.count_subscribers(session=session, topic="Weather") == 3
        assert await store.count_subscribers(session=session, topic="sport") == 3
        assert await store.count_subscribers(session=session, topic="culture") == 2
        assert await store.count_subscribers(session=session) == 2


# Readings


async def test_readings(sessionmaker: Sessionmaker) -> None:
    """Upsert keeps opened_at, moves the section on, and switches the current article."""
    rain_id, _ = await add(sessionmaker, make_article())
    arabic_id, _ = await add(sessionmaker, make_arabic_article())
    await add_chat(sessionmaker, 10)
    await add_chat(sessionmaker, 11)
    async with unit_of_work(sessionmaker) as session:
        assert await store.current_reading(session=session, chat_id=10) is None
        first = await store.record_reading(
            session=session, chat_id=10, article_id=rain_id, section_index=1, now=utcnow()
        )
        assert_utc(first.opened_at)
        opened_at = first.opened_at
    async with unit_of_work(sessionmaker) as session:
        second = await store.record_reading(
            session=session, chat_id=10, article_id=rain_id, section_index=2, now=utcnow()
        )
        assert second.section_index == 2
        assert second.opened_at == opened_at
        assert second.updated_at >= opened_at
    async with unit_of_work(sessionmaker) as session:
        reading = await store.current_reading(session=session, chat_id=10)
        assert reading is not None
        assert (reading.article_id, reading.section_index) == (rain_id, 2)
        assert_utc(reading.opened_at)
        assert_utc(reading.updated_at)

        await store.record_reading(
            session=session, chat_id=10, article_id=arabic_id, section_index=1, now=utcnow()
        )
        await store.record_reading(
            session=session, chat_id=11, article_id=rain_id, section_index=1, now=utcnow()
        )
        reading = await store.current_reading(session=session, chat_id=10)
        assert reading is not None
        assert reading.article_id == arabic_id
        assert await store_helpers.count_readers(session=session, article_id=rain_id) == 2
        assert await store_helpers.count_readers(session=session, article_id=arabic_id) == 1
        assert await store_helpers.count_readers(session=session, article_id=arabic_id + 100) == 0


async def test_read_section_records_only_a_section_it_can_send(sessionmaker: Sessionmaker) -> None:
    """A press's read: the section, and the reading written only when the section is sent."""
    rain_id, _ = await add(sessionmaker, make_article())
    arabic_id, _ = await add(sessionmaker, make_arabic_article())
    await add_chat(sessionmaker, 10)

    async def where(chat_id: int) -> tuple[int, int] | None:
        async with unit_of_work(sessionmaker) as session:
            reading = await store.current_reading(session=session, chat_id=chat_id)
        return None if reading is None else (reading.article_id, reading.section_index)

    async def read(article_id: int, index: int) -> store.SectionToRead | None:
        async with unit_of_work(sessionmaker) as session:
            return await store.read_section(
                session=session, chat_id=10, article_id=article_id, index=index, now=utcnow()
            )

    first = await read(rain_id, 2)
    assert first is not None and first.section is not None
    assert (first.section_count, first.withdrawn, first.section.index) == (3, False, 2)
    assert first.section.html.startswith("<p>")
    assert await where(10) == (rain_id, 2)
    missing = await read(rain_id, 4)
    assert missing is not None and missing.section is None and missing.section_count == 3
    assert await read(arabic_id + 100, 1) is None
    assert await where(10) == (rain_id, 2)
    async with unit_of_work(sessionmaker) as session:
        await session.execute(
            update(ArticleRow).where(ArticleRow.id == rain_id).values(retracted_at=utcnow())
        )
    withdrawn = await read(rain_id, 3)
    assert withdrawn is not None and withdrawn.withdrawn
    assert await where(10) == (rain_id, 2)
    other = await read(arabic_id, 1)
    assert other is not None and other.section is not None
    assert await where(10) == (arabic_id, 1)
    async with unit_of_work(sessionmaker) as session:
        assert await store_helpers.count_readers(session=session, article_id=rain_id) == 1


# Unit of work


async def test_unit_of_work_commits_on_success(sessionmaker: Sessionmaker) -> None:
    """What the block wrote is visible to the next session."""
    async with unit_of_work(sessionmaker) as session:
        await store.ensure_chat(
            session=session, chat_id=20, kind="private", telegram_language=None, now=utcnow()
        )
    async with unit_of_work(sessionmaker) as session:
        assert await store.get_chat(session=session, chat_id=20) is not None


async def test_unit_of_work_rolls_back_on_exception(sessionmaker: Sessionmaker) -> None:
    """An exception undoes everything the block wrote, and propagates."""

    class Boom(Exception):
        """Raised to abort the block."""

    with pytest.raises(Boom):
        async with unit_of_work(sessionmaker) as session:
            await store.ensure_chat(
                session=session, chat_id=21, kind="private", telegram_language=None, now=utcnow()
            )
            await store.add_article(
                session=session,
                article=make_article(),
                sections=make_sections(make_article()),
                summary="S",
                now=utcnow(),
            )
            raise Boom
    assert await count(sessionmaker, ChatRow) == 0
    assert await count(sessionmaker, ArticleRow) == 0


async def test_naive_datetimes_are_refused(sessionmaker: Sessionmaker) -> None:
    """Storing a naive datetime fails on every database instead of guessing its zone."""
    with pytest.raises(StatementError, match="naive datetime"):
        async with unit_of_work(sessionmaker) as session:
            await store.ensure_chat(
                session=session, chat_id=30, kind="private", telegram_language=None, now=utcnow()
            )
            chat = await session.get(ChatRow, 30)
            assert chat is not None
            chat.blocked_at = datetime(2026, 1, 1)  # noqa: DTZ001
            await session.flush()
