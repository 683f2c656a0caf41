"""The command line's output forms: tab-separated lines when piped, `--json`, terminal tables,
`--version`, a bad source listed with every other one, and what it says when no bot delivers.

In-process through Typer's runner, whose stdout is not a terminal (as in `newsbot … | cat`);
on SQLite and, when NEWSBOT_TEST_DATABASE_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

import bot.newsroom.broadcasts
import db.broadcasts
from bot.cli import app
from bot.cli.views import (
    ARTICLE_KEYS,
    BROADCAST_KEYS,
    broadcast_record,
    progress_table,
    stats_line,
)
from db import store
from db.broadcasts import Progress
from db.lock import delivery_lock
from db.models import BroadcastRow
from db.session import create_engine, create_sessionmaker, unit_of_work
from tests.integration.db_fixtures import POSTGRESQL_URL_VARIABLE, reset_postgresql
from tests.texts import SAMPLES

NIGHT_BUSES = str(SAMPLES / "en-night-buses.md")
NIGHT_BUSES_TITLE = "City approves a night bus network after a year of debate"
SOLAR_TITLE = "محطة شمسية جديدة على أطراف المدينة.. هل تنهي انقطاع الكهرباء في الصيف؟"


@dataclass
class Outcome:
    """What one command printed and returned."""

    returncode: int
    stdout: str
    stderr: str


def _urls() -> list[Any]:
    params: list[Any] = [pytest.param("sqlite", id="sqlite")]
    if os.environ.get(POSTGRESQL_URL_VARIABLE):
        params.append(pytest.param(os.environ[POSTGRESQL_URL_VARIABLE], id="postgresql"))
    return params


@pytest.fixture(params=_urls())
def database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The URL every `newsbot` command of the test uses: an empty database."""
    url = str(request.param)
    if url == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    else:
        asyncio.run(reset_postgresql(url))
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", url)
    monkeypatch.setenv("NEWSBOT_OPERATORS", "")
    yield url


def newsbot(*args: str) -> Outcome:
    """Run one `newsbot` command."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


def test_version() -> None:
    result = newsbot("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("newsbot 0.")


def test_piped_articles_are_one_line_each_and_json_has_stable_keys(database: str) -> None:
    ingested = newsbot("ingest", str(SAMPLES))
    assert ingested.returncode == 0, ingested.stderr
    piped = newsbot("articles")
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert len(lines) == 5
    # What `newsbot articles | grep TITLE` needs: each title whole, on its article's line.
    (solar,) = [line for line in lines if SOLAR_TITLE in line]
    fields = solar.split("\t")
    assert len(fields) == 7 and fields[3] == "ar" and fields[5] == SOLAR_TITLE
    assert not any("│" in line or "┃" in line for line in lines)

    as_json = newsbot("articles", "--json", "--limit", "2")
    assert as_json.returncode == 0, as_json.stderr
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert len(records) == 2
    for record in records:
        assert tuple(record) == ARTICLE_KEYS
        assert ARTICLE_KEYS == (
            "id",
            "published",
            "sections",
            "language",
            "topics",
            "title",
            "url",
        )
        datetime.fromisoformat(record["published"])


def test_broadcasts_and_stats_in_every_form(database: str) -> None:
    assert newsbot("ingest", NIGHT_BUSES).returncode == 0
    assert newsbot("publish", "1", "--at", "in 2h").returncode == 0
    listing = newsbot("broadcasts")
    (line,) = listing.stdout.splitlines()
    fields = line.split("\t")
    assert len(fields) == len(BROADCAST_KEYS)
    assert fields[:4] == ["1", "scheduled", "1", NIGHT_BUSES_TITLE]

    (record,) = [json.loads(line) for line in newsbot("broadcasts", "--json").stdout.splitlines()]
    assert tuple(record) == BROADCAST_KEYS
    assert record["status"] == "scheduled" and record["title"] == NIGHT_BUSES_TITLE
    # Nobody subscribes yet: the audience of a scheduled broadcast is counted, not 0/0.
    assert (record["targets"], record["audience"]) == (0, 0)

    stats = newsbot("stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout) == record
    piped = newsbot("stats", "1")
    assert piped.stdout == listing.stdout


def test_terminal_tables_never_shorten_status_or_counts() -> None:
    now = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    row = BroadcastRow(
        id=3, article_id=12, topic="sport", status="scheduled", due_at=now, target_count=0
    )
    running = BroadcastRow(
        id=4, article_id=12, topic=None, status="running", due_at=now, target_count=503
    )
    scheduled = Progress(row, 0, 0, 0, 0, 0, 0, 0)
    sending = Progress(running, 180, 11, 312, 0, 0, 0, 40)
    details = {3: bot.newsroom.broadcasts.Details(SOLAR_TITLE, 17)}
    records = [
        _record(scheduled, details[3]),
        _record(sending, bot.newsroom.broadcasts.Details(SOLAR_TITLE, None)),
    ]
    for width in (100, 80):
        console = Console(width=width, record=True, force_terminal=True)
        console.print(progress_table(records, "UTC"))
        shown = console.export_text()
        assert "scheduled" in shown and "running" in shown and "…" not in shown
        assert "312/503" in shown and "~17 readers" in shown
        assert max(len(line) for line in shown.splitlines()) <= width
    assert stats_line(records[1]).startswith("broadcast #4 (running): 312/503 sent · ")
    assert stats_line(records[1]).endswith("· 40 opened Read more")


def _record(progress: Progress, details: bot.newsroom.broadcasts.Details) -> dict[str, Any]:
    return broadcast_record(progress, details, "UTC")


def test_publish_says_when_no_bot_delivers(database: str) -> None:
    assert newsbot("ingest", NIGHT_BUSES).returncode == 0
    alone = newsbot("publish", "1")
    assert alone.returncode == 0, alone.stderr
    assert "no running bot is delivering" in alone.stderr

    async def publish_while_locked() -> Outcome:
        engine = create_engine(database)
        lock = delivery_lock(engine)
        try:
            assert await lock.acquire()
            # The command runs its own event loop: in a thread, as another process would.
            return await asyncio.to_thread(newsbot, "publish", "1")
        finally:
            await lock.release()
            await engine.dispose()

    beside_a_bot = asyncio.run(publish_while_locked())
    assert beside_a_bot.returncode == 0, beside_a_bot.stderr
    assert beside_a_bot.stderr == ""


def test_stats_follow_says_nothing_is_delivering(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert newsbot("ingest", NIGHT_BUSES).returncode == 0
    assert newsbot("publish", "1").returncode == 0
    drawn = threading.Event()
    looks = 0
    real_progress = bot.newsroom.broadcasts.progress

    async def watched_progress(**kwargs: Any) -> Progress:
        nonlocal looks
        looks += 1
        found = await real_progress(**kwargs)
        if looks == 2:  # stats' own look, then the follower's first
            drawn.set()
        return found

    async def cancel() -> None:
        engine = create_engine(database)
        try:
            async with unit_of_work(create_sessionmaker(engine)) as session:
                await db.broadcasts.cancel_broadcast(
                    session=session, broadcast_id=1, now=datetime.now(UTC)
                )
        finally:
            await engine.dispose()

    def cancel_once_drawn() -> None:
        if drawn.wait(timeout=60):
            asyncio.run(cancel())

    monkeypatch.setattr(bot.newsroom.broadcasts, "progress", watched_progress)
    canceller = threading.Thread(target=cancel_once_drawn)
    canceller.start()
    try:
        followed = newsbot("stats", "--follow")
    finally:
        drawn.set()
        canceller.join(timeout=60)
    assert followed.returncode == 0, followed.stderr
    assert "newsbot: no running bot is delivering" in followed.stderr
    assert followed.stdout.splitlines()[-1].split("\t")[:2] == ["1", "cancelled"]


def test_a_directory_ingest_names_every_bad_file(database: str, tmp_path: Path) -> None:
    folder = tmp_path / "stories"
    folder.mkdir()
    (folder / "a-good.md").write_text((SAMPLES / "en-night-buses.md").read_text())
    (folder / "b-empty.txt").write_bytes(b"   \n")
    (folder / "c-binary.txt").write_bytes(b"\x00\x01\x02binary")
    result = newsbot("ingest", str(folder))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 3, result.stderr
    assert lines[0].startswith(f"newsbot: {folder / 'b-empty.txt'}: ")
    assert lines[1].startswith(f"newsbot: {folder / 'c-binary.txt'}: ")
    assert lines[2] == "newsbot: 2 sources cannot be used"
    assert newsbot("articles").stdout == ""  # nothing stored


def test_ingest_says_which_encoding_it_guessed(database: str, tmp_path: Path) -> None:
    arabic = (SAMPLES / "ar-solar-station.txt").read_text()
    legacy = tmp_path / "legacy.txt"
    legacy.write_bytes(arabic.encode("cp1256"))
    notepad = tmp_path / "notepad.txt"
    notepad.write_bytes(
        (SAMPLES / "en-night-buses.md").read_text().replace("\n", "\r\n").encode("utf-16")
    )
    result = newsbot("ingest", str(legacy), str(notepad))
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"newsbot: {legacy}: not UTF-8; read as windows-1256\n"
    titles = [line.split("\t")[2] for line in result.stdout.splitlines()]
    assert titles == [SOLAR_TITLE, NIGHT_BUSES_TITLE]


def test_publish_says_how_many_readers_it_would_reach(database: str) -> None:
    assert newsbot("ingest", NIGHT_BUSES).returncode == 0

    async def subscribe() -> None:
        engine = create_engine(database)
        try:
            async with unit_of_work(create_sessionmaker(engine)) as session:
                for chat_id, topic in ((1, None), (2, "transport"), (3, "sport")):
                    await store.ensure_chat(
                        session=session,
                        chat_id=chat_id,
                        kind="private",
                        telegram_language=None,
                        now=datetime.now(UTC),
                    )
                    await store.subscribe(session=session, chat_id=chat_id, topic=topic)
        finally:
            await engine.dispose()

    asyncio.run(subscribe())
    everyone = newsbot("publish", "1", "--at", "in 2h")
    assert everyone.stdout.rstrip().endswith("; 2 readers as of now"), everyone.stdout
    sport = newsbot("publish", "1", "--at", "in 2h", "--topic", "sport")
    assert sport.returncode == 0, sport.stderr  # followed by a reader, so not a typo
    assert sport.stdout.rstrip().endswith("; 2 readers as of now"), sport.stdout
