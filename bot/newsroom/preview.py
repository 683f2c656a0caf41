"""How an article will look, as the `preview --json` object: for a parsed or a stored article."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.newsroom.refusals import NoArticle
from content.article import Article, Section, utf16_length
from db import store
from db.models import SectionRow


def preview_dict(
    article: Article, sections: Sequence[Section], summary: str, *, article_id: int | None = None
) -> dict[str, Any]:
    """The JSON shape of INTERFACE.md, plus the publication time."""
    return _preview(
        article_id=article_id,
        title=article.title,
        byline=article.byline,
        lead=article.lead,
        summary=summary,
        language=article.language,
        topics=list(article.topics),
        url=article.url,
        related=list(article.related),
        published=article.published,
        sections=sections,
    )


async def stored_preview(*, session: AsyncSession, article_id: int) -> dict[str, Any]:
    """The same shape for a stored article, as readers get it; NoArticle when there is none."""
    row = await store.get_article(session=session, article_id=article_id)
    if row is None:
        raise NoArticle(article_id)
    return _preview(
        article_id=row.id,
        title=row.title,
        byline=row.byline,
        lead=row.lead,
        summary=row.summary,
        language=row.language,
        topics=row.topic_names,
        url=row.url,
        related=list(row.related),
        published=row.published_at,
        sections=await row.awaitable_attrs.sections,
    )


def _preview(
    *,
    article_id: int | None,
    title: str,
    byline: str | None,
    lead: str | None,
    summary: str,
    language: str,
    topics: list[str],
    url: str | None,
    related: list[str],
    published: datetime | None,
    sections: Sequence[Section | SectionRow],
) -> dict[str, Any]:
    return {
        "id": article_id,
        "title": title,
        "byline": byline,
        "lead": lead,
        "summary": summary,
        "language": language,
        "topics": topics,
        "url": url,
        "related": related,
        "published": published.isoformat() if published else None,
        "sections": [
            {
                "index": section.index,
                "heading": section.heading,
                "html": section.html,
                "text": section.text,
                "utf16_length": utf16_length(section.text),
            }
            for section in sections
        ],
    }
