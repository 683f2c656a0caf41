"""Feed polling on every configured database, against a real HTTP feed server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.newsroom.feeds
import bot.newsroom.ingest
from bot.newsroom.clock import utcnow
from bot.newsroom.feeds import MAX_PUSHES_PER_POLL, FeedPoller, backoff, redact
from bot.newsroom.fetch import PRIVATE_HINT, USER_AGENT, Fetcher
from bot.newsroom.ingest import MAX_SECTIONS, store_rendered, store_sources
from bot.ops.runtime import running_bot
from bot.sandbox.botapi.server import FakeBotApi
from bot.settings import Settings
from content.feed_parser import FeedResult, parse_feed
from content.sources import parse_source
from content.split import split_article
from db import store
from db.migrate import upgrade
from db.models import ArticleRow, BroadcastRow
from db.session import create_engine, create_sessionmaker, unit_of_work
from tests.integration.hostile_http import HostileServer

pytest_plugins = ["tests.integration.db_fixtures"]

Sessionmaker = async_sessionmaker[AsyncSession]

START = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=5)
TARGET = 1200


# The feed


@dataclass(frozen=True)
class Entry:
    """One RSS item."""

    guid: str
    link: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime | None = START - timedelta(hours=1)


BUSES = Entry(
    guid="urn:newsbot-test:buses",
    link="https://news.example/en/night-buses",
    title="Night buses return to the old town",
    paragraphs=(
        "Three night bus lines will run again from Monday, the transport office said.",
        "The lines stopped during the road works and now run every twenty minutes.",
    ),
)
MARKET = Entry(
    guid="urn:newsbot-test:market",
    link="https://news.example/ar/market",
    title="سوق الخضار يفتح أبوابه يوم الجمعة",
    paragraphs=(
        "يفتح سوق الخضار الجديد أبوابه يوم الجمعة في الساحة الشرقية بعد عامين من البناء.",
        "ويضم السوق أكثر من مئة كشك للمزارعين من القرى المجاورة.",
    ),
    published=START - timedelta(hours=2),
)
BRIDGE = Entry(
    guid="urn:newsbot-test:bridge",
    link="https://news.example/en/bridge",
    title="The river bridge closes for repairs in June",
    paragraphs=(
        "The old river bridge will close for six weeks in June while its deck is replaced.",
        "Cyclists and walkers can use the ferry, which will run every quarter of an hour.",
    ),
    published=None,
)
LIBRARY = Entry(
    guid="urn:newsbot-test:library",
    link="https://news.example/ar/library",
    title="المكتبة العامة تمدد ساعات عملها",
    paragraphs=(
        "قررت المكتبة العامة تمديد ساعات عملها حتى منتصف الليل خلال فترة الامتحانات.",
        "وقالت إدارة المكتبة إنها تتوقع زيادة عدد الزوار في المساء.",
    ),
    published=START + timedelta(minutes=3),
)


def rss(*entries: Entry) -> bytes:
    """An RSS 2.0 document with these items."""
    items = []
    for entry in entries:
        body = "".join(f"<p>{paragraph}</p>" for paragraph in entry.paragraphs)
        date = (
            f"<pubDate>{format_datetime(entry.published, usegmt=True)}</pubDate>"
            if entry.published is not None
            else ""
        )
        items.append(
            f"<item><title>{escape(entry.title)}</title><link>{escape(entry.link)}</link>"
            f'<guid isPermaLink="false">{escape(entry.guid)}</guid>{date}'
            f"<description><![CDATA[{body}]]></description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        "<title>Test news</title><link>https://news.example/</link>"
        f"<description>Stories for the feed tests</description>{''.join(items)}"
        "</channel></rss>"
    ).encode()


@dataclass
class FeedServer:
    """An HTTP feed with validators; records what each request asked and what it got."""

    base: str = ""
    body: bytes = field(default_factory=lambda: rss(BUSES, MARKET, BRIDGE))
    etag: str | None = '"v1"'
    last_modified: str | None = "Mon, 04 May 2026 11:00:00 GMT"
    status: int = 200
    content_type: str = "application/rss+xml"
    requests: list[dict[str, str]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The feed's address, with a query that stands for an access key."""
        return f"{self.base}/feed.xml?key=s3cret-key"

    @property
    def chunked_url(self) -> str:
        """The same feed sent without a Content-Length."""
        return f"{self.base}/chunked.xml"

    def publish(self, *entries: Entry, etag: str) -> None:
        """Replace the feed by a new version."""
        self.body = rss(*entries)
        self.etag = etag
        self.last_modified = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer like a publisher's server: 304 when the client's ETag is current."""
        self.requests.append(dict(request.headers))
        response = self._answer(request)
        self.answers.append(response.status)
        return response

    def _answer(self, request: web.Request) -> web.Response:
        if self.status != 200:
            return web.Response(status=self.status, text="Internal trouble")
        if self.etag is not None and request.headers.get("If-None-Match") == self.etag:
            return web.Response(status=304)
        headers = {}
        if self.etag is not None:
            headers["ETag"] = self.etag
        if self.last_modified is not None:
            headers["Last-Modified"] = self.last_modified
        return web.Response(body=self.body, headers=headers, content_type=self.content_type)

    async def handle_chunked(self, request: web.Request) -> web.StreamResponse:
        """The feed in small chunks, with no Content-Length."""
        self.requests.append(dict(request.headers))
        response = web.StreamResponse(headers={"Content-Type": self.content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(self.body), 256):
            await response.write(self.body[start : start + 256])
        await response.write_eof()
        self.answers.append(response.status)
        return response


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    """A feed server on 127.0.0.1."""
    feed = FeedServer()
    app = web.Application()
    app.router.add_get("/feed.xml", feed.handle)
    app.router.add_get("/chunked.xml", feed.handle_chunked)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    feed.base = f"http://{host}:{port}"
    try:
        yield feed
    finally:
        await runner.cleanup()


# The poller


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move time forward."""
        self.now += delta


@dataclass
class Failures:
    """What the poller reported to operators."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, source: str, reason: str) -> None:
        self.calls.append((source, reason))


@pytest.fixture
def clock() -> Clock:
    """The poller's clock, at START."""
    return Clock()


@pytest.fixture
def failures() -> Failures:
    """The poller's on_failure, recording."""
    return Failures()


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    """A fetcher the test owns, allowed to reach the servers on 127.0.0.1."""
    async with Fetcher(allow_private=True) as fetcher:
        yield fetcher


MakePoller = Callable[..., FeedPoller]


@pytest.fixture
def make_poller(
    sessionmaker: Sessionmaker,
    clock: Clock,
    failures: Failures,
    fetcher: Fetcher,
) -> MakePoller:
    """Build a poller on the test database, clock and fetcher."""

    def make(*sources: str, **options: Any) -> FeedPoller:
        settings: dict[str, Any] = {
            "sessionmaker": sessionmaker,
            "sources": sources,
            "interval": INTERVAL,
            "target": TARGET,
            "clock": clock,
            "fetcher": fetcher,
            "on_failure": failures,
        }
        settings.update(options)
        return FeedPoller(**settings)

    return make


async def titles(sessionmaker: Sessionmaker) -> list[str]:
    """The titles of the stored articles, in id order."""
    async with unit_of_work(sessionmaker) as session:
        return list(await session.scalars(select(ArticleRow.title).order_by(ArticleRow.id)))


async def broadcast_rows(sessionmaker: Sessionmaker) -> list[BroadcastRow]:
    """Every broadcast, in id order."""
    async with unit_of_work(sessionmaker) as session:
        return list(await session.scalars(select(BroadcastRow).order_by(BroadcastRow.id)))


async def article_count(sessionmaker: Sessionmaker) -> int:
    """How many articles are stored."""
    async with unit_of_work(sessionmaker) as session:
        return await session.scalar(select(func.count()).select_from(ArticleRow)) or 0


async def store_feed(sessionmaker: Sessionmaker, *entries: Entry) -> None:
    """Store entries the way `newsbot ingest` would (without any broadcast)."""
    async with unit_of_work(sessionmaker) as session:
        await store_sources(
            session=session,
            sources=[parse_source(rss(*entries), name="x.xml")],
            target=TARGET,
            now=utcnow(),
        )


# Small pieces


def test_backoff_doubles_per_failure_up_to_an_hour() -> None:
    assert backoff(INTERVAL, 0) == INTERVAL
    assert backoff(INTERVAL, 1) == timedelta(minutes=10)
    assert backoff(INTERVAL, 3) == timedelta(minutes=40)
    assert backoff(INTERVAL, 4) == timedelta(hours=1)
    assert backoff(INTERVAL, 10_000) == timedelta(hours=1)
    # A feed polled every two hours is never polled more often because it fails.
    assert backoff(timedelta(hours=2), 3) == timedelta(hours=2)


def test_redact_keeps_host_and_path_only() -> None:
    assert (
        redact("https://user:pw@feeds.example:8443/a/rss.xml?token=abc#top")
        == "https://feeds.example:8443/a/rss.xml"
    )
    assert redact("/srv/feeds/local.xml") == "/srv/feeds/local.xml"


# Polling URLs


async def test_first_poll_stores_every_entry_and_schedules_one_broadcast_each(
    sessionmaker: Sessionmaker, server: FeedServer, make_poller: MakePoller
) -> None:
    poller = make_poller(server.url)

    pushed = await poller.poll_due()

    assert len(pushed) == 3
    assert await titles(sessionmaker) == [BUSES.title, MARKET.title, BRIDGE.title]
    rows = await broadcast_rows(sessionmaker)
    assert sorted(row.article_id for row in rows) == sorted(pushed)
    assert {(row.status, row.due_at.replace(tzinfo=UTC)) for row in rows} == {("scheduled", START)}
    async with unit_of_work(sessionmaker) as session:
        market = await store.find_article(session=session, guid=MARKET.guid)
    assert market is not None and market.language == "ar" and market.url == MARKET.link
    [asked] = server.requests
    assert asked["User-Agent"] == USER_AGENT
    assert "If-None-Match" not in asked and "If-Modified-Since" not in asked
    assert poller.states[0].etag == '"v1"'
    assert poller.states[0].next_poll_at == START + INTERVAL


async def test_an_unchanged_feed_costs_a_304_and_a_new_version_pushes_only_its_new_entry(
    sessionmaker: Sessionmaker, server: FeedServer, make_poller: MakePoller, clock: Clock
) -> None:
    poller = make_poller(server.url)
    first = await poller.poll_due()

    # Not due yet: no request at all.
    clock.advance(INTERVAL - timedelta(seconds=1))
    assert await poller.poll_due() == []
    assert len(server.requests) == 1

    clock.advance(timedelta(seconds=1))
    assert await poller.poll_due() == []
    assert server.requests[-1]["If-None-Match"] == '"v1"'
    assert server.requests[-1]["If-Modified-Since"] == "Mon, 04 May 2026 11:00:00 GMT"
    assert server.answers == [200, 304]

    server.publish(LIBRARY, BUSES, MARKET, BRIDGE, etag='"v2"')
    clock.advance(INTERVAL)
    new = await poller.poll_due()

    assert server.requests[-1]["If-None-Match"] == '"v1"'
    assert server.answers[-1] == 200
    assert len(new) == 1 and new[0] not in first
    assert (await titles(sessionmaker))[-1] == LIBRARY.title
    rows = await broadcast_rows(sessionmaker)
    assert [row.article_id for row in rows].count(new[0]) == 1
    assert len(rows) == 4

    # The new validators are used, and the server's lack of Last-Modified is respected.
    clock.advance(INTERVAL)
    assert await poller.poll_due() == []
    assert server.requests[-1]["If-None-Match"] == '"v2"'
    assert "If-Modified-Since" not in server.requests[-1]
    assert server.answers[-1] == 304
    assert len(await broadcast_rows(sessionmaker)) == 4


async def test_an_entry_known_by_its_guid_is_not_pushed_even_under_a_new_link(
    sessionmaker: Sessionmaker, server: FeedServer, make_poller: MakePoller
) -> None:
    await store_feed(sessionmaker, BUSES)
    # The publisher fixed the story's link and reworded it; the guid stayed.
    corrected = Entry(
        guid=BUSES.guid,
        link=BUSES.link + "-corrected",
        title=BUSES.title + " on Monday",
        paragraphs=(*BUSES.paragraphs, "Tickets cost the same as on day buses."),
    )
    server.publish(corrected, MARKET, etag='"v2"')

    pushed = await make_poller(server.url).poll_due()

    assert len(pushed) == 1
    assert await titles(sessionmaker) == [BUSES.title, MARKET.title]
    assert [row.article_id for row in await broadcast_rows(sessionmaker)] == pushed


async def test_an_entry_whose_text_is_already_stored_is_not_pushed(
    sessionmaker: Sessionmaker, server: FeedServer, make_poller: MakePoller
) -> None:
    # The same story under another guid and link (a syndicated copy): store says "not created".
    await store_feed(sessionmaker, BRIDGE)
    copy = Entry(
        guid="urn:elsewhere:1",
        link="https://elsewhere.example/bridge",
        title=BRIDGE.title,
        paragraphs=BRIDGE.paragraphs,
    )
    server.publish(copy, etag='"v2"')

    assert await make_poller(server.url).poll_due() == []
    assert await article_count(sessionmaker) == 1
    assert await broadcast_rows(sessionmaker) == []


async def test_entries_older_than_max_age_are_stored_but_not_pushed(
    sessionmaker: Sessionmaker, server: FeedServer, make_poller: MakePoller
) -> None:
    archive = Entry(
        guid="urn:newsbot-test:old",
        link="https://news.example/en/old",
        title="Last month's council vote",
        paragraphs=("The council voted on the budget last month.", "It passed by one vote."),
        published=START - timedelta(days=30),
    )
    server.publish(archive, BUSES, etag='"v2"')

    pushed = await make_poller(server.url).poll_due()

    assert await titles(sessionmaker) == [archive.title, BUSES.title]
    assert len(pushed) == 1
    async with unit_of_work(sessionmaker) as session:
        buses = await store.find_article(session=session, guid=BUSES.guid)
    assert buses is not None and pushed == [buses.id]


async def test_a_feed_that_fails_backs_off_is_reported_once_per_streak_and_recovers(
    sessionmaker: Sessionmaker,
    server: FeedServer,
    make_poller: MakePoller,
    clock: Clock,
    failures: Failures,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.newsroom.feeds")
    poller = make_poller(server.url)
    state = poller.states[0]
    good_body = server.body

    server.status = 500
    assert await poller.poll_due() == []
    assert state.failures == 1 and state.next_poll_at == clock.now + 2 * INTERVAL
    assert state.last_error == "the server answered HTTP 500"

    # Before the backed-off time nothing is asked.
    clock.advance(INTERVAL)
    assert await poller.poll_due() == []
    assert len(server.requests) == 1

    clock.advance(INTERVAL)
    assert await poller.poll_due() == []
    assert state.failures == 2 and state.next_poll_at == clock.now + 4 * INTERVAL

    # Garbage: a plain-text error page, then a feed without a single entry.
    server.status = 200
    server.body, server.etag = b"Service temporarily unavailable, try later", None
    clock.now = state.next_poll_at
    assert await poller.poll_due() == []
    assert state.failures == 3 and state.next_poll_at == clock.now + 8 * INTERVAL
    assert state.last_error is not None and "not an RSS or Atom feed" in state.last_error

    server.body = rss()
    clock.now = state.next_poll_at
    assert await poller.poll_due() == []
    assert state.failures == 4 and state.next_poll_at == clock.now + timedelta(hours=1)
    assert state.last_error is not None and "no entries" in state.last_error

    assert failures.calls == [(redact(server.url), "the server answered HTTP 500")]
    assert await article_count(sessionmaker) == 0

    # Recovery: everything is stored and pushed, and the streak is over.
    server.body, server.etag = good_body, '"v1"'
    clock.now = state.next_poll_at
    assert len(await poller.poll_due()) == 3
    assert state.failures == 0 and state.last_error is None
    assert state.next_poll_at == clock.now + INTERVAL

    # A new streak is reported again.
    server.status = 503
    clock.advance(INTERVAL)
    assert await poller.poll_due() == []
    assert [reason for _, reason in failures.calls] == [
        "the server answered HTTP 500",
        "the server answered HTTP 503",
    ]

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 5
    assert "s3cret" not in caplog.text
    assert all("s3cret" not in source for source, _ in failures.calls)


async def test_an_unreachable_server_is_a_failure_without_the_query_in_the_reason(
    make_poller: MakePoller, failures: Failures, caplog: pytest.LogCaptureFixture
) -> None:
    # A port nothing listens on (the server fixture is not used).
    poller = make_poller("http://127.0.0.1:9/feed.xml?key=s3cret-key")

    assert await poller.poll_due() == []

    [(source, reason)] = failures.calls
    assert source == "http://127.0.0.1:9/feed.xml"
    assert reason.startswith("cannot be fetched (")
    assert "s3cret" not in caplog.text


async def test_an_html_page_instead_of_a_feed_is_never_stored(
    sessionmaker: Sessionmaker, server: FeedServer, make_poller: MakePoller, failures: Failures
) -> None:
    server.body = (
        b"<!doctype html><html><head><title>Domain for sale</title></head>"
        b"<body><h1>This domain is for sale</h1><p>Call us today to buy it.</p></body></html>"
    )
    server.content_type = "text/html"

    assert await make_poller(server.url).poll_due() == []

    assert await article_count(sessionmaker) == 0
    [(source, reason)] = failures.calls
    assert source == redact(server.url) and reason.startswith("not an RSS or Atom feed")


async def test_an_oversized_answer_is_refused_with_or_without_a_length(
    sessionmaker: Sessionmaker,
    server: FeedServer,
    make_poller: MakePoller,
    failures: Failures,
) -> None:
    async with Fetcher(allow_private=True, max_bytes=len(server.body) - 1) as small:
        assert await make_poller(server.url, server.chunked_url, fetcher=small).poll_due() == []

    assert len(failures.calls) == 2
    assert all(reason.startswith("larger than") for _, reason in failures.calls)
    assert await article_count(sessionmaker) == 0


async def test_a_chunked_feed_within_the_cap_is_read(
    server: FeedServer, make_poller: MakePoller
) -> None:
    assert len(await make_poller(server.chunked_url).poll_due()) == 3


async def test_validators_are_kept_only_once_the_entries_are_stored(
    sessionmaker: Sessionmaker,
    server: FeedServer,
    make_poller: MakePoller,
    clock: Clock,
    failures: Failures,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    async def store_once_broken(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database went away")
        return await store_rendered(**kwargs)

    monkeypatch.setattr(bot.newsroom.ingest, "store_rendered", store_once_broken)
    poller = make_poller(server.url)

    assert await poller.poll_due() == []
    assert failures.calls == [(redact(server.url), "internal error (RuntimeError)")]
    assert poller.states[0].etag is None

    clock.now = poller.states[0].next_poll_at
    assert len(await poller.poll_due()) == 3
    assert "If-None-Match" not in server.requests[-1]
    assert server.answers[-1] == 200


async def test_a_poll_stores_entry_by_entry_and_a_failure_keeps_the_ones_before(
    sessionmaker: Sessionmaker,
    server: FeedServer,
    make_poller: MakePoller,
    clock: Clock,
    failures: Failures,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each entry gets a unit of work of its own: a poll of many never holds SQLite's write lock
    # for long, and another connection sees every entry stored before the next one starts.
    seen_before: list[int] = []

    async def counting_store(**kwargs: Any) -> Any:
        seen_before.append(await article_count(sessionmaker))
        if len(seen_before) == 3:
            raise RuntimeError("database went away")
        return await store_rendered(**kwargs)

    monkeypatch.setattr(bot.newsroom.ingest, "store_rendered", counting_store)
    poller = make_poller(server.url)

    assert await poller.poll_due() == []
    assert seen_before == [0, 1, 2]
    assert failures.calls == [(redact(server.url), "internal error (RuntimeError)")]
    # The two stored before the failure were pushed; the next poll takes only the third.
    assert len(await broadcast_rows(sessionmaker)) == 2
    clock.now = poller.states[0].next_poll_at
    assert len(await poller.poll_due()) == 1
    assert await titles(sessionmaker) == [BUSES.title, MARKET.title, BRIDGE.title]
    assert len(await broadcast_rows(sessionmaker)) == 3


async def test_a_failing_on_failure_does_not_escape_poll_due(
    server: FeedServer, make_poller: MakePoller
) -> None:
    async def broken(source: str, reason: str) -> None:
        raise RuntimeError("telegram is down")

    server.status = 500
    poller = make_poller(server.url, on_failure=broken)

    assert await poller.poll_due() == []
    assert poller.states[0].failures == 1


async def test_a_feed_listed_twice_is_polled_once(
    sessionmaker: Sessionmaker, server: FeedServer, make_poller: MakePoller
) -> None:
    poller = make_poller(server.url, server.url)

    assert len(await poller.poll_due()) == 3
    assert len(server.requests) == 1


async def test_the_poller_opens_and_closes_its_own_session(
    sessionmaker: Sessionmaker, server: FeedServer, make_poller: MakePoller
) -> None:
    poller = make_poller(server.url, fetcher=None, fetch_private=True)

    assert len(await poller.poll_due()) == 3
    await poller.close()
    await poller.close()


# Bounds


async def test_hostile_feeds_are_failures_and_the_poller_goes_on(
    sessionmaker: Sessionmaker,
    server: FeedServer,
    hostile: HostileServer,
    make_poller: MakePoller,
    failures: Failures,
    clock: Clock,
) -> None:
    bomb, drip, chain = (hostile.url(p) for p in ("/bomb?mib=64", "/drip", "/redirect/6"))
    async with Fetcher(allow_private=True, deadline=2) as fetcher:
        poller = make_poller(bomb, drip, chain, server.url, fetcher=fetcher)
        started = time.monotonic()
        pushed = await poller.poll_due()
        elapsed = time.monotonic() - started

        assert len(pushed) == 3  # the good feed, polled alongside
        assert sorted(failures.calls) == sorted(
            [
                (redact(bomb), "larger than 20 MiB"),
                (drip, "no answer within 2 s"),
                (chain, "more than 5 redirects"),
            ]
        )
        assert elapsed < 30  # the feeds are fetched side by side, each within its deadline
        assert [state.failures for state in poller.states] == [1, 1, 1, 0]

        # The poller goes on: the next poll of the healthy feed works as before.
        clock.advance(INTERVAL)
        assert await poller.poll_due() == []
        assert server.answers[-1] == 304


async def test_a_feed_on_an_inner_address_is_refused_unless_allowed(
    hostile: HostileServer, make_poller: MakePoller, failures: Failures
) -> None:
    redirected = hostile.url("/to?url=http://127.0.0.2/feed.xml")
    async with Fetcher(exempt={"127.0.0.1"}) as exempt:
        # The poller's own fetcher, as `newsbot run` builds it (NEWSBOT_FETCH_PRIVATE unset).
        own = make_poller(hostile.url("/feed.xml"), fetcher=None)
        assert await own.poll_due() == []
        await own.close()
        assert await make_poller(redirected, fetcher=exempt).poll_due() == []

    assert failures.calls == [
        (hostile.url("/feed.xml"), f"refused: 127.0.0.1 is a loopback address; {PRIVATE_HINT}"),
        (redact(redirected), f"refused: 127.0.0.2 is a loopback address; {PRIVATE_HINT}"),
    ]
    assert hostile.hits == {"/to": 1}  # the feed itself was never asked for


async def test_an_entry_over_the_section_cap_is_skipped_with_a_line_and_the_rest_stored(
    sessionmaker: Sessionmaker,
    server: FeedServer,
    make_poller: MakePoller,
    failures: Failures,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sentence = "The long report goes on with one more detail of the same long story. "
    endless = Entry(
        guid="urn:newsbot-test:endless",
        link="https://news.example/en/endless",
        title="An endless report",
        # At the smallest section target (100), far more than MAX_SECTIONS sections.
        paragraphs=tuple(sentence * 2 for _ in range(MAX_SECTIONS + 50)),
    )
    server.publish(BUSES, endless, MARKET, etag='"v2"')

    with caplog.at_level(logging.WARNING, logger="bot.newsroom.feeds"):
        pushed = await make_poller(server.url, target=100).poll_due()

    assert len(pushed) == 2
    assert await titles(sessionmaker) == [BUSES.title, MARKET.title]
    assert failures.calls == []  # the feed works; one entry of it is refused
    [line] = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert line.startswith(f"feed {redact(server.url)}: entry skipped: 'An endless report' would ")
    assert line.endswith(f" sections; an article may have at most {MAX_SECTIONS}")


async def test_at_most_max_pushes_new_stories_are_pushed_per_poll_the_rest_stored(
    sessionmaker: Sessionmaker,
    server: FeedServer,
    make_poller: MakePoller,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entries = [
        Entry(
            guid=f"urn:newsbot-test:flood-{number}",
            link=f"https://news.example/en/flood-{number}",
            title=f"Flood story number {number} of the day",
            paragraphs=(f"Story {number} says something new about the river level today.",),
        )
        for number in range(MAX_PUSHES_PER_POLL + 5)
    ]
    server.publish(*entries, etag='"v2"')

    with caplog.at_level(logging.WARNING, logger="bot.newsroom.feeds"):
        pushed = await make_poller(server.url).poll_due()

    assert await article_count(sessionmaker) == MAX_PUSHES_PER_POLL + 5
    rows = await broadcast_rows(sessionmaker)
    assert len(pushed) == len(rows) == MAX_PUSHES_PER_POLL
    async with unit_of_work(sessionmaker) as session:
        first = [
            await store.find_article(session=session, guid=entry.guid)
            for entry in entries[:MAX_PUSHES_PER_POLL]
        ]
    assert sorted(row.id for row in first if row is not None) == sorted(pushed)
    assert [r.getMessage() for r in caplog.records if "per poll" in r.getMessage()] == [
        f"feed {redact(server.url)}: {MAX_PUSHES_PER_POLL + 5} new stories in one poll; pushed "
        f"the first {MAX_PUSHES_PER_POLL}, stored 5 without a push (at most "
        f"{MAX_PUSHES_PER_POLL} per poll)"
    ]


async def test_parsing_and_splitting_run_off_the_event_loop(
    server: FeedServer, make_poller: MakePoller, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    threads: dict[str, set[int]] = {"parse": set(), "split": set()}

    def recording_parse(data: bytes) -> FeedResult:
        threads["parse"].add(threading.get_ident())
        return parse_feed(data)

    def recording_split(*args: Any, **kwargs: Any) -> Any:
        threads["split"].add(threading.get_ident())
        return split_article(*args, **kwargs)

    monkeypatch.setattr(bot.newsroom.feeds, "parse_feed", recording_parse)
    monkeypatch.setattr(bot.newsroom.ingest, "split_article", recording_split)

    assert len(await make_poller(server.url).poll_due()) == 3
    assert threads["parse"] and threads["split"]
    assert loop_thread not in threads["parse"] | threads["split"]


# Polling files


async def test_a_local_file_feed_is_read_again_only_when_it_changes(
    sessionmaker: Sessionmaker,
    make_poller: MakePoller,
    clock: Clock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[int] = []

    def counting_parse(data: bytes) -> FeedResult:
        parsed.append(len(data))
        return parse_feed(data)

    monkeypatch.setattr(bot.newsroom.feeds, "parse_feed", counting_parse)
    path = tmp_path / "local.rss"
    path.write_bytes(rss(BUSES, MARKET))
    poller = make_poller(str(path))

    assert len(await poller.poll_due()) == 2
    clock.advance(INTERVAL)
    assert await poller.poll_due() == []
    assert len(parsed) == 1

    path.write_bytes(rss(LIBRARY, BUSES, MARKET))
    clock.advance(INTERVAL)
    pushed = await poller.poll_due()
    assert len(pushed) == 1 and len(parsed) == 2
    assert (await titles(sessionmaker))[-1] == LIBRARY.title

    # Touched but not changed: read again, nothing new.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    clock.advance(INTERVAL)
    assert await poller.poll_due() == []
    assert len(parsed) == 3
    assert len(await broadcast_rows(sessionmaker)) == 3


async def test_a_missing_file_fails_and_is_read_once_it_appears(
    make_poller: MakePoller, clock: Clock, failures: Failures, tmp_path: Path
) -> None:
    path = tmp_path / "later.xml"
    poller = make_poller(str(path))

    assert await poller.poll_due() == []
    assert failures.calls == [(str(path), "no such file")]

    path.write_bytes(rss(BRIDGE))
    clock.now = poller.states[0].next_poll_at
    assert len(await poller.poll_due()) == 1
    assert poller.states[0].failures == 0


# The running bot


OPERATOR = 7001
READER = 7002


async def test_the_running_bot_pushes_feed_entries_and_tells_operators_of_a_broken_feed(
    fake_api: FakeBotApi, database_url: str, server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first run of the job may come before this process holds the delivery lock, and is
    # then skipped; a short interval keeps the test from waiting ten seconds for the next one.
    monkeypatch.setattr("bot.ops.runtime.JOB_INTERVAL", 0.2)
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            await store.ensure_chat(
                session=session,
                chat_id=READER,
                kind="private",
                telegram_language="en",
                now=utcnow(),
            )
            await store.subscribe(session=session, chat_id=READER, topic=None)
    finally:
        await engine.dispose()
    server.publish(BUSES, etag='"v1"')
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        token=SecretStr("123456:TEST-token-for-the-fake-api"),
        api_url=fake_api.url,
        database_url=database_url,
        language="en",
        operators=frozenset({OPERATOR}),
        feeds=(server.url, f"{server.base}/missing.xml?key=s3cret-key"),
        fetch_private=True,  # the feed server listens on 127.0.0.1
    )
    # The entry was published an hour before START; the bot's clock must agree it is fresh.
    async with running_bot(settings, clock=lambda: START) as runtime:
        [pushed] = await fake_api.wait_for_messages(READER, 1, timeout=10)
        [told] = await fake_api.wait_for_messages(OPERATOR, 1, timeout=10)

    assert BUSES.title in pushed.text
    assert told.text == (
        f"⚠️ The feed {server.base}/missing.xml could not be read: the server answered HTTP 404"
        "\nIt will be retried, less often."
    )
    assert len(fake_api.messages(OPERATOR)) == 1  # told once, however often the job ran
    assert runtime.feeds is not None and runtime.feeds.closed
