"""The operators' command line: ingest --publish, publish, broadcasts, cancel and stats.

Run in-process through Typer's runner (the preview tests cover the separate process): each
command opens and closes its own database connection, as it does when a user runs it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import bot.newsroom.broadcasts
import db.broadcasts
from bot.cli import app
from db.broadcasts import Progress
from db.session import create_engine, create_sessionmaker, unit_of_work
from tests.texts import SAMPLES


@dataclass
class Outcome:
    """What one command printed and returned."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite file that every `newsbot` command in the test uses."""
    path = tmp_path / "cli.db"
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.setenv("COLUMNS", "200")  # Rich would wrap tables at 80 and split the rows
    return path


def newsbot(_database: Path, *args: str) -> Outcome:
    """Run one `newsbot` command."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


def test_publish_schedule_list_cancel_and_count(database: Path) -> None:
    ingested = newsbot(database, "ingest", str(SAMPLES / "en-night-buses.md"), "--publish")
    assert ingested.returncode == 0, ingested.stderr
    assert ingested.stdout.rstrip().endswith("broadcast #1")

    again = newsbot(database, "ingest", str(SAMPLES / "en-night-buses.md"), "--publish")
    assert again.returncode == 0, again.stderr
    assert "(already stored)" in again.stdout and "broadcast #" not in again.stdout

    later = newsbot(database, "publish", "1", "--at", "in 2h", "--topic", "Transport")
    assert later.returncode == 0, later.stderr
    assert later.stdout.startswith("broadcast #2: article 1 to subscribers of 'transport', due ")

    listing = newsbot(database, "broadcasts")
    assert listing.returncode == 0, listing.stderr
    rows = [line.split("\t") for line in listing.stdout.splitlines()]
    assert [(row[0], row[1]) for row in rows] == [("2", "scheduled"), ("1", "scheduled")]

    cancelled = newsbot(database, "cancel", "2")
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == "broadcast #2 cancelled; 0 unsent messages dropped"
    twice = newsbot(database, "cancel", "2")
    assert (twice.returncode, twice.stderr.strip()) == (
        2,
        "newsbot: broadcast #2 is cancelled: nothing to cancel",
    )

    stats = newsbot(database, "stats", "1")
    assert stats.returncode == 0, stats.stderr
    assert "scheduled" in stats.stdout


def test_bad_input_schedules_nothing(database: Path) -> None:
    assert newsbot(database, "ingest", str(SAMPLES / "en-night-buses.md")).returncode == 0
    cases = {
        ("publish", "999"): "newsbot: no article with id 999",
        ("publish", "1", "--at", "25:00"): "newsbot: 25:00 is not a time of day",
        ("publish", "1", "--at", "2001-01-01 10:00"): "has already passed",
        ("publish", "1", "--topic", "  "): "newsbot: bad topic: empty topic",
        ("publish", "1", "--at", "in 2h", "--topic", "#"): "newsbot: bad topic: empty topic",
        ("publish", "999", "--topic", "#"): "newsbot: no article with id 999",
        ("publish", "1", "--topic", "nosuchtopic"): (
            "newsbot: unknown topic 'nosuchtopic': no article has it and no reader follows it "
            "(known topics: city, transport)"
        ),
        ("ingest", str(SAMPLES / "ar-solar-station.txt"), "--at", "in 1h"): "--at needs --publish",
        ("ingest", str(SAMPLES / "ar-solar-station.txt"), "--publish", "--at", "soon"): "soon",
        ("cancel", "5"): "newsbot: no broadcast with id 5",
        ("stats",): "newsbot: no broadcasts yet",
    }
    for args, reason in cases.items():
        result = newsbot(database, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert reason in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    # The refused ingest stored nothing: only the first article is there.
    listing = newsbot(database, "articles")
    assert listing.stdout.count("night bus") == 1
    assert "solar" not in listing.stdout.lower()
    assert "scheduled" not in newsbot(database, "broadcasts").stdout


@pytest.mark.parametrize("typed", ["2147483648", "99999999999999999999", "²", "٣", "\u0661", "0"])
def test_ids_no_row_can_have_are_bad_input(database: Path, typed: str) -> None:
    assert newsbot(database, "ingest", str(SAMPLES / "en-night-buses.md")).returncode == 0
    for args in (("publish", typed), ("cancel", typed), ("stats", typed)):
        result = newsbot(database, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "is not an id" in result.stderr, (args, result.stderr)
    # int("\u0661") is 1, an existing article: an Arabic-Indic digit must not publish it.
    assert "scheduled" not in newsbot(database, "broadcasts").stdout
    preview = newsbot(database, "preview", typed)
    assert preview.returncode == 2 and "no such file" in preview.stderr


def test_a_stored_article_previews_as_its_source_did(database: Path) -> None:
    source = newsbot(database, "preview", str(SAMPLES / "en-night-buses.md"), "--json")
    assert newsbot(database, "ingest", str(SAMPLES / "en-night-buses.md")).returncode == 0
    stored = newsbot(database, "preview", "1", "--json")
    assert (source.returncode, stored.returncode) == (0, 0), (source.stderr, stored.stderr)
    before, after = json.loads(source.stdout), json.loads(stored.stdout)
    assert (before.pop("id"), after.pop("id")) == (None, 1)
    assert sorted(before.pop("topics")) == after.pop("topics")  # stored topics come sorted
    assert before == after
    missing = newsbot(database, "preview", "999")
    assert (missing.returncode, missing.stderr.strip()) == (2, "newsbot: no article with id 999")


def test_stats_follow_redraws_until_the_broadcast_ends(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert newsbot(database, "ingest", str(SAMPLES / "en-night-buses.md")).returncode == 0
    assert newsbot(database, "publish", "1", "--at", "in 2h").returncode == 0
    # The broadcast is cancelled once the follower has drawn it open at least once.
    drawn = threading.Event()
    looks = 0
    real_progress = bot.newsroom.broadcasts.progress

    async def watched_progress(**kwargs: Any) -> Progress:
        nonlocal looks
        looks += 1
        found = await real_progress(**kwargs)
        if looks == 2:  # the first look is stats' own, the second the follower's
            drawn.set()
        return found

    async def cancel() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
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
        followed = newsbot(database, "stats", "--follow")
    finally:
        drawn.set()
        canceller.join(timeout=60)
    assert followed.returncode == 0, followed.stderr
    assert looks >= 3  # it looked again after the one that saw the broadcast open
    assert "broadcast #1 (cancelled)" in followed.stdout
    (row,) = [line for line in followed.stdout.splitlines() if line.startswith("1\t")]
    assert row.split("\t")[1] == "cancelled"
