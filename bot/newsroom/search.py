"""Finding stories: a reader's words, the stored stories that hold them, and cross-links.

The chat's `/search`, its "More" button and inline mode all come here; the words are folded by
content.normalise exactly as the stored text was (db.search), so "الطاقة الشمسية" finds
"الطاقةُ الشَّمسيّة" and "cafe" finds "Café".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from db import search, store
from db.models import ArticleRow
from db.search import Terms

PAGE_SIZE = 10
MAX_PAGES = 50  # deeper pages cost the database more and help nobody
MAX_QUERY_CHARS = 256  # what Telegram allows an inline query; a search says the same
MAX_WORDS = 10  # a search uses its first ten words
REMEMBER_SEARCHES = timedelta(days=7)  # a "More" button works this long after its search
INLINE_PAGE_SIZE = 20
INLINE_MAX_RESULTS = 200  # an inline query pages (next_offset) up to this many stories
MAX_RELATED = 5


class Refusal(StrEnum):
    """Why a search was not run."""

    EMPTY = "empty"  # no word at all (nothing, or only punctuation)
    TOO_LONG = "too_long"


@dataclass(frozen=True, slots=True)
class Results:
    """One page of a search's stories, best first."""

    key: str  # names the search for its "More" button
    terms: Terms
    page: int
    articles: list[ArticleRow]
    more: bool  # whether a next page has stories

    @property
    def first_number(self) -> int:
        """The position of the page's first story in the whole list (1-based)."""
        return (self.page - 1) * PAGE_SIZE + 1


def read_terms(text: str, *, prefix: bool = True) -> Terms | Refusal:
    """The reader's words as search terms, or why they cannot be searched.

    Anything is read literally: quotes, `*`, `-`, `:` and operator words such as AND, OR and
    NEAR are punctuation or plain words here, never search syntax.
    """
    if len(text) > MAX_QUERY_CHARS:
        return Refusal.TOO_LONG
    terms = search.terms_of(text, prefix=prefix)
    if not terms.words:
        return Refusal.EMPTY
    return Terms(terms.words[:MAX_WORDS], terms.prefix)


async def find(
    *, session: AsyncSession, terms: Terms, offset: int, limit: int
) -> tuple[list[ArticleRow], bool]:
    """Up to `limit` stories from `offset` on, best first; whether more follow."""
    ids = await search.find_article_ids(
        session=session, terms=terms, offset=offset, limit=limit + 1
    )
    articles = await search.load_articles(session=session, ids=ids[:limit])
    return articles, len(ids) > limit


async def _page(session: AsyncSession, key: str, terms: Terms, page: int) -> Results:
    page = min(max(page, 1), MAX_PAGES)
    articles, more = await find(
        session=session, terms=terms, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    return Results(key, terms, page, articles, more and page < MAX_PAGES)


async def search_stories(*, session: AsyncSession, text: str, now: datetime) -> Results | Refusal:
    """The first page of stories holding the reader's words; the search is kept for "More"."""
    terms = read_terms(text)
    if isinstance(terms, Refusal):
        return terms
    key = await search.remember_search(session=session, terms=terms, now=now)
    return await _page(session, key, terms, 1)


async def search_page(
    *, session: AsyncSession, key: str, page: int, now: datetime
) -> Results | None:
    """Another page of a kept search; None when it has been forgotten."""
    terms = await search.remembered_search(session=session, key=key)
    if terms is None:
        return None
    await search.remember_search(session=session, terms=terms, now=now)
    return await _page(session, key, terms, page)


async def forget_old_searches(*, session: AsyncSession, now: datetime) -> int:
    """Drop the searches whose "More" buttons have expired; how many."""
    return await search.forget_searches(session=session, before=now - REMEMBER_SEARCHES)


async def inline_stories(
    *, session: AsyncSession, text: str, offset: int
) -> tuple[list[ArticleRow], int | None]:
    """Stories for an inline query and the offset of the next batch (None: no more).

    An empty query lists the latest stories; unreadable or overlong words find nothing.
    """
    if not 0 <= offset < INLINE_MAX_RESULTS:
        return [], None
    limit = min(INLINE_PAGE_SIZE, INLINE_MAX_RESULTS - offset)
    if not text.strip():
        latest = await store.list_articles(session=session, limit=offset + limit + 1)
        articles, more = latest[offset : offset + limit], len(latest) > offset + limit
    else:
        terms = read_terms(text)
        if isinstance(terms, Refusal):
            return [], None
        articles, more = await find(session=session, terms=terms, offset=offset, limit=limit)
    following = offset + limit
    return articles, following if more and following < INLINE_MAX_RESULTS else None


async def related_stories(*, session: AsyncSession, article: ArticleRow) -> list[ArticleRow]:
    """The stored stories this one cross-links ("Read also"), matched by normalised title."""
    return await related_to(session=session, article_id=article.id, related=article.related or [])


async def related_to(
    *, session: AsyncSession, article_id: int, related: Sequence[str]
) -> list[ArticleRow]:
    """The stored stories an article's "Read also" titles name, without loading the article."""
    titles = list(related)[: MAX_RELATED * 4]
    found = await search.articles_titled(session=session, titles=titles, exclude=article_id)
    return found[:MAX_RELATED]
