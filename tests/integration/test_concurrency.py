"""Several processes on one database: CLI commands at once on a fresh one, and two big ingests
beside a running bot, with no "database is locked" and no "table already exists".

SQLite has one write lock per file: each unit of work holds it from its start (BEGIN
IMMEDIATE) and an ingest commits article by article, so nobody waits long for it; migrations
run under a lock of their own. Every test runs on PostgreSQL too when it is configured.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.newsroom.clock import utcnow
from bot.telegram.callbacks import ReadSection
from db import broadcasts
from db.models import ArticleRow
from db.session import create_engine, create_sessionmaker, unit_of_work
from tests.integration.bot_fixtures import BotHarness
from tests.integration.db_fixtures import reset_postgresql
from tests.integration.delivery_fixtures import DeliveryWorld
from tests.integration.processes import wait_for_status
from tests.texts import SAMPLES

ENTRIES = 300  # a big feed: one transaction for all of it held the lock for several seconds
PARAGRAPHS = 40  # per entry: about a dozen sections each
SUBSCRIBERS = 60  # a broadcast the deliverer sends while the ingests run (2 s at 30/s)
READER = 1001
PROCESS_DEADLINE = 120.0  # seconds: generous, only to prove that nothing hangs
# Rounds of three commands on a fresh database: without the migration lock at least every other
# round failed with "already exists" (or a duplicate key on PostgreSQL); three rounds catch it.
ROUNDS = 3

# Imports the command line, says so with a ready-file and waits for a go-file, so the processes
# reach their migrations together instead of one interpreter start-up apart.
LAUNCHER = """
import pathlib, sys, time
import bot.cli
ready, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
ready.touch()
deadline = time.monotonic() + 100
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.002)
sys.argv = ["newsbot", *sys.argv[3:]]
bot.cli.main()
"""


@dataclass
class Finished:
    """A command's exit status and output."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


def command_environment(database_url: str) -> dict[str, str]:
    """This environment without any NEWSBOT_ setting, on the test's database."""
    variables = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    variables["NEWSBOT_DATABASE_URL"] = database_url
    return variables


async def run_newsbot(
    database_url: str, cwd: Path, *args: str, ready: Path | None = None, go: Path | None = None
) -> Finished:
    """Run one `newsbot` command in its own process; with `go`, it starts when the file exists."""
    if ready is None or go is None:
        command = [sys.executable, "-m", "bot", *args]
    else:
        command = [sys.executable, "-c", LAUNCHER, str(ready), str(go), *args]
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *command,
        env=command_environment(database_url),
        cwd=cwd,  # away from the checkout's own .env
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), PROCESS_DEADLINE)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return Finished(
        process.returncode, stdout.decode(), stderr.decode(), time.monotonic() - started
    )


def big_feed(path: Path, entries: int = ENTRIES, paragraphs: int = PARAGRAPHS) -> Path:
    """An RSS file of `entries` long stories, each with its own link and text."""
    words = (
        "the city council said on monday that new night bus lines will run every twenty "
        "minutes through the old town the river district and the university quarter"
    ).split()
    rng = random.Random(10)
    items = []
    for number in range(entries):
        body = "".join(
            f"<p>{' '.join(rng.choice(words) for _ in range(60)).capitalize()}, "
            f"story {number} paragraph {paragraph}.</p>"
            for paragraph in range(paragraphs)
        )
        items.append(
            f"<item><title>Story {number} from the city desk</title>"
            f"<link>https://news.example/city/{number}</link>"
            f'<guid isPermaLink="false">urn:city:{number}</guid><category>city</category>'
            f"<description><![CDATA[{body}]]></description></item>"
        )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape('City desk')}</title><link>https://news.example/</link>"
        f"<description>Many stories</description>{''.join(items)}</channel></rss>",
        encoding="utf-8",
    )
    return path


async def test_three_commands_started_at_once_on_a_fresh_database_all_succeed(
    database_url: str, tmp_path: Path
) -> None:
    commands = (
        ("ingest", str(SAMPLES / "en-night-buses.md")),
        ("articles",),
        ("db", "upgrade"),
    )
    # Every interpreter starts (and imports) at once; each round is then let go together.
    rounds = []
    readies: list[Path] = []
    for number in range(ROUNDS):
        go = tmp_path / f"go-{number}"
        tasks: list[asyncio.Task[Finished]] = []
        url = database_url
        if url.startswith("sqlite"):
            url = f"sqlite+aiosqlite:///{tmp_path / f'round-{number}.db'}"
        for index, args in enumerate(commands):
            ready = tmp_path / f"ready-{number}-{index}"
            readies.append(ready)
            command = run_newsbot(url, tmp_path, *args, ready=ready, go=go)
            tasks.append(asyncio.create_task(command))
        rounds.append((go, url, tasks))
    try:
        async with asyncio.timeout(PROCESS_DEADLINE):
            # Nothing to wait on but files that other processes create.
            while not all(ready.exists() for ready in readies):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        for go, url, tasks in rounds:
            if not url.startswith("sqlite"):
                await reset_postgresql(url)  # the same database, fresh for each round
            go.touch()
            finished = await asyncio.gather(*tasks)
            for outcome in finished:
                assert (outcome.returncode, outcome.stderr) == (0, ""), outcome.stderr
            assert finished[0].stdout.startswith("1\t")
            assert finished[2].stdout.strip() == "database is up to date"
            engine = create_engine(url)
            try:
                async with unit_of_work(create_sessionmaker(engine)) as session:
                    version = text("SELECT version_num FROM alembic_version")
                    assert len((await session.scalars(version)).all()) == 1
                    assert await session.scalar(select(func.count()).select_from(ArticleRow)) == 1
            finally:
                await engine.dispose()
    finally:
        for _, _, tasks in rounds:
            for task in tasks:
                task.cancel()  # a failed round leaves the later ones waiting: kill them
        await asyncio.gather(*(t for _, _, tasks in rounds for t in tasks), return_exceptions=True)


async def press_until(bot: BotHarness, article_id: int, done: asyncio.Event) -> list[float]:
    """Page through a story again and again until `done`; each press's seconds to its section."""
    latencies: list[float] = []
    while not done.is_set() or not latencies:
        # The reader never sent /start: not subscribed, so the broadcast does not interleave.
        (message,) = await bot.say(READER, f"/summary {article_id}")
        index = 1
        while (wanted := ReadSection(article_id, index).encode()) in message.callback_data():
            started = time.monotonic()
            # Each press writes how far the reader has read: it needs the write lock too.
            (message,) = await bot.press(READER, message, wanted)
            latencies.append(time.monotonic() - started)
            index += 1
    return latencies


async def watch_count(
    sessionmaker: async_sessionmaker[AsyncSession], done: asyncio.Event
) -> set[int]:
    """The numbers of stored articles another connection saw until `done`."""
    seen: set[int] = set()
    while not done.is_set():
        async with unit_of_work(sessionmaker, read_only=True) as session:
            count = await session.scalar(select(func.count()).select_from(ArticleRow))
        seen.add(count or 0)
        await asyncio.sleep(0.05)
    return seen


async def test_two_big_ingests_beside_a_running_bot_meet_no_lock_errors(
    bot: BotHarness,
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    feed = big_feed(tmp_path / "city.xml")
    sessionmaker: async_sessionmaker[AsyncSession] | None = bot.app.bot_data.sessionmaker
    assert sessionmaker is not None
    (story,) = await bot.ingest("ar-solar-station.txt")
    assert story.sections >= 3
    helpers = DeliveryWorld(sessionmaker, bot.api, None, None, None)  # type: ignore[arg-type]
    subscribers = await helpers.add_readers(range(2001, 2001 + SUBSCRIBERS))

    ingests = [
        asyncio.create_task(run_newsbot(database_url, tmp_path, "ingest", str(feed)))
        for _ in range(2)
    ]
    # The broadcast starts while the ingests parse, so the deliverer claims while they store.
    await asyncio.sleep(1.0)
    async with unit_of_work(sessionmaker) as session:
        row = await broadcasts.create_broadcast(
            session=session, article_id=story.article_id, due_at=datetime.now(UTC), now=utcnow()
        )
    done = asyncio.Event()
    reader = asyncio.create_task(press_until(bot, story.article_id, done))
    watcher = asyncio.create_task(watch_count(sessionmaker, done))
    try:
        finished = await asyncio.gather(*ingests)
    finally:
        done.set()
    latencies = await reader
    counts = await watcher
    await wait_for_status(sessionmaker, row.id, "done", within=PROCESS_DEADLINE)

    for outcome in finished:
        assert (outcome.returncode, outcome.stderr) == (0, ""), outcome.stderr[-3000:]
        lines = outcome.stdout.splitlines()
        assert len(lines) == ENTRIES
    # Each article was stored once, by whichever ingest came first; both name the same ids.
    ids = [sorted(line.split("\t")[0] for line in o.stdout.splitlines()) for o in finished]
    assert ids[0] == ids[1] and len(set(ids[0])) == ENTRIES
    created = sum("already stored" not in line for o in finished for line in o.stdout.splitlines())
    assert created == ENTRIES
    # Committed article by article: the others saw the feed arrive, not all of it at once
    # (one transaction for the whole feed kept readers and the deliverer waiting for seconds).
    arriving = sorted(count for count in counts if 1 < count < 1 + ENTRIES)
    assert len(arriving) >= 3, sorted(counts)
    problems = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == []
    cards = Counter(chat_id for _, chat_id, _ in bot.api.timeline)
    assert {chat: cards[chat] for chat in subscribers} == dict.fromkeys(subscribers, 1)
    median = sorted(latencies)[len(latencies) // 2]
    print(
        f"ingests {finished[0].seconds:.1f} s and {finished[1].seconds:.1f} s; "
        f"{len(latencies)} presses meanwhile, answered in {median:.2f} s (median), "
        f"{max(latencies):.2f} s (slowest); {len(arriving)} partial counts seen"
    )
