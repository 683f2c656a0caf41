"""Articles' lead images: the image URL, Telegram's file_id for it, and why it was refused.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add image_url, photo_file_id and photo_refused to articles."""
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("image_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("photo_file_id", sa.Text(), nullable=True))
        batch.add_column(sa.Column("photo_refused", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop the lead image columns."""
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("photo_refused")
        batch.drop_column("photo_file_id")
        batch.drop_column("image_url")
