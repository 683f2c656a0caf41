"""The operators' command line: ingest --publish, publish, broadcasts, cancel and stats.

Run in-process through Typer's runner (the preview tests cover the separate process): each
command opens and closes its own database connection, as it does when a user runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
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

    later = newsbot(database, "publish", "1", "--at", "in 2h", "--topic", "Sport")
    assert later.returncode == 0, later.stderr
    assert later.stdout.startswith("broadcast #2: article 1 to subscribers of 'sport', due ")

    listing = newsbot(database, "broadcasts")
    assert listing.returncode == 0, listing.stderr
    rows = [line for line in listing.stdout.splitlines() if "scheduled" in line]
    assert len(rows) == 2

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
