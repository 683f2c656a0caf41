"""Store operations only tests need: newsbot itself never deletes an article or counts readers
apart from a broadcast's progress."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ArticleRow, ReadingRow


async def delete_article(*, session: AsyncSession, article_id: int) -> bool:
    """Delete an article with its topics, sections and readings; return whether it existed."""
    deleted = await session.scalar(
        delete(ArticleRow).where(ArticleRow.id == article_id).returning(ArticleRow.id)
    )
    return deleted is not None


async def count_readers(*, session: AsyncSession, article_id: int) -> int:
    """Count the chats that opened an article beyond its summary."""
    stmt = select(func.count()).select_from(ReadingRow).where(ReadingRow.article_id == article_id)
    return (await session.execute(stmt)).scalar_one()
