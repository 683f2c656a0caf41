"""Handled update ids, and the chat message each operator's broadcast came from.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create handled_updates; add the source message columns to broadcasts."""
    op.create_table(
        "handled_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_handled_updates")),
    )
    op.create_index(op.f("ix_handled_updates_handled_at"), "handled_updates", ["handled_at"])
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(sa.Column("source_chat_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("source_message_id", sa.BigInteger(), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_broadcasts_source_chat_id_source_message_id"),
            ["source_chat_id", "source_message_id"],
        )


def downgrade() -> None:
    """Drop the source message columns and handled_updates."""
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_constraint(
            op.f("uq_broadcasts_source_chat_id_source_message_id"), type_="unique"
        )
        batch.drop_column("source_message_id")
        batch.drop_column("source_chat_id")
    op.drop_table("handled_updates")
