"""Article revisions and retractions, correction and retraction jobs, channels, forum threads.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add revision and retraction columns, the broadcast kind, channels and forum threads."""
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("revised_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("retracted_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), server_default="push", nullable=False)
        )
        batch.create_check_constraint(
            op.f("ck_broadcasts_kind"), "kind IN ('push', 'correct', 'retract')"
        )
    op.create_table(
        "channels",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_channels")),
    )
    op.create_table(
        "forum_threads",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.chat_id"],
            name=op.f("fk_forum_threads_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", "topic", name=op.f("pk_forum_threads")),
    )


def downgrade() -> None:
    """Drop forum threads and channels, the broadcast kind and the article columns."""
    op.drop_table("forum_threads")
    op.drop_table("channels")
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_constraint(op.f("ck_broadcasts_kind"), type_="check")
        batch.drop_column("kind")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("retracted_at")
        batch.drop_column("revised_at")
        batch.drop_column("revision")
