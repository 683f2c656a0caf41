"""Readers' settings: editions, follows, quiet hours, digests, daily caps; breaking pushes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the reader settings to chats, follows, digests and their items, breaking, silent."""
    with op.batch_alter_table("chats") as batch:
        # Chats from before editions keep receiving every language.
        batch.add_column(sa.Column("edition", sa.String(8), server_default="all", nullable=False))
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=True))
        batch.add_column(sa.Column("quiet_start", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("quiet_end", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("quiet_silent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("digest", sa.String(8), server_default="off", nullable=False))
        batch.add_column(sa.Column("digest_at", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("digest_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("cap", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cap_day", sa.String(10), nullable=True))
        batch.add_column(sa.Column("cap_used", sa.Integer(), server_default="0", nullable=False))
        batch.create_index(op.f("ix_chats_digest_due_at"), ["digest_due_at"])
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(
            sa.Column("breaking", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(
            sa.Column("silent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "follows",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("phrase", sa.Text(), nullable=False),
        sa.Column("first_word", sa.Text(), nullable=False),
        sa.Column("shown", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.chat_id"],
            name=op.f("fk_follows_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "phrase", name=op.f("pk_follows")),
    )
    op.create_index(op.f("ix_follows_phrase"), "follows", ["phrase"])
    op.create_index(op.f("ix_follows_first_word"), "follows", ["first_word"])
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed')",
            name=op.f("ck_digests_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digests")),
    )
    op.create_index(op.f("ix_digests_chat_id"), "digests", ["chat_id"])
    op.create_index("ix_digests_status_id", "digests", ["status", "id"])
    op.create_table(
        "digest_items",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_digest_items_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_digest_items_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["digests.id"],
            name=op.f("fk_digest_items_digest_id_digests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("chat_id", "broadcast_id", name=op.f("pk_digest_items")),
    )
    op.create_index(op.f("ix_digest_items_article_id"), "digest_items", ["article_id"])
    op.create_index(op.f("ix_digest_items_digest_id"), "digest_items", ["digest_id"])
    op.create_index("ix_digest_items_chat_id_digest_id", "digest_items", ["chat_id", "digest_id"])


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table("digest_items")
    op.drop_table("digests")
    op.drop_table("follows")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("silent")
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_column("breaking")
    with op.batch_alter_table("chats") as batch:
        batch.drop_index(op.f("ix_chats_digest_due_at"))
        for column in (
            "cap_used",
            "cap_day",
            "cap",
            "digest_due_at",
            "digest_at",
            "digest",
            "quiet_silent",
            "quiet_end",
            "quiet_start",
            "timezone",
            "edition",
        ):
            batch.drop_column(column)
