"""Send throughput against the fake Bot API running in its own process (a fresh one for each
row, so that every row meets the same server). Prints a table.

Each row times N sendMessage calls (one per private chat, created by the fake API on first
use), all of the same message, the story card a broadcast sends (HTML, a "Read more" and a
source button), one at a time and with 8 and 32 in flight (the broadcasts' concurrencies),
after a short untimed warm-up on the same connection pool: python-telegram-bot with its default
httpx request, python-telegram-bot with bot.request.AiohttpRequest, and aiogram (bench-only:
pip install -e '.[bench]').

A row is (name, messages, seconds). The newsbot rows time a whole broadcast with its database
bookkeeping (fan-out, claims, sends, recorded outcomes), once per --database-url, with the rate
limit lifted. The bot's memory during a broadcast is bench/broadcast_scale.py's figure: this
process also holds every library the rows compare.

Run: .venv/bin/python bench/fanout.py [--messages 5000] [--in-flight 8]
     [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test ...]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy import insert, make_url, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import ExtBot
from telegram.request import BaseRequest

from bot.delivery.deliverer import Deliverer
from bot.delivery.pacing import Pacer
from bot.delivery.request import AiohttpRequest
from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import store_sources
from bot.newsroom.sources import load_sources
from bot.sandbox.botapi.server import DEFAULT_TOKEN
from bot.settings import Settings
from bot.telegram.messages import story_card
from db import broadcasts
from db.broadcasts import Progress
from db.checkpoints import bot_engine
from db.migrate import upgrade
from db.models import ArticleRow, ChatRow, SubscriptionRow
from db.session import create_engine, create_sessionmaker, unit_of_work

TOKEN = DEFAULT_TOKEN
FIRST_CHAT = 10_000_000  # positive ids: the fake API creates them as private chats
WARM_UP = 50
# The broadcast's chats are new to the fake API's memory too: a range the library rows never use.
NEWSBOT_FIRST_CHAT = 50_000_000
NEWSBOT_CONCURRENCY = (8, 32)
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
# Every row sends the same message: the story card a broadcast sends (HTML, two buttons).
CARD_TEXT, _CARD_KEYBOARD = story_card(
    ArticleRow(
        id=1,
        title="City approves a night bus network after a year of debate",
        byline="Daniel Okafor",
        summary="Eight night routes will run from March, linking the old town, the hospital "
        "district and the airport until 5 a.m.",
        url="https://example.org/news/night-buses",
    ),
    "en",
    bot_username="newsbot_bench_bot",
)
assert _CARD_KEYBOARD is not None
CARD_KEYBOARD = _CARD_KEYBOARD
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
SERVER = Path(__file__).with_name("fake_api_server.py")

Row = tuple[str, int, float]
Measure = Callable[[str, str, int], Awaitable[float]]
Send = Callable[[int], Awaitable[object]]


class FakeApiProcess:
    """bench/fake_api_server.py in a child process; `url` once started, `stored` once stopped."""

    def __init__(self, token: str, *arguments: str) -> None:
        self.token = token
        self.arguments = arguments
        self.url = ""
        self.stored: int | None = None
        self.refused: int | None = None
        self.counts: dict[str, int] = {}  # every "name: N" line printed on exit
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Self:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SERVER),
            *self.arguments,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "FAKE_API_TOKEN": self.token},
        )
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), timeout=30)
        if not line.startswith(b"http"):
            await self._process.wait()
            raise RuntimeError(f"the fake API did not start (exit {self._process.returncode})")
        self.url = line.decode().strip()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        assert process.stdout is not None
        output = (await process.stdout.read()).decode()
        await process.wait()
        for line in output.splitlines():
            name, _, number = line.rpartition(": ")
            if name and number.isdigit():
                self.counts[name] = int(number)
            if line.startswith("sendMessage: "):
                self.stored = int(line.removeprefix("sendMessage: "))
            if line.startswith("refused: "):
                self.refused = int(line.removeprefix("refused: "))


async def timed(send: Send, messages: int, in_flight: int) -> float:
    """Seconds for send(0) .. send(messages - 1), `in_flight` at a time, after a warm-up."""

    async def drain(count: int) -> None:
        numbers = iter(range(count))

        async def worker() -> None:
            # Workers share one iterator, so each number is sent exactly once.
            for number in numbers:
                await send(number)

        async with asyncio.TaskGroup() as group:
            for _ in range(in_flight):
                group.create_task(worker())

    # Opens the pool's connections and warms both processes' code paths; not timed.
    await drain(min(WARM_UP, messages))
    started = time.perf_counter()
    await drain(messages)
    return time.perf_counter() - started


async def measure_ptb(
    api_url: str,
    token: str,
    messages: int,
    *,
    in_flight: int,
    request: Callable[[], BaseRequest] | None,
) -> float:
    """python-telegram-bot's Bot.send_message; its default httpx request unless given one."""
    async with Bot(
        token,
        base_url=f"{api_url}/bot",
        request=request() if request is not None else None,
        get_updates_request=request() if request is not None else None,
    ) as bot:

        async def send(number: int) -> object:
            return await bot.send_message(
                FIRST_CHAT + number,
                CARD_TEXT,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_markup=CARD_KEYBOARD,
            )

        return await timed(send, messages, in_flight)


async def measure_aiogram(api_url: str, token: str, messages: int, *, in_flight: int) -> float:
    """aiogram's Bot.send_message through its own aiohttp session."""
    # Imported here: aiogram's import alone holds over 100 MB, which bench/first_send.py (a user
    # of this module's helpers) would otherwise count as its own.
    from aiogram import Bot as AiogramBot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import InlineKeyboardMarkup as AiogramKeyboard
    from aiogram.types import LinkPreviewOptions as AiogramPreview

    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    keyboard = AiogramKeyboard.model_validate(CARD_KEYBOARD.to_dict())
    async with AiogramBot(token, session=session) as bot:

        async def send(number: int) -> object:
            return await bot.send_message(
                FIRST_CHAT + number,
                CARD_TEXT,
                parse_mode="HTML",
                link_preview_options=AiogramPreview(is_disabled=True),
                reply_markup=keyboard,
            )

        return await timed(send, messages, in_flight)


def measurements(in_flight: int) -> list[tuple[str, Measure]]:
    """The library rows, each (name, measure(api_url, token, messages) -> seconds)."""
    rows: list[tuple[str, Measure]] = []
    # The bare loops get every concurrency the broadcasts use, so the fastest of them is the
    # fastest a plain loop manages here.
    for concurrency in sorted({1, in_flight, *NEWSBOT_CONCURRENCY}):
        label = f"{concurrency} in flight"
        rows += [
            (f"PTB httpx, {label}", partial(measure_ptb, in_flight=concurrency, request=None)),
            (
                f"PTB AiohttpRequest, {label}",
                partial(measure_ptb, in_flight=concurrency, request=AiohttpRequest),
            ),
            (f"aiogram, {label}", partial(measure_aiogram, in_flight=concurrency)),
        ]
    return rows


async def measure_newsbot(
    api_url: str, token: str, messages: int, database_url: str, concurrency: int
) -> float:
    """A whole broadcast to `messages` subscribers: fan-out, claims, sends, outcomes, finish.

    The rate limit is lifted (no global window), per-chat pacing stays on; the clock runs from
    the start of the fan-out until the broadcast is marked done.
    """
    await fresh_database(database_url)
    # The bot's engine: on SQLite its commits leave WAL checkpoints to a checkpointer.
    async with bot_engine(database_url) as (engine, _checkpointer):
        sessionmaker = create_sessionmaker(engine)
        article_id = await seed(sessionmaker, messages)
        pacer = Pacer(rate=None, paid_rate=None)
        async with ExtBot(
            token,
            base_url=f"{api_url}/bot",
            request=AiohttpRequest(connection_pool_size=concurrency),
            rate_limiter=pacer,
        ) as bot:
            deliverer = Deliverer.for_settings(
                Settings(_env_file=None, language="en"),  # type: ignore[call-arg]
                bot=bot,
                sessionmaker=sessionmaker,
                clock=utcnow,
                concurrency=concurrency,
                batch_size=500,
            )
            seconds, queued, progress = await timed_broadcast(sessionmaker, deliverer, article_id)
        assert progress is not None and queued == messages
        if progress.broadcast.status != "done" or progress.sent != messages:
            raise RuntimeError(f"broadcast incomplete: {progress}")
        return seconds


async def timed_broadcast(
    sessionmaker: async_sessionmaker[AsyncSession], deliverer: Deliverer, article_id: int
) -> tuple[float, int | None, Progress | None]:
    """Broadcast an article now and deliver until nothing is left: (seconds, queued, progress).

    The clock runs from the fan-out until the last outcome is written.
    """
    started = time.perf_counter()
    now = datetime.now(UTC)
    async with unit_of_work(sessionmaker) as session:
        row = await broadcasts.create_broadcast(
            session=session, article_id=article_id, due_at=now, now=now
        )
        queued = await broadcasts.start_broadcast(session=session, broadcast_id=row.id, now=now)
    # Retries wait out their back-off; a later round sends them.
    while await deliverer.deliver_available():
        pass
    seconds = time.perf_counter() - started
    async with unit_of_work(sessionmaker) as session:
        progress = await broadcasts.broadcast_progress(session=session, broadcast_id=row.id)
    return seconds, queued, progress


async def fresh_database(database_url: str) -> None:
    """An empty database at the newest schema (everything in it is dropped)."""
    if database_url.startswith("postgresql"):
        await reset_postgresql(database_url)
    else:
        await asyncio.to_thread(remove_sqlite_files, make_url(database_url).database or "")
    await asyncio.to_thread(upgrade, database_url)


async def seed(sessionmaker: async_sessionmaker[AsyncSession], readers: int) -> int:
    """Store `readers` subscribed private chats and one article; return the article's id."""
    now = datetime.now(UTC)
    ids = range(NEWSBOT_FIRST_CHAT, NEWSBOT_FIRST_CHAT + readers)
    async with unit_of_work(sessionmaker) as session:
        await session.execute(
            insert(ChatRow),
            [
                {
                    "chat_id": chat_id,
                    "kind": "private",
                    "language": "en",
                    "active": True,
                    "joined_at": now,
                }
                for chat_id in ids
            ],
        )
        await session.execute(
            insert(SubscriptionRow), [{"chat_id": chat_id, "topic": "*"} for chat_id in ids]
        )
        (stored,) = await store_sources(
            session=session,
            sources=load_sources([str(SAMPLES / "en-night-buses.md")]),
            target=1200,
            now=utcnow(),
        )
    return stored.article_id


def remove_sqlite_files(database: str) -> None:
    """Start from no database file (and none of its WAL files)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


async def reset_postgresql(url: str) -> None:
    """Start from an empty schema, as the tests do (this drops everything in it)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


def backend(database_url: str) -> str:
    """The database kind of a SQLAlchemy URL, for a row name: sqlite, postgresql, ..."""
    return database_url.split(":", 1)[0].split("+", 1)[0]


async def run(messages: int, in_flight: int, database_urls: Sequence[str]) -> list[Row]:
    """Start the fake API in its own process, take every measurement, return the rows."""
    rows: list[Row] = []
    library = measurements(in_flight)
    stored = 0

    async def measured(name: str, measure: Callable[[str], Awaitable[float]]) -> None:
        # Each row has a fake API of its own: one that has stored every earlier row's messages
        # answers more slowly (a broadcast sent 3,500 msg/s as the first row, 3,000 as the
        # last), and the rows must meet the same server.
        nonlocal stored
        # And every row starts from the same heap: what earlier rows and libraries left alive
        # would otherwise be walked by each of this row's full collections.
        gc.collect()
        gc.freeze()
        async with FakeApiProcess(TOKEN) as server:
            rows.append((name, messages, await measure(server.url)))
        stored += server.stored or 0
        print(f"measured: {name}", file=sys.stderr, flush=True)

    for name, measure in library:

        def library_row(url: str, measure: Measure = measure) -> Awaitable[float]:
            return measure(url, TOKEN, messages)

        await measured(name, library_row)
    for database_url in database_urls:
        for concurrency in NEWSBOT_CONCURRENCY:
            await measured(
                f"newsbot broadcast, {backend(database_url)}, {concurrency} in flight",
                partial(
                    measure_newsbot,
                    token=TOKEN,
                    messages=messages,
                    database_url=database_url,
                    concurrency=concurrency,
                ),
            )
    sent = len(library) * (messages + min(WARM_UP, messages))
    print(f"the fake APIs stored {stored} messages; the library rows sent {sent}", file=sys.stderr)
    return rows


def print_table(rows: Sequence[Row]) -> None:
    """One line per (name, messages, seconds) row, with the rate."""
    width = max(len("name"), *(len(name) for name, _, _ in rows))
    print(f"{'name':<{width}}  {'messages':>8}  {'seconds':>7}  {'msg/s':>7}")
    for name, messages, seconds in rows:
        print(f"{name:<{width}}  {messages:>8,}  {seconds:>7.2f}  {messages / seconds:>7,.0f}")


def main() -> None:
    """Parse the arguments, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000, help="per row (default 5000)")
    parser.add_argument("--in-flight", type=int, default=8, help="concurrency (default 8)")
    parser.add_argument(
        "--database-url",
        action="append",
        default=None,
        help="for the newsbot row; repeatable (default: a temporary SQLite file)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database_urls = args.database_url or [f"sqlite+aiosqlite:///{Path(folder) / 'fanout.db'}"]
        rows = asyncio.run(run(args.messages, args.in_flight, database_urls))
    print_table(rows)


if __name__ == "__main__":
    main()
