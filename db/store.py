"""Store functions: every read and write of the bot's data. None of them commits.

Each takes the session as a keyword argument; the caller's unit of work (`db.session.unit_of_work`)
decides when to commit. Inserts that may race with another process use the database's own
`INSERT … ON CONFLICT`, so two concurrent calls never create duplicates or fail on a unique key.
Functions that write about a chat (subscribe, record_reading) need its row: call ensure_chat first.
Times are stamped with the caller's `now` (from the bot's clock), never the database's own clock,
so both databases store the same value and tests can move time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Executable,
    SQLColumnExpression,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from content.article import Article, Section
from content.assemble import normalize_topic
from content.fingerprint import content_hash
from db import search
from db.models import (
    ALL_TOPICS,
    CHAT_KINDS,
    ArticleRow,
    ArticleTopicRow,
    Base,
    ChatRow,
    ReadingRow,
    SectionRow,
    SubscriptionRow,
)

# How often add_article retries when its insert conflicts with a row that is gone by the time it
# looks (a concurrent delete); more than one retry means something is badly wrong.
_INSERT_ATTEMPTS = 3


def dialect_insert(session: AsyncSession, entity: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """Return the dialect's INSERT construct, which has on_conflict_do_nothing/do_update."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(entity)
    if dialect == "sqlite":
        return sqlite.insert(entity)
    raise NotImplementedError(f"unsupported database dialect: {dialect}")


# The statements of a reader's press, built once per dialect and run with fresh parameters on the
# session's connection: building a statement and passing it through the ORM cost more than the
# database's own work for these one-row reads and writes.
_PREPARED: dict[tuple[str, str], Executable] = {}


async def run_prepared(
    session: AsyncSession,
    key: str,
    build: Callable[[str], Executable],
    params: dict[str, object],
) -> CursorResult[Any]:
    """Run the statement `build(dialect_name)` (built once per dialect) in the session's
    transaction, as plain Core: no ORM objects are made from its rows."""
    connection = await session.connection()
    dialect = connection.dialect.name
    stmt = _PREPARED.get((key, dialect))
    if stmt is None:
        stmt = _PREPARED[(key, dialect)] = build(dialect)
    return await connection.execute(stmt, params)


def table_insert(table: Table, dialect: str) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT of a table (not an ORM entity), with on_conflict_do_nothing/update."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect: {dialect}")


def _earliest(
    session: AsyncSession,
    first: SQLColumnExpression[datetime],
    second: SQLColumnExpression[datetime],
) -> ColumnElement[datetime]:
    """Return SQL for the earlier of two timestamps (least() is min() in SQLite)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.min(first, second)
    return func.least(first, second)


# Articles


async def _find_article(
    *, session: AsyncSession, url: str | None, fingerprint: str
) -> ArticleRow | None:
    """Return the stored article with this url or, failing that, this content hash."""
    if url is not None:
        row = await session.scalar(select(ArticleRow).where(ArticleRow.url == url))
        if row is not None:
            return row
    return await session.scalar(select(ArticleRow).where(ArticleRow.content_hash == fingerprint))


async def add_topics_and_sections(
    *, session: AsyncSession, article_id: int, article: Article, sections: Sequence[Section]
) -> None:
    """Store an article's topics (normalised, once each) and its sections, then flush."""
    topics = dict.fromkeys(normalize_topic(topic) for topic in article.topics)
    session.add_all(
        ArticleTopicRow(article_id=article_id, topic=topic) for topic in topics if topic
    )
    session.add_all(
        SectionRow(
            article_id=article_id,
            index=section.index,
            heading=section.heading,
            html=section.html,
            text=section.text,
        )
        for section in sections
    )
    await session.flush()


async def add_article(
    *,
    session: AsyncSession,
    article: Article,
    sections: Sequence[Section],
    summary: str,
    now: datetime,
) -> tuple[ArticleRow, bool]:
    """Store an article with its topics and sections; return (row, created), deduplicated."""
    if article.published is not None and article.published.utcoffset() is None:
        raise ValueError("article.published must be timezone-aware")
    if [section.index for section in sections] != list(range(1, len(sections) + 1)):
        raise ValueError("sections must be numbered 1, 2, … in order")
    url = article.url or None
    fingerprint = content_hash(article)

    # Most ingests are feeds re-announcing what we already have: answer those with a read, so
    # they never take SQLite's single write lock.
    existing = await _find_article(session=session, url=url, fingerprint=fingerprint)
    if existing is not None:
        return existing, False

    values = {
        "title": article.title,
        "byline": article.byline,
        "lead": article.lead,
        "summary": summary,
        "language": article.language,
        "url": url,
        "guid": article.guid,
        "content_hash": fingerprint,
        "published_at": article.published,
        "created_at": now,
        "sort_at": article.published or now,
        "related": list(article.related),
        "section_count": len(sections),
        "image_url": article.image,
    }
    for _attempt in range(_INSERT_ATTEMPTS):
        # No conflict target: a clash on the url and a clash on the content hash both mean
        # "already stored". On PostgreSQL the insert waits for a concurrent transaction holding
        # the same key and then does nothing; the select below then sees the committed row.
        stmt = dialect_insert(session, ArticleRow).values(values).on_conflict_do_nothing()
        article_id = await session.scalar(stmt.returning(ArticleRow.id))
        if article_id is not None:
            break
        existing = await _find_article(session=session, url=url, fingerprint=fingerprint)
        if existing is not None:
            return existing, False
    else:
        raise RuntimeError(f"could not store or find article {url or fingerprint}")

    await add_topics_and_sections(
        session=session, article_id=article_id, article=article, sections=sections
    )
    entry = search.IndexEntry.of(
        article_id=article_id,
        title=article.title,
        lead=article.lead,
        texts=[section.text for section in sections],
        sort_at=article.published or now,
    )
    await search.index_articles(session=session, entries=[entry])
    row = await session.scalar(
        select(ArticleRow)
        .where(ArticleRow.id == article_id)
        .options(selectinload(ArticleRow.sections))
        .execution_options(populate_existing=True)
    )
    if row is None:  # pragma: no cover - inserted in this very transaction
        raise RuntimeError(f"article {article_id} vanished after insert")
    return row, True


async def remember_photo(*, session: AsyncSession, article_id: int, file_id: str) -> None:
    """Keep the file_id of a photo Telegram took, for every later send of the article."""
    await session.execute(
        update(ArticleRow)
        .where(ArticleRow.id == article_id)
        .values(photo_file_id=file_id, photo_refused=None)
    )


async def refuse_photo(*, session: AsyncSession, article_id: int, reason: str) -> None:
    """Mark the article's photo refused by Telegram: its card goes out as text from now on."""
    await session.execute(
        update(ArticleRow)
        .where(ArticleRow.id == article_id)
        .values(photo_file_id=None, photo_refused=reason)
    )


async def forget_photo(*, session: AsyncSession, article_id: int, file_id: str) -> None:
    """Drop a stored file_id that Telegram no longer knows (only that one: a newer one stays)."""
    await session.execute(
        update(ArticleRow)
        .where(ArticleRow.id == article_id, ArticleRow.photo_file_id == file_id)
        .values(photo_file_id=None)
    )


async def get_article(*, session: AsyncSession, article_id: int) -> ArticleRow | None:
    """Return the article with this id (topics loaded), or None."""
    return await session.get(ArticleRow, article_id)


@dataclass(frozen=True, slots=True)
class SectionText:
    """A section as a reader is sent it, without its article."""

    article_id: int
    index: int
    html: str


@dataclass(frozen=True, slots=True)
class SectionToRead:
    """What a press on "Read more"/"Next" needs of an article and one of its sections.

    `section` is None when the article is stored but has no such section.
    """

    section_count: int
    withdrawn: bool
    related: tuple[str, ...]
    section: SectionText | None


def _section_to_read(_: str) -> Executable:
    articles = _table(ArticleRow)
    sections = _table(SectionRow)
    return (
        select(
            articles.c.section_count,
            articles.c.retracted_at,
            articles.c.related,
            sections.c.html,
        )
        .select_from(
            articles.outerjoin(
                sections,
                and_(
                    sections.c.article_id == articles.c.id,
                    sections.c.index == bindparam("index"),
                ),
            )
        )
        .where(articles.c.id == bindparam("article_id"))
    )


def _table(entity: type[Base]) -> Table:
    return cast(Table, entity.__table__)


def _found(row: Row[Any] | None, article_id: int, index: int) -> SectionToRead | None:
    """A press's row (article fields, the section's html or NULL) as SectionToRead."""
    if row is None:
        return None
    html: str | None = row.html
    return SectionToRead(
        section_count=row.section_count,
        withdrawn=row.retracted_at is not None,
        related=tuple(row.related or ()),
        section=None if html is None else SectionText(article_id, index, html),
    )


async def section_to_read(
    *, session: AsyncSession, article_id: int, index: int
) -> SectionToRead | None:
    """The article's fields a reader's press needs and section `index`, in one query; None when
    the article is not stored. Plain rows, no ORM objects: this is the busiest read of all."""
    result = await run_prepared(
        session, "section_to_read", _section_to_read, {"article_id": article_id, "index": index}
    )
    return _found(result.one_or_none(), article_id, index)


async def read_section(
    *, session: AsyncSession, chat_id: int, article_id: int, index: int, now: datetime
) -> SectionToRead | None:
    """`section_to_read`, and when the section can be sent (stored, story not withdrawn) the
    chat's reading as `note_reading` writes it; None when the article is not stored.

    On PostgreSQL the read and both writes are one statement, so one round trip to the server;
    SQLite runs in the process and takes them one by one.
    """
    if session.get_bind().dialect.name != "postgresql":
        found = await section_to_read(session=session, article_id=article_id, index=index)
        if found is not None and not found.withdrawn and found.section is not None:
            await note_reading(
                session=session,
                chat_id=chat_id,
                article_id=article_id,
                section_index=index,
                now=now,
            )
        return found
    params: dict[str, object] = {
        "article_id": article_id,
        "index": index,
        "reader": chat_id,
        "now": now,
    }
    result = await run_prepared(session, "read_section", _read_section, params)
    return _found(result.one_or_none(), article_id, index)


def _read_section(dialect: str) -> Executable:
    """PostgreSQL: the section's read, the reading's upsert and the current article's update as
    one statement (data-modifying CTEs, which PostgreSQL runs whether or not they are read)."""
    readings = _table(ReadingRow)
    chats = _table(ChatRow)
    found = cast(Any, _section_to_read(dialect)).cte("found")
    readable = and_(found.c.html.is_not(None), found.c.retracted_at.is_(None))
    reading_insert = postgresql.insert(readings).from_select(
        ["chat_id", "article_id", "section_index", "opened_at", "updated_at"],
        select(
            bindparam("reader", type_=readings.c.chat_id.type),
            bindparam("article_id", type_=readings.c.article_id.type),
            bindparam("index", type_=readings.c.section_index.type),
            bindparam("now", type_=readings.c.opened_at.type),
            bindparam("now", type_=readings.c.updated_at.type),
        ).where(readable),
    )
    reading = (
        reading_insert.on_conflict_do_update(
            index_elements=[readings.c.chat_id, readings.c.article_id],
            set_={
                "section_index": reading_insert.excluded.section_index,
                "updated_at": reading_insert.excluded.updated_at,
            },
        )
        .returning(readings.c.article_id)
        .cte("reading")
    )
    current = (
        update(chats)
        .where(chats.c.chat_id == bindparam("reader"), exists(select(reading.c.article_id)))
        .values(current_article_id=bindparam("article_id", type_=chats.c.current_article_id.type))
        .returning(chats.c.chat_id)
        .cte("current")
    )
    return select(
        found.c.section_count, found.c.retracted_at, found.c.related, found.c.html
    ).add_cte(reading, current)


async def find_article(
    *, session: AsyncSession, url: str | None = None, guid: str | None = None
) -> ArticleRow | None:
    """Return a stored article with this url or feed guid, so feeds can skip known items."""
    if url:
        row = await session.scalar(select(ArticleRow).where(ArticleRow.url == url))
        if row is not None:
            return row
    if guid:
        # guid is indexed but not unique: feeds reuse guids across sites.
        return await session.scalar(
            select(ArticleRow).where(ArticleRow.guid == guid).order_by(ArticleRow.id).limit(1)
        )
    return None


async def get_section(*, session: AsyncSession, article_id: int, index: int) -> SectionRow | None:
    """Return section number index (1-based) of an article, or None."""
    return await session.get(SectionRow, (article_id, index))


async def list_articles(
    *, session: AsyncSession, limit: int = 20, topics: Collection[str] | None = None
) -> list[ArticleRow]:
    """Return the newest articles, optionally only those with one of the topics."""
    stmt = (
        select(ArticleRow)
        # A withdrawn story is listed nowhere.
        .where(ArticleRow.retracted_at.is_(None))
        .order_by(ArticleRow.sort_at.desc(), ArticleRow.id.desc())
    )
    if topics is not None:
        wanted = {normalize_topic(topic) for topic in topics} - {""}
        if not wanted:
            return []
        if ALL_TOPICS not in wanted:
            stmt = stmt.where(
                exists().where(
                    ArticleTopicRow.article_id == ArticleRow.id,
                    ArticleTopicRow.topic.in_(sorted(wanted)),
                )
            )
    return list(await session.scalars(stmt.limit(limit)))


async def latest_for_chat(
    *, session: AsyncSession, chat_id: int, limit: int = 5
) -> list[ArticleRow]:
    """Return the newest articles matching the chat's subscriptions (all when it has none)."""
    topics = await subscriptions(session=session, chat_id=chat_id)
    return await list_articles(session=session, limit=limit, topics=topics or None)


async def known_topics(*, session: AsyncSession) -> list[str]:
    """Return the distinct topics of stored articles, sorted."""
    rows = await session.scalars(select(ArticleTopicRow.topic).distinct())
    # Sorted here, not in SQL: PostgreSQL collations and SQLite's byte order disagree on Arabic.
    return sorted(rows)


# Chats


async def ensure_chat(
    *,
    session: AsyncSession,
    chat_id: int,
    kind: str,
    telegram_language: str | None,
    now: datetime,
    edition: str = "all",
) -> ChatRow:
    """Insert the chat or update its kind and client language; return the row.

    `edition` is a new chat's first edition (which languages' stories it is pushed).
    """
    if kind not in CHAT_KINDS:
        raise ValueError(f"unknown chat kind {kind!r}; expected one of {CHAT_KINDS}")
    stmt = dialect_insert(session, ChatRow).values(
        chat_id=chat_id,
        kind=kind,
        language=None,
        telegram_language=telegram_language,
        active=True,
        blocked_at=None,
        joined_at=now,
        current_article_id=None,
        edition=edition,
    )
    # Updates carry no user (channel posts) and then no language: keep the one we knew.
    # `active` is left alone on purpose; a handler decides when a chat is reachable again.
    stmt = stmt.on_conflict_do_update(
        index_elements=[ChatRow.chat_id],
        set_={
            "kind": stmt.excluded.kind,
            "telegram_language": func.coalesce(
                stmt.excluded.telegram_language, ChatRow.telegram_language
            ),
        },
    )
    rows = await session.scalars(
        stmt.returning(ChatRow), execution_options={"populate_existing": True}
    )
    return rows.one()


async def enter_chat(
    *,
    session: AsyncSession,
    chat_id: int,
    kind: str,
    telegram_language: str | None,
    now: datetime,
    edition: str = "all",
) -> str | None:
    """A chat that writes to us: `ensure_chat` and `mark_chat_active` in one statement; the
    language the chat chose (None: it follows its client).

    Unlike `ensure_chat` it marks the chat reachable: a reader who writes can be reached again.
    """
    if kind not in CHAT_KINDS:
        raise ValueError(f"unknown chat kind {kind!r}; expected one of {CHAT_KINDS}")
    params: dict[str, object] = {
        "chat_id": chat_id,
        "kind": kind,
        "telegram_language": telegram_language,
        "now": now,
        "edition": edition,
    }
    result = await run_prepared(session, "enter_chat", _enter_chat, params)
    language: str | None = result.scalar_one()
    return language


def _enter_chat(dialect: str) -> Executable:
    chats = _table(ChatRow)
    stmt = table_insert(chats, dialect).values(
        chat_id=bindparam("chat_id", type_=chats.c.chat_id.type),
        kind=bindparam("kind", type_=chats.c.kind.type),
        language=None,
        telegram_language=bindparam("telegram_language", type_=chats.c.telegram_language.type),
        active=True,
        blocked_at=None,
        joined_at=bindparam("now", type_=chats.c.joined_at.type),
        current_article_id=None,
        edition=bindparam("edition", type_=chats.c.edition.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=[chats.c.chat_id],
        set_={
            "kind": stmt.excluded.kind,
            "telegram_language": func.coalesce(
                stmt.excluded.telegram_language, chats.c.telegram_language
            ),
            # As mark_chat_active does, and only when the chat was not active: an active chat
            # keeps its row as it was.
            "blocked_at": case((chats.c.active, chats.c.blocked_at), else_=None),
            "active": True,
        },
    ).returning(chats.c.language)


async def get_chat(*, session: AsyncSession, chat_id: int) -> ChatRow | None:
    """Return the chat, or None when the bot has never seen it."""
    return await session.get(ChatRow, chat_id)


async def set_chat_language(*, session: AsyncSession, chat_id: int, language: str | None) -> bool:
    """Set the language the chat chose (None: follow the client); return whether it exists."""
    updated = await session.scalar(
        update(ChatRow)
        .where(ChatRow.chat_id == chat_id)
        .values(language=language)
        .returning(ChatRow.chat_id)
    )
    return updated is not None


async def mark_chats_blocked(
    *, session: AsyncSession, chat_ids: Collection[int], now: datetime
) -> set[int]:
    """Mark chats unreachable (blocked or removed the bot, or gone); return those that exist."""
    if not chat_ids:
        return set()
    marked = await session.scalars(
        update(ChatRow)
        .where(ChatRow.chat_id.in_(sorted(chat_ids)))
        # Keep the first time it was blocked: retried sends must not move it.
        .values(active=False, blocked_at=func.coalesce(ChatRow.blocked_at, now))
        .returning(ChatRow.chat_id)
    )
    return set(marked)


async def mark_chat_active(*, session: AsyncSession, chat_id: int) -> bool:
    """Mark the chat reachable again; return whether it exists."""
    updated = await session.scalar(
        update(ChatRow)
        .where(ChatRow.chat_id == chat_id)
        .values(active=True, blocked_at=None)
        .returning(ChatRow.chat_id)
    )
    return updated is not None


async def migrate_chat(*, session: AsyncSession, old_chat_id: int, new_chat_id: int) -> bool:
    """Move a chat with its subscriptions and readings to a new id; return whether it existed."""
    old = await session.get(ChatRow, old_chat_id, populate_existing=True)
    if old is None:
        return False
    if old_chat_id == new_chat_id:
        return True
    # Copy, then delete the old row, rather than updating primary keys: the new chat may
    # already exist (an update from the new supergroup can arrive before the migration
    # message), and then both rows have to be merged.
    stmt = dialect_insert(session, ChatRow).values(
        chat_id=new_chat_id,
        # Telegram migrates only groups, and always to a supergroup.
        kind="supergroup",
        language=old.language,
        telegram_language=old.telegram_language,
        active=old.active,
        blocked_at=old.blocked_at,
        joined_at=old.joined_at,
        current_article_id=old.current_article_id,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[ChatRow.chat_id],
        set_={
            column: func.coalesce(getattr(ChatRow, column), getattr(stmt.excluded, column))
            for column in ("language", "telegram_language", "current_article_id")
        }
        # The old row knows when the bot really joined; a new row may be minutes old.
        | {"joined_at": _earliest(session, ChatRow.joined_at, stmt.excluded.joined_at)},
    )
    await session.execute(stmt)

    subscriptions_stmt = dialect_insert(session, SubscriptionRow).from_select(
        ["chat_id", "topic"],
        select(literal(new_chat_id, BigInteger), SubscriptionRow.topic).where(
            SubscriptionRow.chat_id == old_chat_id
        ),
    )
    await session.execute(subscriptions_stmt.on_conflict_do_nothing())

    readings_stmt = dialect_insert(session, ReadingRow).from_select(
        ["chat_id", "article_id", "section_index", "opened_at", "updated_at"],
        select(
            literal(new_chat_id, BigInteger),
            ReadingRow.article_id,
            ReadingRow.section_index,
            ReadingRow.opened_at,
            ReadingRow.updated_at,
        ).where(ReadingRow.chat_id == old_chat_id),
    )
    await session.execute(readings_stmt.on_conflict_do_nothing())

    # The old chat's subscriptions and readings go with it (ON DELETE CASCADE).
    await session.execute(delete(ChatRow).where(ChatRow.chat_id == old_chat_id))
    return True


# Subscriptions


def _subscription_topic(topic: str | None) -> str:
    """Return the stored form of a subscription topic; None means every topic."""
    if topic is None:
        return ALL_TOPICS
    normalized = normalize_topic(topic)
    if not normalized:
        raise ValueError("empty topic")
    return normalized


async def subscribe(*, session: AsyncSession, chat_id: int, topic: str | None) -> bool:
    """Subscribe the chat to a topic (None: all); return False when already subscribed."""
    stmt = (
        dialect_insert(session, SubscriptionRow)
        .values(chat_id=chat_id, topic=_subscription_topic(topic))
        .on_conflict_do_nothing()
        .returning(SubscriptionRow.topic)
    )
    return await session.scalar(stmt) is not None


async def unsubscribe(*, session: AsyncSession, chat_id: int, topic: str | None) -> bool:
    """Remove one subscription (None: all of them); return whether anything was removed."""
    stmt = delete(SubscriptionRow).where(SubscriptionRow.chat_id == chat_id)
    if topic is not None:
        stmt = stmt.where(SubscriptionRow.topic == _subscription_topic(topic))
    removed = await session.scalars(stmt.returning(SubscriptionRow.topic))
    return len(removed.all()) > 0


async def subscriptions(*, session: AsyncSession, chat_id: int) -> list[str]:
    """Return the chat's subscribed topics, sorted ("*" means all)."""
    rows = await session.scalars(
        select(SubscriptionRow.topic).where(SubscriptionRow.chat_id == chat_id)
    )
    return sorted(rows)


async def count_subscribers(*, session: AsyncSession, topic: str | None = None) -> int:
    """Count active chats that would receive an article with this topic (None: "*" only)."""
    wanted = {ALL_TOPICS} if topic is None else {ALL_TOPICS, _subscription_topic(topic)}
    stmt = (
        select(func.count(SubscriptionRow.chat_id.distinct()))
        .join(ChatRow, ChatRow.chat_id == SubscriptionRow.chat_id)
        .where(ChatRow.active.is_(True), SubscriptionRow.topic.in_(sorted(wanted)))
    )
    return (await session.execute(stmt)).scalar_one()


# Readings


async def note_reading(
    *, session: AsyncSession, chat_id: int, article_id: int, section_index: int, now: datetime
) -> None:
    """Record the last section sent to a chat and make the article its current one.

    Nothing is read back: a reader's press writes its reading and goes on.
    """
    params: dict[str, object] = {
        "chat_id": chat_id,
        "article_id": article_id,
        "section_index": section_index,
        "now": now,
    }
    await run_prepared(session, "note_reading", _note_reading, params)
    await run_prepared(
        session, "make_current", _make_current, {"reader": chat_id, "article_id": article_id}
    )


def _note_reading(dialect: str) -> Executable:
    readings = _table(ReadingRow)
    stmt = table_insert(readings, dialect).values(
        chat_id=bindparam("chat_id", type_=readings.c.chat_id.type),
        article_id=bindparam("article_id", type_=readings.c.article_id.type),
        section_index=bindparam("section_index", type_=readings.c.section_index.type),
        opened_at=bindparam("now", type_=readings.c.opened_at.type),
        updated_at=bindparam("now", type_=readings.c.updated_at.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=[readings.c.chat_id, readings.c.article_id],
        set_={
            "section_index": stmt.excluded.section_index,
            "updated_at": stmt.excluded.updated_at,
        },
    )


def _make_current(_: str) -> Executable:
    chats = _table(ChatRow)
    return (
        update(chats)
        # Named apart from the columns: an UPDATE keeps the column names for its SET clause.
        .where(chats.c.chat_id == bindparam("reader"))
        .values(current_article_id=bindparam("article_id"))
    )


async def record_reading(
    *, session: AsyncSession, chat_id: int, article_id: int, section_index: int, now: datetime
) -> ReadingRow:
    """Record the last section sent to a chat and make the article its current one; the row."""
    await note_reading(
        session=session,
        chat_id=chat_id,
        article_id=article_id,
        section_index=section_index,
        now=now,
    )
    stmt = select(ReadingRow).where(
        ReadingRow.chat_id == chat_id, ReadingRow.article_id == article_id
    )
    rows = await session.scalars(stmt, execution_options={"populate_existing": True})
    return rows.one()


async def current_reading(*, session: AsyncSession, chat_id: int) -> ReadingRow | None:
    """Return the chat's reading of its current article, or None."""
    stmt = select(ReadingRow).join(
        ChatRow,
        and_(
            ChatRow.chat_id == ReadingRow.chat_id,
            ChatRow.current_article_id == ReadingRow.article_id,
        ),
    )
    return await session.scalar(stmt.where(ChatRow.chat_id == chat_id))


async def subscribed_topics(*, session: AsyncSession) -> list[str]:
    """Return the distinct topics chats subscribe to ("*" left out), sorted."""
    rows = await session.scalars(
        select(SubscriptionRow.topic).where(SubscriptionRow.topic != ALL_TOPICS).distinct()
    )
    return sorted(rows)


async def newest_article_id(*, session: AsyncSession) -> int:
    """The highest article id stored (0 when none): ids above it were never given out."""
    return (await session.scalar(select(func.max(ArticleRow.id)))) or 0
