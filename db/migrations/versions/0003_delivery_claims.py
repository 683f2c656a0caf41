"""Deliveries count their claims, so a message that keeps killing the deliverer stops being sent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add deliveries.claims (0 for the rows already there)."""
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("claims", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    """Drop deliveries.claims."""
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("claims")
