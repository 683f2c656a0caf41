"""From parsed sources to stored articles: split, summarise, store, and push the new ones."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.newsroom.clock import Clock
from bot.newsroom.links import button_url
from content.article import Article, Section
from content.assemble import normalize_topic
from content.errors import ContentError
from content.sources import ParsedSource
from content.split import MAX_SECTION_UTF16, split_article
from content.summary import summarize
from db import broadcasts, revisions, signals, store

log = logging.getLogger(__name__)

# A reader pages through an article one message at a time: 500 sections is already a book, and
# an article beyond it is refused rather than stored cut short or sent as thousands of messages.
MAX_SECTIONS = 500
# The last section carries an end mark; sections are cut short enough that it always fits.
END_MARK_RESERVE = 32
SECTION_CAP = MAX_SECTION_UTF16 - END_MARK_RESERVE
_TITLE_IN_REASON = 80


class TooManySections(ContentError):
    """An article that would take more than MAX_SECTIONS sections."""


@dataclass(frozen=True, slots=True)
class Stored:
    """One ingested article: its id, how many sections, and whether it was new."""

    article_id: int
    sections: int
    title: str
    created: bool
    # Already stored under its URL with other words: revised in place (same id).
    updated: bool = False


@dataclass(frozen=True, slots=True)
class Ingested:
    """One article stored by `store_and_push`, and the broadcast that pushes it, if any."""

    stored: Stored
    broadcast_id: int | None = None
    # It was to be pushed, but `max_pushes` broadcasts had already been made: stored unpushed.
    held_back: bool = False


# When a newly stored article is to be pushed, or None for not at all.
PushAt = Callable[[Article], datetime | None]
UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass(frozen=True, slots=True)
class Rendered:
    """An article ready to store: its sections and summary."""

    article: Article
    sections: list[Section]
    summary: str


def render(article: Article, *, target: int) -> tuple[list[Section], str]:
    """The sections as they will be sent, and the summary; TooManySections past the cap."""
    # Every character but white space lands in a section of at most SECTION_CAP: a body far
    # over the cap is refused without the seconds a split of megabytes takes.
    visible = sum(len("".join(block.text.split())) for block in article.blocks)
    at_least = -(-visible // SECTION_CAP)
    if at_least > MAX_SECTIONS:
        raise _too_many(article, f"at least {at_least}")
    sections = split_article(article, target=target, cap=SECTION_CAP)
    if len(sections) > MAX_SECTIONS:
        raise _too_many(article, str(len(sections)))
    return sections, summarize(article)


def _too_many(article: Article, count: str) -> TooManySections:
    title = article.title
    if len(title) > _TITLE_IN_REASON:
        title = title[: _TITLE_IN_REASON - 1] + "…"
    return TooManySections(
        f"{title!r} would be {count} sections; an article may have at most {MAX_SECTIONS}"
    )


def prepare(article: Article, *, target: int, topics: Sequence[str] = ()) -> Rendered:
    """Add `topics` to the article, then split and summarise it (CPU work: run it in a thread)."""
    extra = tuple(t for t in (normalize_topic(topic) for topic in topics) if t)
    article = dataclasses.replace(article, topics=tuple(dict.fromkeys((*article.topics, *extra))))
    sections, summary = render(article, target=target)
    return Rendered(article, sections, summary)


async def store_sources(
    *,
    session: AsyncSession,
    sources: Sequence[ParsedSource],
    topics: Sequence[str] = (),
    target: int,
    now: datetime,
) -> list[Stored]:
    """Store every article of the sources, adding `topics` to each; duplicates are not stored.

    Splitting runs in a worker thread, so a big source does not stall the event loop; an
    article over MAX_SECTIONS raises TooManySections naming its source, and nothing is stored.
    One unit of work for all suits a few articles; for many, `store_and_push` stores each in a
    unit of work of its own, so no write lock is held for long.
    """
    rendered = await asyncio.to_thread(prepare_sources, sources, topics, target)
    return await store_rendered(session=session, rendered=rendered, now=now)


async def store_rendered(
    *, session: AsyncSession, rendered: Iterable[Rendered], now: datetime
) -> list[Stored]:
    """Store prepared articles; one already stored (same URL or text) is not stored again."""
    stored: list[Stored] = []
    for item in rendered:
        row, created = await store.add_article(
            session=session,
            article=item.article,
            sections=item.sections,
            summary=item.summary,
            now=now,
        )
        updated = False
        if not created and row.url is not None and row.url == (item.article.url or None):
            revised = await revisions.revise_article(
                session=session,
                article_id=row.id,
                article=item.article,
                sections=item.sections,
                summary=item.summary,
                now=now,
            )
            if revised is not None:
                row, updated = revised, True
                log.info("article %s revised (revision %s)", row.id, row.revision)
        stored.append(Stored(row.id, row.section_count, row.title, created, updated))
        if created:
            _check_link(row.id, row.title, row.url)
    return stored


async def store_and_push(
    unit_of_work: UnitOfWork,
    rendered: Iterable[Rendered],
    *,
    clock: Clock,
    push_at: PushAt | None = None,
    max_pushes: int | None = None,
) -> AsyncIterator[Ingested]:
    """Store prepared articles, each in a unit of work of its own, and push the new ones.

    Each article that this store created (not one already stored, by URL or text: that one was
    pushed, or deliberately not, when it first came) gets a broadcast due at `push_at(article)`
    in the same unit of work, unless that is None or `max_pushes` broadcasts were made already.
    An item is yielded once committed, so a caller that prints it prints what is stored; and no
    write lock is held for more than one article, so readers, the deliverer and another ingest
    get their turns in between.
    """
    pushes = 0
    for item in rendered:
        async with unit_of_work() as session:
            now = clock()
            (stored,) = await store_rendered(session=session, rendered=[item], now=now)
            due_at = push_at(item.article) if push_at is not None and stored.created else None
            broadcast_id = None
            held_back = False
            if due_at is not None and max_pushes is not None and pushes >= max_pushes:
                held_back = True
            elif due_at is not None:
                row = await broadcasts.create_broadcast(
                    session=session, article_id=stored.article_id, due_at=due_at, now=now
                )
                broadcast_id = row.id
                pushes += 1
                await signals.announce(session=session)
        yield Ingested(stored, broadcast_id, held_back)


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


def prepare_sources(
    sources: Sequence[ParsedSource], topics: Sequence[str], target: int
) -> list[Rendered]:
    """Prepare every article of the sources; TooManySections names the source of the first."""
    rendered: list[Rendered] = []
    for source in sources:
        for article in source.articles:
            try:
                rendered.append(prepare(article, target=target, topics=topics))
            except TooManySections as error:
                raise TooManySections(f"{source.name}: {error}") from None
    return rendered
