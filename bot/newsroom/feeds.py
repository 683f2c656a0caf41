"""Poll RSS/Atom feeds (files or http(s) URLs): store new entries and push each one once.

Every feed has a FeedState. A poll asks only for what changed: URLs with the last answer's ETag
and Last-Modified (304 means nothing to do), files only when their mtime or size moved. An entry
is new when no stored article has its guid or link; new entries are stored one unit of work
each, and each article that store created gets a broadcast due now, so a re-announced entry is
never pushed twice.

The first poll after start pushes the entries that are not stored yet, rather than taking them
as a baseline: the database, not this process's memory, says what is known, so a restart never
repeats a story, and a story published while the bot was down (a deploy, a crash) still reaches
readers, which is what a publisher expects of its own feed. What a baseline would have guarded
against, a newly added feed flooding readers with its archive, is handled by age instead: an
entry published more than `max_age` ago is stored (readable with /latest) but not pushed.

A failing feed (network error, HTTP >= 400, not a feed, no readable entry) backs off
exponentially up to an hour; operators are told once per streak of failures, the log every time.
URLs are logged without their query and credentials, since feed URLs often carry keys.

Bounds: URLs are fetched by `bot.newsroom.fetch` (20 MiB decoded, one deadline, checked redirects
and addresses), and its refusals are feed failures like any other. Parsing and splitting run in a
worker thread, so a feed with a huge entry does not stall the bot. An entry that would take more
than MAX_SECTIONS sections is skipped with a log line; at most `max_pushes` new stories of one poll
are pushed (the first in the feed's order, where publishers put the newest), the rest are stored
unpushed with a log line, so a feed that suddenly lists hundreds of new entries cannot flood every
reader.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.newsroom import fetch
from bot.newsroom.clock import Clock, utcnow
from bot.newsroom.fetch import Fetcher, FetchError
from bot.newsroom.ingest import Rendered, TooManySections, prepare, store_and_push
from content.article import Article
from content.errors import ContentError
from content.feed_parser import FeedResult, parse_feed
from db import store
from db.session import unit_of_work

log = logging.getLogger(__name__)

MAX_SOURCE_BYTES = fetch.MAX_BYTES  # also for feeds read from files
MAX_PUSHES_PER_POLL = 20
MAX_BACKOFF = timedelta(hours=1)
# Older entries are stored but not pushed: news from yesterday is no longer news to push.
MAX_ENTRY_AGE = timedelta(hours=24)
MAX_REASON_CHARS = 300
# 2**16 intervals exceed any cap; a larger exponent would only risk overflowing timedelta.
_MAX_EXPONENT = 16

FailureCallback = Callable[[str, str], Awaitable[None]]


def is_url(source: str) -> bool:
    """Whether a configured feed is fetched over HTTP rather than read from a file."""
    return source.startswith(("http://", "https://"))


def redact(source: str) -> str:
    """The source as it may be logged or shown: a URL loses its credentials, query and fragment."""
    if not is_url(source):
        return source
    parts = urlsplit(source)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def backoff(interval: timedelta, failures: int) -> timedelta:
    """The wait after `failures` failures in a row: interval * 2**failures, at most an hour."""
    if failures <= 0:
        return interval
    # A feed polled less often than hourly never waits less than its own interval.
    cap = max(interval, MAX_BACKOFF)
    return min(interval * (1 << min(failures, _MAX_EXPONENT)), cap)


@dataclass
class FeedState:
    """What the poller remembers of one feed between polls."""

    source: str
    next_poll_at: datetime
    etag: str | None = None
    last_modified: str | None = None  # the Last-Modified header, sent back verbatim
    mtime_ns: int | None = None
    size: int | None = None
    failures: int = 0  # in a row; 0 after any success
    last_error: str | None = None

    @property
    def label(self) -> str:
        """The feed's name for logs and operators (a URL without its query)."""
        return redact(self.source)


class FeedFailure(Exception):
    """A poll of one feed failed; the message is one line for logs and operators."""


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A changed feed document and the validators to remember once it is stored."""

    data: bytes
    etag: str | None = None
    last_modified: str | None = None
    mtime_ns: int | None = None
    size: int | None = None


class FeedPoller:
    """Polls the configured feeds when due; stores new entries and schedules their broadcasts."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        sources: Sequence[str],
        interval: timedelta,
        target: int,
        clock: Clock = utcnow,
        fetcher: Fetcher | None = None,
        fetch_private: bool = False,
        fetch_deadline: float = fetch.DEADLINE,
        on_failure: FailureCallback | None = None,
        max_age: timedelta | None = MAX_ENTRY_AGE,
        max_pushes: int = MAX_PUSHES_PER_POLL,
    ) -> None:
        if interval <= timedelta(0):
            raise ValueError("the feed interval must be positive")
        self.sessionmaker = sessionmaker
        self.interval = interval
        self.target = target
        self.clock = clock
        self.on_failure = on_failure
        self.max_age = max_age
        self.max_pushes = max_pushes
        now = clock()
        # dict.fromkeys: a feed listed twice is still polled once.
        self.states = [FeedState(source, next_poll_at=now) for source in dict.fromkeys(sources)]
        # Without a fetcher of the caller's, the poller has its own (NEWSBOT_FETCH_* settings).
        self._owns_fetcher = fetcher is None
        self._fetcher = fetcher or Fetcher(allow_private=fetch_private, deadline=fetch_deadline)
        self._lock = asyncio.Lock()
        self.closed = False  # set by close(): the bot has let go of the poller

    @property
    def busy(self) -> bool:
        """Whether a poll is running now."""
        return self._lock.locked()

    async def poll_due(self) -> list[int]:
        """Poll every feed whose time has come; the ids of new articles that got a broadcast."""
        async with self._lock:
            now = self.clock()
            due = [state for state in self.states if state.next_poll_at <= now]
            if not due:
                return []
            # Downloads run side by side; storing runs one feed at a time, so SQLite's single
            # writer is never contended by this poller itself.
            fetched = await asyncio.gather(
                *(self._fetch(state) for state in due), return_exceptions=True
            )
            pushed: list[int] = []
            for state, result in zip(due, fetched, strict=True):
                pushed.extend(await self._settle(state, result, now))
            return pushed

    async def close(self) -> None:
        """Close the fetcher's connections if the fetcher is the poller's own."""
        if self._owns_fetcher:
            await self._fetcher.close()
        self.closed = True

    async def _settle(
        self, state: FeedState, result: _Fetched | BaseException | None, now: datetime
    ) -> list[int]:
        """Store what a fetch brought and schedule the feed's next poll; never raises."""
        pushed: list[int] = []
        try:
            if isinstance(result, BaseException):
                raise result
            if result is not None:
                pushed = await self._ingest(state, result)
                # Remembered only once stored: had the validators been kept and the store
                # failed, the next poll would get a 304 and those entries would be lost.
                state.etag, state.last_modified = result.etag, result.last_modified
                state.mtime_ns, state.size = result.mtime_ns, result.size
        except FeedFailure as failure:
            await self._failed(state, str(failure), now)
            return []
        except Exception as error:
            # Not the feed's fault (the database, say), but the poll job must survive it and
            # the feed must not be hammered meanwhile.
            log.exception("polling feed %s failed unexpectedly", state.label)
            await self._failed(state, f"internal error ({type(error).__name__})", now)
            return []
        if state.failures:
            log.info("feed %s works again after %d failures", state.label, state.failures)
        state.failures = 0
        state.last_error = None
        state.next_poll_at = now + self.interval
        return pushed

    async def _failed(self, state: FeedState, reason: str, now: datetime) -> None:
        state.failures += 1
        state.last_error = reason
        delay = backoff(self.interval, state.failures)
        state.next_poll_at = now + delay
        log.warning(
            "feed %s failed (%d in a row; next try in %s): %s",
            state.label,
            state.failures,
            delay,
            reason,
        )
        if state.failures == 1 and self.on_failure is not None:
            try:
                await self.on_failure(state.label, reason)
            except Exception:
                log.exception("could not report the failure of feed %s", state.label)

    # Fetching

    async def _fetch(self, state: FeedState) -> _Fetched | None:
        """The feed's document if it changed since the last successful poll, else None."""
        if is_url(state.source):
            return await self._fetch_url(state)
        return await asyncio.to_thread(_read_file, state.source, state.mtime_ns, state.size)

    async def _fetch_url(self, state: FeedState) -> _Fetched | None:
        headers = {}
        if state.etag is not None:
            headers["If-None-Match"] = state.etag
        if state.last_modified is not None:
            headers["If-Modified-Since"] = state.last_modified
        try:
            answer = await self._fetcher.get(state.source, headers=headers)
        except FetchError as error:
            raise FeedFailure(str(error)) from None
        if answer.status == 304:
            return None
        return _Fetched(answer.data, etag=answer.etag, last_modified=answer.last_modified)

    # Storing

    async def _ingest(self, state: FeedState, fetched: _Fetched) -> list[int]:
        """Parse, store the new entries and schedule the broadcasts of the first few."""
        try:
            # Read as a feed and nothing else (not parse_source, which sniffs): an error page or
            # a parked domain must never become a story pushed to every reader.
            feed: FeedResult = await asyncio.to_thread(parse_feed, fetched.data)
        except ContentError as error:
            raise FeedFailure(_shorten(str(error))) from None
        for reason in feed.skipped:
            log.info("feed %s: %s skipped", state.label, reason)
        async with unit_of_work(self.sessionmaker) as session:
            fresh = await self._new_entries(session, feed.articles)
        if not fresh:
            return []
        # Split outside any transaction: a big entry takes a while, and holds no lock meanwhile.
        rendered = await asyncio.to_thread(self._prepare, state, fresh)
        if not rendered:
            return []
        return await self._store(state, rendered, len(fresh))

    async def _store(self, state: FeedState, rendered: list[Rendered], fresh: int) -> list[int]:
        """Store the new entries and push the recent ones, at most max_pushes; the pushed ids."""
        # One unit of work per entry: a poll of many never holds SQLite's write lock for long.
        # An entry another process stored since the look-up is found by add_article
        # (created=False), so it is neither stored nor pushed twice; nor is one whose text is
        # already stored under another link (it was pushed then, or deliberately not).
        ingested = [
            item
            async for item in store_and_push(
                lambda: unit_of_work(self.sessionmaker),
                rendered,
                clock=self.clock,
                push_at=self._push_at,
                max_pushes=self.max_pushes,
            )
        ]
        pushed = [item.stored.article_id for item in ingested if item.broadcast_id is not None]
        held_back = sum(item.held_back for item in ingested)
        if held_back:
            log.warning(
                "feed %s: %d new stories in one poll; pushed the first %d, stored %d without a "
                "push (at most %d per poll)",
                state.label,
                len(pushed) + held_back,
                len(pushed),
                held_back,
                self.max_pushes,
            )
        log.info(
            "feed %s: %d new entries, %d stored, %d pushed",
            state.label,
            fresh,
            sum(item.stored.created for item in ingested),
            len(pushed),
        )
        return pushed

    def _prepare(self, state: FeedState, articles: Sequence[Article]) -> list[Rendered]:
        """Split and summarise each entry (in a worker thread); an oversized one is skipped."""
        rendered: list[Rendered] = []
        for article in articles:
            try:
                rendered.append(prepare(article, target=self.target))
            except TooManySections as error:
                log.warning("feed %s: entry skipped: %s", state.label, error)
        return rendered

    async def _new_entries(
        self, session: AsyncSession, articles: Sequence[Article]
    ) -> list[Article]:
        """The entries no stored article has the guid or link of, each once."""
        seen: set[str] = set()
        fresh: list[Article] = []
        for article in articles:
            keys = {f"guid:{article.guid}"} if article.guid else set()
            if article.url:
                keys.add(f"url:{article.url}")
            if keys & seen:
                continue  # the feed lists the same entry twice
            seen |= keys
            # Guid first: a publisher may fix an entry's link but keeps its guid. (Either match
            # makes the entry known; find_article itself looks at the link first.)
            if article.guid and await store.find_article(session=session, guid=article.guid):
                continue
            if article.url and await store.find_article(session=session, url=article.url):
                continue
            fresh.append(article)
        return fresh

    def _push_at(self, article: Article) -> datetime | None:
        """Now for a recent entry; None (stored, not pushed) for one older than max_age."""
        now = self.clock()
        # An entry without a date is pushed: it is new to us, and likely news.
        if self.max_age is None or article.published is None:
            return now
        return now if now - article.published <= self.max_age else None


def _shorten(reason: str) -> str:
    # A feed of many broken entries lists every one; operators need the gist in one message.
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"


def _too_large() -> str:
    return f"larger than {MAX_SOURCE_BYTES // 2**20} MiB"


def _read_file(path: str, mtime_ns: int | None, size: int | None) -> _Fetched | None:
    """The file's bytes if its mtime or size changed since the last successful read."""
    try:
        stat = os.stat(path)
        if (stat.st_mtime_ns, stat.st_size) == (mtime_ns, size):
            return None
        if stat.st_size > MAX_SOURCE_BYTES:
            raise FeedFailure(_too_large())
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise FeedFailure("no such file") from None
    except IsADirectoryError:
        raise FeedFailure("is a directory") from None
    except OSError as error:
        raise FeedFailure(f"cannot be read ({error.strerror})") from None
    return _Fetched(data, mtime_ns=stat.st_mtime_ns, size=stat.st_size)
