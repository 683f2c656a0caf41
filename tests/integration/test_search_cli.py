"""`newsbot search`: what a reader's /search finds, from the command line (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.texts import SAMPLES


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("COLUMNS", "200")


def newsbot(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_search_lists_what_the_chat_would_find() -> None:
    code, _, stderr = newsbot("ingest", str(SAMPLES))
    assert code == 0, stderr
    code, out, _ = newsbot("search", "الطاقه", "الشمسيه", "--json")
    assert code == 0
    found = json.loads(out)
    assert found["words"] == ["الطاقه", "الشمسيه"] and found["page"] == 1
    assert [a["title"][:16] for a in found["articles"]] == ["محطة شمسية جديدة"]
    code, out, _ = newsbot("search", "NIGHT", "buses")
    assert code == 0 and "night bus" in out.lower()
    code, out, _ = newsbot("search", "zebra", "--json")
    assert json.loads(out)["articles"] == []


@pytest.mark.parametrize("words", [['"', "*", "-"], ["x" * 300]])
def test_searches_without_words_or_too_long_are_bad_input(words: list[str]) -> None:
    code, _, stderr = newsbot("search", *words)
    assert code == 2 and stderr.startswith("newsbot: ")
