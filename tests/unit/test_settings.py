"""Settings from the environment: lists, durations and the rate ceiling."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings


def settings(monkeypatch: pytest.MonkeyPatch, **variables: str) -> Settings:
    for name, value in variables.items():
        monkeypatch.setenv(f"NEWSBOT_{name.upper()}", value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_durations_read_seconds_or_iso_8601(monkeypatch: pytest.MonkeyPatch) -> None:
    read = settings(monkeypatch, feed_interval="90", broadcast_grace="PT2H")
    assert read.feed_interval == timedelta(seconds=90)
    assert read.broadcast_grace == timedelta(hours=2)


def test_feeds_and_operators_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    read = settings(monkeypatch, feeds=" a.xml, https://example.org/rss ,", operators="7, 8")
    assert read.feeds == ("a.xml", "https://example.org/rss")
    assert read.operators == frozenset({7, 8})


def test_the_rate_stays_under_telegrams_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="NEWSBOT_PAID_BROADCAST"):
        settings(monkeypatch, rate="100")
    paid = settings(monkeypatch, rate="500", paid_broadcast="true")
    assert (paid.rate, paid.reader_rate) == (500, 30)
    with pytest.raises(ValidationError, match="feed_interval"):
        settings(monkeypatch, rate="30", feed_interval="0")


def test_webhook_mode_needs_https_and_a_well_formed_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValidationError, match="https://"):
        settings(monkeypatch, webhook_url="http://news.example.org/hook", webhook_secret="abc")
    with pytest.raises(ValidationError, match="NEWSBOT_WEBHOOK_SECRET is required"):
        settings(monkeypatch, webhook_url="https://news.example.org/hook", webhook_secret="")
    with pytest.raises(ValidationError, match="A-Z a-z 0-9") as refused:
        settings(monkeypatch, webhook_secret="has spaces and $ymbols")
    assert "$ymbols" not in str(refused.value)  # a secret is not echoed back
    read = settings(
        monkeypatch, webhook_url="https://news.example.org/tg/hook", webhook_secret="ok_Secret-1"
    )
    assert read.webhook_path == "/tg/hook"


def test_listen_addresses_are_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings(monkeypatch, listen="0.0.0.0:8443").listen == "0.0.0.0:8443"
    assert settings(monkeypatch, metrics_listen="").metrics_listen is None
    with pytest.raises(ValidationError, match="HOST:PORT"):
        settings(monkeypatch, metrics_listen="localhost")
    with pytest.raises(ValidationError, match="HOST:PORT"):
        settings(monkeypatch, listen="0.0.0.0:99999")


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u:p@db/news", "postgresql+asyncpg://u:p@db/news"),
        ("postgresql://u@db:5433/news", "postgresql+asyncpg://u@db:5433/news"),
        ("postgresql+asyncpg://u@db/news", "postgresql+asyncpg://u@db/news"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite:////srv/news.db", "sqlite+aiosqlite:////srv/news.db"),
        ("sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite:///:memory:"),
        (" PostgreSQL://u@db/news ", "postgresql+asyncpg://u@db/news"),
    ],
)
def test_database_urls_get_the_async_driver(
    monkeypatch: pytest.MonkeyPatch, given: str, used: str
) -> None:
    assert settings(monkeypatch, database_url=given).database_url == used


@pytest.mark.parametrize(
    "given",
    ["mysql://x", "garbage", "postgresql+psycopg2://u@db/news", "sqlite://x.db", "sqlite://", ""],
)
def test_other_database_urls_are_refused_with_the_accepted_forms(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        settings(monkeypatch, database_url=given)
    message = str(raised.value)
    assert "database_url" in message and "postgresql+asyncpg://" in message
    assert "sqlite+aiosqlite:///" in message


def test_a_bad_database_url_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env["NEWSBOT_DATABASE_URL"] = "mysql://root:secret@db/news"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "articles"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("newsbot: bad setting NEWSBOT_DATABASE_URL: is not a database URL")
    assert "postgres://" in line and "sqlite:///FILE" in line
    assert "secret" not in line
