"""How an article will look, as the `preview --json` object: for a parsed or a stored article."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.newsroom.refusals import NoArticle
from content.article import Article, Section, utf16_length
from db import store
from db.models import ArticleRow, SectionRow


def preview_dict(
    article: Article, sections: Sequence[Section], summary: str, *, article_id: int | None = None
) -> dict[str, Any]:
    """The JSON shape of INTERFACE.md, plus the publication time."""
    return _preview(
        article,
        article_id,
        summary,
        list(article.topics),
        article.published,
        sections,
        article.image,
    )


async def stored_preview(*, session: AsyncSession, article_id: int) -> dict[str, Any]:
    """The same shape for a stored article, as readers get it; NoArticle when there is none."""
    row = await store.get_article(session=session, article_id=article_id)
    if row is None:
        raise NoArticle(article_id)
    sections = await row.awaitable_attrs.sections
    return _preview(
        row, row.id, row.summary, row.topic_names, row.published_at, sections, row.image_url
    )


def _preview(
    article: Article | ArticleRow,
    article_id: int | None,
    summary: str,
    topics: list[str],
    published: datetime | None,
    sections: Sequence[Section | SectionRow],
    image: str | None,
) -> dict[str, Any]:
    return {
        "id": article_id,
        "title": article.title,
        "byline": article.byline,
        "lead": article.lead,
        "summary": summary,
        "language": article.language,
        "topics": topics,
        "url": article.url,
        "image": image,
        "related": list(article.related),
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
