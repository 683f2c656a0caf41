"""Store functions for changing a stored article: a revision in place, and a retraction.

A re-ingested source whose URL is stored with different words revises that article: same id, new
text, sections, summary and topics, the revision number raised. Readers in the middle of it keep
their place: at the section with the same sub-heading when there still is one, else at the same
index, never past the end. None of these commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from content.article import Article, Section
from content.fingerprint import content_hash
from db import search, store
from db.models import ArticleRow, ArticleTopicRow, ReadingRow, SectionRow


def new_positions(
    old: Sequence[tuple[int, str | None]], new: Sequence[tuple[int, str | None]]
) -> dict[int, int]:
    """Where a reader at each old section index continues: same heading, else same index.

    Both sequences hold (index, heading) in order; indexes past the new end map to the end.
    """
    first_with_heading: dict[str, int] = {}
    for index, heading in new:
        if heading:
            first_with_heading.setdefault(heading, index)
    last = len(new)
    moves: dict[int, int] = {}
    for index, heading in old:
        target = first_with_heading.get(heading) if heading else None
        moves[index] = target if target is not None else max(1, min(index, last))
    return moves


def _photo_values(row: ArticleRow, image: str | None) -> dict[str, str | None]:
    """A new lead image forgets the old photo's file_id and any refusal; the same keeps both."""
    if image == row.image_url:
        return {}
    return {"image_url": image, "photo_file_id": None, "photo_refused": None}


async def revise_article(
    *,
    session: AsyncSession,
    article_id: int,
    article: Article,
    sections: Sequence[Section],
    summary: str,
    now: datetime,
) -> ArticleRow | None:
    """Replace a stored article's content in place; None when its words did not change.

    Also None when another stored article already has exactly these words (the content hash
    is unique): that text is stored, under the other id.
    """
    row = await session.get(ArticleRow, article_id, populate_existing=True)
    if row is None:
        raise LookupError(f"no article {article_id}")
    fingerprint = content_hash(article)
    if fingerprint == row.content_hash:
        return None
    clash = await session.scalar(
        select(ArticleRow.id).where(
            ArticleRow.content_hash == fingerprint, ArticleRow.id != article_id
        )
    )
    if clash is not None:
        return None
    old = [
        (index, heading)
        for index, heading in await session.execute(
            select(SectionRow.index, SectionRow.heading)
            .where(SectionRow.article_id == article_id)
            .order_by(SectionRow.index)
        )
    ]
    new = [(section.index, section.heading) for section in sections]
    await session.execute(
        update(ArticleRow)
        .where(ArticleRow.id == article_id)
        .values(
            title=article.title,
            byline=article.byline,
            lead=article.lead,
            summary=summary,
            language=article.language,
            content_hash=fingerprint,
            published_at=article.published or row.published_at,
            related=list(article.related),
            section_count=len(sections),
            revision=ArticleRow.revision + 1,
            revised_at=now,
            **_photo_values(row, article.image),
        )
    )
    await session.execute(delete(SectionRow).where(SectionRow.article_id == article_id))
    await session.execute(delete(ArticleTopicRow).where(ArticleTopicRow.article_id == article_id))
    await store.add_topics_and_sections(
        session=session, article_id=article_id, article=article, sections=sections
    )
    moves = {old_index: to for old_index, to in new_positions(old, new).items() if to != old_index}
    if moves:
        # One statement for every reader, whatever their number: CASE reads the old index.
        await session.execute(
            update(ReadingRow)
            .where(
                ReadingRow.article_id == article_id,
                ReadingRow.section_index.in_(sorted(moves)),
            )
            .values(section_index=case(moves, value=ReadingRow.section_index))
        )
    revised = await session.scalar(
        select(ArticleRow)
        .where(ArticleRow.id == article_id)
        .options(selectinload(ArticleRow.sections), selectinload(ArticleRow.topics))
        .execution_options(populate_existing=True)
    )
    if revised is not None:
        # A search finds the story by its new words, not its old ones.
        await search.index_article(session=session, article=revised)
    return revised


async def retract_article(*, session: AsyncSession, article_id: int, now: datetime) -> bool:
    """Mark an article withdrawn; False when it was already (or does not exist)."""
    done = await session.scalar(
        update(ArticleRow)
        .where(ArticleRow.id == article_id, ArticleRow.retracted_at.is_(None))
        .values(retracted_at=now)
        .returning(ArticleRow.id)
    )
    if done is not None:
        await search.unindex_article(session=session, article_id=article_id)
    return done is not None
