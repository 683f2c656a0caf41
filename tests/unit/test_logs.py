"""Log lines: JSON or text, tagged with the update or broadcast, never showing a secret."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from bot.ops import logs
from bot.settings import Settings

TOKEN = "555000111:AAE-very-secret_part"
SECRET = "webhook_Secret-77"


@pytest.fixture
def registered() -> Iterator[None]:
    """The secrets of a configured bot, forgotten afterwards."""
    saved = set(logs._secrets)
    logs.register_secrets(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            token=TOKEN,
            webhook_url="https://news.example.org/hook",
            webhook_secret=SECRET,
            database_url="postgresql+asyncpg://newsbot:db-Passw0rd@db/newsbot",
        )
    )
    yield
    logs._secrets.clear()
    logs._secrets.update(saved)


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    """A record as a logger makes it, passed through the context filter."""
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    made = logging.LogRecord("bot.test", logging.ERROR, __file__, 1, message, args, exc_info)
    logs._Context().filter(made)
    return made


def test_every_form_of_every_secret_is_masked(registered: None) -> None:
    line = logs.redact(
        f"GET /bot{TOKEN}/getMe; /bot555000111%3AAAE-very-secret_part; "
        f"half AAE-very-secret_part; {SECRET}; postgresql://newsbot:db-Passw0rd@db"
    )
    for secret in (TOKEN, "AAE-very-secret_part", SECRET, "db-Passw0rd", "%3AAAE"):
        assert secret not in line
    assert line.count(logs.MASK) == 5


def test_a_json_line_carries_the_ids_and_the_traceback_redacted(registered: None) -> None:
    update = logs.update_id.set(4242)
    try:
        try:
            raise RuntimeError(f"the call to /bot{TOKEN}/sendMessage failed")
        except RuntimeError as error:
            made = record("sending to %s failed", 17, exc=error)
    finally:
        logs.update_id.reset(update)
    entry = json.loads(logs.JsonFormatter().format(made))
    assert entry["message"] == "sending to 17 failed"
    assert entry["update_id"] == 4242
    assert "broadcast_id" not in entry
    assert "RuntimeError" in entry["exception"]
    assert TOKEN not in json.dumps(entry)


def test_a_text_line_names_its_broadcast(registered: None) -> None:
    made = record("paused at %d", 12)
    made.broadcast_id = 9  # as `extra=logs.about(9)` sets it
    line = logs.TextFormatter().format(made)
    assert "[broadcast 9]" in line
    assert line.endswith("paused at 12")


def test_an_explicit_broadcast_id_wins_over_the_context() -> None:
    token = logs.broadcast_id.set(1)
    try:
        made = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
        made.broadcast_id = 2
        logs._Context().filter(made)
    finally:
        logs.broadcast_id.reset(token)
    assert made.broadcast_id == 2
