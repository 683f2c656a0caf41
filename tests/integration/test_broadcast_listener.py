"""A broadcast written by another process starts at once, not at the scheduler's next tick.

The bot runs with its tick an hour apart, after one tick by hand that takes the delivery lock:
whatever is delivered within the test's wait was started by the listener. `newsbot publish` runs
as a process of its own, as an editor runs it beside the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

import db.signals
from bot.newsroom import broadcasts as newsroom
from bot.newsroom.clock import utcnow
from bot.ops.runtime import running_bot
from bot.sandbox.botapi.server import FakeBotApi
from bot.sandbox.botapi.state import BotMessage
from bot.settings import Settings
from db.migrate import upgrade
from db.session import create_engine, create_sessionmaker, unit_of_work
from tests.integration.bot_fixtures import OPERATOR, TOKEN, BotHarness

READER = 4242
LONG_TICK = 3600.0  # seconds: no fallback tick comes within a test
WAIT = 20.0  # seconds: generous for a busy machine, and far below LONG_TICK


@contextlib.asynccontextmanager
async def running(
    fake_api: FakeBotApi, database_url: str, tick_interval: float
) -> AsyncIterator[BotHarness]:
    """The bot polling the fake API, with its tick `tick_interval` apart, once it delivers."""
    await asyncio.to_thread(upgrade, database_url)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        token=TOKEN,
        api_url=fake_api.url,
        database_url=database_url,
        language="en",
        operators=frozenset({OPERATOR}),
    )
    async with running_bot(settings, tick_interval=tick_interval) as runtime:
        await runtime.poll(poll_timeout=1)
        bot = BotHarness(runtime.app, fake_api, settings)

        # Take the delivery lock now: the repeating tick's first run is tick_interval away.
        await runtime.scheduler.tick()
        assert runtime.scheduler.delivering
        yield bot


@pytest.fixture
async def slow_tick_bot(fake_api: FakeBotApi, database_url: str) -> AsyncIterator[BotHarness]:
    """The bot with its fallback tick an hour apart."""
    async with running(fake_api, database_url, LONG_TICK) as bot:
        yield bot


async def reader_and_article(bot: BotHarness) -> tuple[int, str]:
    """A reader subscribed to everything, and a stored article: its id and title."""
    await bot.say(READER, "/start")
    (stored,) = await bot.ingest("en-night-buses.md")
    return stored.article_id, stored.title


async def card(bot: BotHarness, title: str) -> BotMessage:
    """Wait for the reader's story card with this title."""
    found = await bot.api.wait_for(
        lambda: [m for m in bot.api.messages(READER) if title in m.text],
        WAIT,
        description=f"the card of {title!r}",
    )
    return found[0]


async def run_newsbot(database_url: str, *args: str) -> None:
    """`newsbot ARGS` as a process of its own; it must succeed."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSBOT_")}
    env["NEWSBOT_DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()


async def test_a_publish_from_another_process_is_delivered_without_waiting_for_the_tick(
    slow_tick_bot: BotHarness, database_url: str
) -> None:
    article_id, title = await reader_and_article(slow_tick_bot)
    await run_newsbot(database_url, "publish", str(article_id))
    await card(slow_tick_bot, title)


async def test_a_broadcast_scheduled_in_another_unit_of_work_starts_at_once(
    slow_tick_bot: BotHarness, database_url: str
) -> None:
    article_id, title = await reader_and_article(slow_tick_bot)
    engine = create_engine(database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            await newsroom.schedule(
                session=session, article_id=article_id, when="now", now=utcnow(), zone="UTC"
            )
    finally:
        await engine.dispose()
    await card(slow_tick_bot, title)


async def listener_pids(database_url: str) -> set[int]:
    """The server processes of the bot's listening connections."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": db.signals.LISTENER_NAME},
            )
            return {row.pid for row in rows}
    finally:
        await engine.dispose()


async def test_the_listener_listens_again_after_its_connection_is_killed(
    slow_tick_bot: BotHarness, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    bot = slow_tick_bot
    article_id, title = await reader_and_article(bot)
    (killed,) = await listener_pids(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": killed})
    finally:
        await engine.dispose()

    async def listening_again() -> bool:
        pids = await listener_pids(database_url)
        return bool(pids) and killed not in pids

    await bot.eventually(listening_again, "a new listening connection", within=WAIT)
    await run_newsbot(database_url, "publish", str(article_id))
    await card(bot, title)


class BrokenWatcher:
    """A watcher that fails every time it is started."""

    def __init__(self) -> None:
        self.starts = 0

    async def watch(self, changed: Callable[[], None], ready: Callable[[], None]) -> None:
        """Fail at once."""
        self.starts += 1
        raise ConnectionRefusedError("no listening today")


async def test_a_failing_listener_is_logged_and_the_tick_still_delivers(
    fake_api: FakeBotApi,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    watcher = BrokenWatcher()
    monkeypatch.setattr(db.signals, "watcher_for", lambda _engine: watcher)
    caplog.set_level(logging.WARNING, logger="bot.delivery.listener")
    async with running(fake_api, database_url, tick_interval=1.0) as bot:
        article_id, title = await reader_and_article(bot)
        await run_newsbot(database_url, "publish", str(article_id))
        await card(bot, title)
    assert watcher.starts >= 1
    failures = [r for r in caplog.records if "broadcast listener failed" in r.getMessage()]
    assert failures and "ConnectionRefusedError" in failures[0].getMessage()


async def test_a_rolled_back_unit_of_work_announces_nothing(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    engine = create_engine(database_url)
    _, options = engine.dialect.create_connect_args(engine.url)
    options.pop("prepared_statement_cache_size", None)
    listening = await asyncpg.connect(**options)
    payloads: list[str] = []
    heard = asyncio.Event()

    def hear(*notification: Any) -> None:
        payloads.append(notification[-1])
        if notification[-1] == "marker":
            heard.set()

    try:
        await listening.add_listener(db.signals.CHANNEL, hear)
        sessionmaker = create_sessionmaker(engine)
        with pytest.raises(RuntimeError):
            async with unit_of_work(sessionmaker) as session:
                await db.signals.announce(session=session)
                raise RuntimeError("refused after announcing")
        async with unit_of_work(sessionmaker) as session:
            await db.signals.announce(session=session)
        async with unit_of_work(sessionmaker) as session:
            await session.execute(text(f"NOTIFY {db.signals.CHANNEL}, 'marker'"))
        await asyncio.wait_for(heard.wait(), WAIT)
        # Notifications arrive in commit order: all three would be here, the marker last.
        assert payloads == ["", "marker"]
    finally:
        await listening.close()
        await engine.dispose()
