"""Initial schema: articles, topics, sections, chats, subscriptions, readings.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every table of the initial schema."""
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("byline", sa.Text(), nullable=True),
        sa.Column("lead", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("guid", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sort_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("related", sa.JSON(), nullable=False),
        sa.Column("section_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_articles_content_hash")),
        sa.UniqueConstraint("url", name=op.f("uq_articles_url")),
    )
    op.create_index(op.f("ix_articles_guid"), "articles", ["guid"], unique=False)
    op.create_index("ix_articles_sort_at_id", "articles", ["sort_at", "id"], unique=False)

    op.create_table(
        "article_topics",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_topics_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "topic", name=op.f("pk_article_topics")),
    )
    op.create_index(op.f("ix_article_topics_topic"), "article_topics", ["topic"], unique=False)

    op.create_table(
        "sections",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("heading", sa.Text(), nullable=True),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_sections_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "index", name=op.f("pk_sections")),
    )

    op.create_table(
        "chats",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("telegram_language", sa.String(length=35), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_article_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('private', 'group', 'supergroup', 'channel')", name=op.f("ck_chats_kind")
        ),
        sa.ForeignKeyConstraint(
            ["current_article_id"],
            ["articles.id"],
            name=op.f("fk_chats_current_article_id_articles"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_chats")),
    )
    op.create_index(
        op.f("ix_chats_current_article_id"), "chats", ["current_article_id"], unique=False
    )

    op.create_table(
        "subscriptions",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.chat_id"],
            name=op.f("fk_subscriptions_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "topic", name=op.f("pk_subscriptions")),
    )
    op.create_index(op.f("ix_subscriptions_topic"), "subscriptions", ["topic"], unique=False)

    op.create_table(
        "readings",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("section_index", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_readings_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.chat_id"],
            name=op.f("fk_readings_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "article_id", name=op.f("pk_readings")),
    )
    op.create_index(op.f("ix_readings_article_id"), "readings", ["article_id"], unique=False)


def downgrade() -> None:
    """Drop every table of the initial schema, children first."""
    op.drop_index(op.f("ix_readings_article_id"), table_name="readings")
    op.drop_table("readings")
    op.drop_index(op.f("ix_subscriptions_topic"), table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_index(op.f("ix_chats_current_article_id"), table_name="chats")
    op.drop_table("chats")
    op.drop_table("sections")
    op.drop_index(op.f("ix_article_topics_topic"), table_name="article_topics")
    op.drop_table("article_topics")
    op.drop_index("ix_articles_sort_at_id", table_name="articles")
    op.drop_index(op.f("ix_articles_guid"), table_name="articles")
    op.drop_table("articles")
