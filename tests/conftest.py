"""Shared fixtures: the corpus article, databases, the fake Bot API and a running bot."""

from __future__ import annotations

import os

import pytest

# PTB 22 warns when RetryAfter.retry_after is an int; opt in to timedelta, as the bot does.
os.environ["PTB_TIMEDELTA"] = "1"

from tests.texts import CORPUS

pytest_plugins = [
    "tests.integration.db_fixtures",
    "tests.integration.bot_fixtures",
    "tests.integration.delivery_fixtures",
    "tests.integration.hostile_http",
]


@pytest.fixture
def corpus_text() -> str:
    """The real Arabic article in our ingest shape; skipped when ../shared is absent."""
    path = CORPUS / "ar-putin-kim.txt"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    return path.read_text(encoding="utf-8")
