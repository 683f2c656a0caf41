"""SQLAlchemy models: articles with their topics and sections, chats, subscriptions, readings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, get_args

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
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

    __table_args__ = (
        CheckConstraint(
            "kind IN ({})".format(", ".join(f"'{kind}'" for kind in CHAT_KINDS)), name="kind"
        ),
    )


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

    __table_args__ = (
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in BROADCAST_STATUSES)),
            name="status",
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

    __table_args__ = (
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in DELIVERY_STATUSES)),
            name="status",
        ),
        # Claims scan one broadcast's queued rows in chat order; counts group by status.
        Index("ix_deliveries_broadcast_id_status", "broadcast_id", "status"),
    )


class HandledUpdateRow(Base):
    """A Telegram update already taken, remembered for a day so that a repeat is skipped."""

    __tablename__ = "handled_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    handled_at: Mapped[datetime] = mapped_column(index=True)
