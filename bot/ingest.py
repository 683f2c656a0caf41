"""From parsed sources to stored articles: split, summarise, store (one unit of work)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import SECTION_CAP, button_url
from content.article import Article, Section
from content.assemble import normalize_topic
from content.sources import ParsedSource
from content.split import split_article
from content.summary import summarize
from db import store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Stored:
    """One ingested article: its id, how many sections, and whether it was new."""

    article_id: int
    sections: int
    title: str
    created: bool


def render(article: Article, *, target: int) -> tuple[list[Section], str]:
    """The sections as they will be sent, and the summary."""
    return split_article(article, target=target, cap=SECTION_CAP), summarize(article)


async def store_sources(
    *,
    session: AsyncSession,
    sources: Sequence[ParsedSource],
    topics: Sequence[str] = (),
    target: int,
) -> list[Stored]:
    """Store every article of the sources, adding `topics` to each; duplicates are not stored."""
    extra = tuple(t for t in (normalize_topic(topic) for topic in topics) if t)
    stored: list[Stored] = []
    for source in sources:
        for parsed in source.articles:
            article = dataclasses.replace(
                parsed, topics=tuple(dict.fromkeys((*parsed.topics, *extra)))
            )
            sections, summary = render(article, target=target)
            row, created = await store.add_article(
                session=session, article=article, sections=sections, summary=summary
            )
            stored.append(Stored(row.id, row.section_count, row.title, created))
            if created:
                _check_link(row.id, row.title, row.url)
    return stored


def _check_link(article_id: int, title: str, url: str | None) -> None:
    """One warning line when Telegram would refuse the source link on the card's button."""
    if not url:
        return
    link = button_url(url)
    if link is not None and link.lower() == url.lower():  # at most the host's case changed
        return
    what = "has no Source button" if link is None else f"gets the Source button {link}"
    log.warning(
        "article %s (%s): its link %r is not valid on a Telegram button; the card %s",
        article_id,
        title[:80],
        url[:200],
        what,
    )
