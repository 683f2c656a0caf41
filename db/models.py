"""SQLAlchemy models: articles with their topics and sections, chats, subscriptions, readings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, get_args

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.schema import SchemaItem
from sqlalchemy.types import TypeDecorator

ChatKind = Literal["private", "group", "supergroup", "channel"]
CHAT_KINDS: tuple[str, ...] = get_args(ChatKind)

ALL_TOPICS = "*"
"""The subscription topic that matches every article."""

# Stable names let Alembic migrations drop or alter constraints by name on every database.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored in UTC and always returned aware in UTC.

    SQLite has no timezone type and hands back naive values; PostgreSQL's timestamptz comes back
    in the session's zone. Normalising here means callers compare datetimes the same way on both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Reject naive datetimes and convert aware ones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime; naive values from SQLite were stored as UTC."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(AsyncAttrs, DeclarativeBase):
    """Declarative base; AsyncAttrs gives `await row.awaitable_attrs.sections` for lazy loads."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class ArticleRow(Base):
    """A stored article: metadata, summary and the sections it was split into."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text)
    byline: Mapped[str | None] = mapped_column(Text)
    lead: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(35))
    url: Mapped[str | None] = mapped_column(Text, unique=True)
    guid: Mapped[str | None] = mapped_column(Text, index=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # coalesce(published_at, created_at), written once on insert. A plain column rather than an
    # expression index: SQLite reflection skips expression indexes (with a warning), so Alembic's
    # batch table rebuilds would silently drop them.
    sort_at: Mapped[datetime]
    related: Mapped[list[str]] = mapped_column(JSON)
    section_count: Mapped[int] = mapped_column(Integer)
    # Raised each time a re-ingest changes the stored text in place (0: as first stored).
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    revised_at: Mapped[datetime | None]
    # Withdrawn by the newsroom: no longer listed, opened or pushed.
    retracted_at: Mapped[datetime | None]
    # The lead image's URL (None: the card goes out as text).
    image_url: Mapped[str | None] = mapped_column(Text)
    # Telegram's file_id of the photo from the first send that took it: every later send of
    # the card reuses it instead of making Telegram fetch the URL again.
    photo_file_id: Mapped[str | None] = mapped_column(Text)
    # Why Telegram refused the photo (bad URL, too big, unreachable): the card goes out as text
    # from then on, and operators see the reason in /stats.
    photo_refused: Mapped[str | None] = mapped_column(Text)

    sections: Mapped[list[SectionRow]] = relationship(
        back_populates="article",
        order_by="SectionRow.index",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    # Topics are few and short, and lists of articles show them, so they load with the article.
    topics: Mapped[list[ArticleTopicRow]] = relationship(
        back_populates="article",
        order_by="ArticleTopicRow.topic",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )

    __table_args__ = (Index("ix_articles_sort_at_id", "sort_at", "id"),)

    @property
    def topic_names(self) -> list[str]:
        """The article's topics as plain strings, sorted."""
        return [topic.topic for topic in self.topics]


class ArticleTopicRow(Base):
    """One topic of an article, casefolded and stripped."""

    __tablename__ = "article_topics"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(Text, primary_key=True, index=True)

    article: Mapped[ArticleRow] = relationship(back_populates="topics")


class SectionRow(Base):
    """One message-sized section of an article; index is 1-based."""

    __tablename__ = "sections"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    heading: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)

    article: Mapped[ArticleRow] = relationship(back_populates="sections")


class ChatRow(Base):
    """A Telegram chat the bot has seen, with its language and what it is reading."""

    __tablename__ = "chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(35))
    telegram_language: Mapped[str | None] = mapped_column(String(35))
    active: Mapped[bool]
    blocked_at: Mapped[datetime | None]
    joined_at: Mapped[datetime]
    current_article_id: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"), index=True
    )
    # What the reader chose to receive and when (see db/audience.py). Chats from before these
    # settings keep the edition "all"; new ones start with their interface language.
    edition: Mapped[str] = mapped_column(String(8), default="all", server_default="all")
    timezone: Mapped[str | None] = mapped_column(String(64))  # None: NEWSBOT_TIMEZONE
    quiet_start: Mapped[int | None] = mapped_column(Integer)  # minutes after local midnight
    quiet_end: Mapped[int | None] = mapped_column(Integer)
    quiet_silent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    digest: Mapped[str] = mapped_column(String(8), default="off", server_default="off")
    digest_at: Mapped[int | None] = mapped_column(Integer)  # a daily digest's local minute
    # When the next digest is built: set for digest readers, and for capped readers with
    # overflow waiting; None otherwise.
    digest_due_at: Mapped[datetime | None] = mapped_column(index=True)
    cap: Mapped[int | None] = mapped_column(Integer)
    cap_day: Mapped[str | None] = mapped_column(String(10))  # the local date cap_used counts
    cap_used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        CheckConstraint(
            "kind IN ({})".format(", ".join(f"'{kind}'" for kind in CHAT_KINDS)), name="kind"
        ),
    )


class FollowRow(Base):
    """A word or phrase a chat follows, stored normalised (content.normalise) for matching."""

    __tablename__ = "follows"

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.chat_id", ondelete="CASCADE"), primary_key=True
    )
    phrase: Mapped[str] = mapped_column(Text, primary_key=True, index=True)
    # The phrase's first word: a story's words select the few phrases worth checking.
    first_word: Mapped[str] = mapped_column(Text, index=True)
    shown: Mapped[str] = mapped_column(Text)  # as the reader typed it
    created_at: Mapped[datetime]


class SubscriptionRow(Base):
    """A chat's subscription to one topic; the topic "*" means every article."""

    __tablename__ = "subscriptions"

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.chat_id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(Text, primary_key=True, index=True)


class ReadingRow(Base):
    """How far a chat has read an article: the last section sent to it."""

    __tablename__ = "readings"

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.chat_id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    section_index: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]


BroadcastKind = Literal["push", "correct", "retract"]
BROADCAST_KINDS: tuple[str, ...] = get_args(BroadcastKind)

BroadcastStatus = Literal["scheduled", "running", "done", "cancelled", "missed"]
BROADCAST_STATUSES: tuple[str, ...] = get_args(BroadcastStatus)

DeliveryStatus = Literal["queued", "sending", "sent", "skipped", "failed", "dropped"]
DELIVERY_STATUSES: tuple[str, ...] = get_args(DeliveryStatus)


class BroadcastRow(Base):
    """One push of an article to its subscribers (optionally one topic's), due at a time."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    # None: subscribers of any of the article's topics; a topic: that topic's subscribers.
    # Subscribers to every topic ("*") receive both.
    topic: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # How many deliveries the fan-out created: the denominator of its progress.
    target_count: Mapped[int] = mapped_column(Integer, default=0)
    # The operator's chat message that asked for it (None from the command line): one message
    # makes one broadcast, however often it is delivered.
    source_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    source_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Goes to every target at once, through quiet hours, digests and daily caps.
    breaking: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # push: send the card; correct: edit the cards a push sent; retract: delete them.
    kind: Mapped[str] = mapped_column(String(16), default="push", server_default="push")

    __table_args__ = (
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in BROADCAST_STATUSES)),
            name="status",
        ),
        CheckConstraint(
            "kind IN ({})".format(", ".join(f"'{k}'" for k in BROADCAST_KINDS)), name="kind"
        ),
        Index("ix_broadcasts_status_due_at", "status", "due_at"),
        UniqueConstraint("source_chat_id", "source_message_id"),
    )


class DeliveryRow(Base):
    """One chat's copy of a broadcast: the outbox row that a worker claims, sends and records."""

    __tablename__ = "deliveries"

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    # Not a foreign key: a chat that migrates or disappears must not take its history with it.
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Claims not (yet) ended by a recorded outcome, the current one included: raised by each
    # claim, lowered when its outcome is written. Only a deliverer that died (or lost the
    # database) leaves one standing, so this counts the sends whose fate nobody knows; at
    # broadcasts.MAX_CLAIMS the row is failed instead of claimed again.
    claims: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A retried delivery waits until then; None means at once.
    not_before: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    # Sent without a notification sound: the reader is in quiet hours and chose "silent".
    silent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in DELIVERY_STATUSES)),
            name="status",
        ),
        # Claims read the queued rows in chat order from an index instead of sorting every one
        # of them (0.2-0.4 s a claim at a million). SQLite uses this one (a partial index is of
        # no use to it: the claim's status is a bound parameter); counts group by status.
        Index("ix_deliveries_broadcast_id_status_chat_id", "broadcast_id", "status", "chat_id"),
        # PostgreSQL's planner picks this one: it holds only the rows still to claim.
        Index(
            "ix_deliveries_queued",
            "broadcast_id",
            "chat_id",
            postgresql_where=text("status = 'queued'"),
        ).ddl_if(dialect="postgresql"),
    )


class HandledUpdateRow(Base):
    """A Telegram update already taken, remembered for a day so that a repeat is skipped."""

    __tablename__ = "handled_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    handled_at: Mapped[datetime] = mapped_column(index=True)


DigestStatus = Literal["queued", "sending", "sent", "failed"]
DIGEST_STATUSES: tuple[str, ...] = get_args(DigestStatus)


class DigestRow(Base):
    """One digest message to one chat: built when due, then sent once (an outbox row)."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    item_count: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in DIGEST_STATUSES)),
            name="status",
        ),
        Index("ix_digests_status_id", "status", "id"),
    )


class DigestItemRow(Base):
    """A story held for a chat's next digest (a digest reader's, or past a daily cap)."""

    __tablename__ = "digest_items"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    added_at: Mapped[datetime]
    # None until a digest takes it.
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("digests.id", ondelete="SET NULL"), index=True
    )

    __table_args__ = (Index("ix_digest_items_chat_id_digest_id", "chat_id", "digest_id"),)


class ChannelRow(Base):
    """A channel every publish also posts to, as an operator or NEWSBOT_CHANNELS named it."""

    __tablename__ = "channels"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # As named: "@username" or the numeric id.
    name: Mapped[str] = mapped_column(Text)
    added_at: Mapped[datetime]
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    # Telegram's last refusal to post there, kept until a post succeeds again.
    error: Mapped[str | None] = mapped_column(Text)
    error_at: Mapped[datetime | None]


class ForumThreadRow(Base):
    """Stories of one topic go to this thread of a forum supergroup (`/here TOPIC`)."""

    __tablename__ = "forum_threads"

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chats.chat_id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(Text, primary_key=True)
    thread_id: Mapped[int] = mapped_column(BigInteger)


# Search: the words of every article, folded by content.normalise, in a full-text index.
SEARCH_FTS_TABLE = "article_search_fts"
"""SQLite's FTS5 index over article_search (external content); with its shadow tables, it is
made by the migration and kept in step by db.search, and the models do not describe it."""

# A search word list: PostgreSQL keeps it as a tsvector ('simple' configuration); SQLite as the
# normalised text itself, which its FTS5 index reads.
SearchWords = TSVECTOR().with_variant(Text(), "sqlite")


class ArticleSearchRow(Base):
    """An article's normalised words, as the search index sees them; written by db.search."""

    __tablename__ = "article_search"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # Newest first is highest first: the article's sort_at in seconds (since 2020) times 2^31,
    # plus its id (db.search.rank_of). Unique, so both databases page through matches in this
    # order from an index (SQLite: it is the FTS5 rowid) instead of sorting every match.
    rank: Mapped[int] = mapped_column(BigInteger, unique=True)
    # The normalised title, cut to TITLE_KEY_CHARS: cross-links name a story by its title.
    title_key: Mapped[str] = mapped_column(Text, index=True)
    title: Mapped[str] = mapped_column(SearchWords)
    # Title, lead and body: a search matches words wherever they are.
    document: Mapped[str] = mapped_column(SearchWords)

    __table_args__ = (
        Index("ix_article_search_title", "title", postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
        Index("ix_article_search_document", "document", postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )


class SearchQueryRow(Base):
    """A reader's search, kept so that its "More" button (64 bytes of data) can name it."""

    __tablename__ = "search_queries"

    key: Mapped[str] = mapped_column(String(16), primary_key=True)
    words: Mapped[str] = mapped_column(Text)
    used_at: Mapped[datetime] = mapped_column(index=True)


POSTGRESQL_ONLY_INDEXES = frozenset(
    {"ix_article_search_title", "ix_article_search_document", "ix_deliveries_queued"}
)


def in_schema(name: str | None, type_: str, dialect: str) -> bool:
    """Whether Alembic's comparison of the models with a database should look at an object.

    SQLite's FTS5 index and its shadow tables are not modelled (the migration makes them);
    the GIN indexes exist only on PostgreSQL.
    """
    if type_ == "table" and name is not None and name.startswith(SEARCH_FTS_TABLE):
        return False
    return not (type_ == "index" and name in POSTGRESQL_ONLY_INDEXES and dialect != "postgresql")


def schema_filters(dialect: str) -> dict[str, Any]:
    """Alembic's include_name and include_object options for a database of this dialect."""

    def include_name(name: str | None, type_: str, _parents: Any) -> bool:
        return in_schema(name, type_, dialect)

    def include_object(
        _obj: SchemaItem, name: str | None, type_: str, _reflected: bool, _compare_to: Any
    ) -> bool:
        return in_schema(name, type_, dialect)

    return {"include_name": include_name, "include_object": include_object}
