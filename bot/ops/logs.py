"""Logging: readable lines or one JSON object per line, tagged with the update or broadcast.

Every line passes through `redact`, so the bot token and the webhook secret never reach a log,
whichever library wrote the line (PTB, aiohttp and SQLAlchemy all log URLs and errors).
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from urllib.parse import quote

from sqlalchemy.engine import make_url

from bot.settings import Settings

# Set while an update is handled or a broadcast's message is sent; copied into each log line.
update_id: ContextVar[int | None] = ContextVar("update_id", default=None)
broadcast_id: ContextVar[int | None] = ContextVar("broadcast_id", default=None)

MASK = "[redacted]"
_secrets: set[str] = set()


def register_secrets(settings: Settings) -> None:
    """Remember the values no log line or error message may show."""
    if settings.token is not None:
        token = settings.token.get_secret_value()
        _add_secret(token)
        # The part after the bot id is the secret half; an error may quote it alone.
        _add_secret(token.partition(":")[2])
    if settings.webhook_secret is not None:
        _add_secret(settings.webhook_secret.get_secret_value())
    try:
        password = make_url(settings.database_url).password
    except Exception:  # an unparsable URL fails later, with its own message
        password = None
    if password:
        _add_secret(str(password))


def _add_secret(value: str) -> None:
    # URLs carry the token percent-encoded ("123%3AABC") as often as plain.
    for form in {value, quote(value, safe=""), quote(value)}:
        if len(form) >= 4:  # a very short value would mask ordinary words
            _secrets.add(form)


def redact(text: str) -> str:
    """The text with every registered secret masked."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class _Context(logging.Filter):
    """Copies the current update and broadcast ids onto each record (unless it names its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "update_id", None) is None:
            record.update_id = update_id.get()
        if getattr(record, "broadcast_id", None) is None:
            record.broadcast_id = broadcast_id.get()
        return True


def about(broadcast: int) -> dict[str, object]:
    """`extra=` for a log call about one broadcast, made outside its sends."""
    return {"broadcast_id": broadcast}


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [update N] message`, secrets masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(tags)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """One redacted line (plus the traceback, if any)."""
        tags = ""
        if (update := getattr(record, "update_id", None)) is not None:
            tags += f" [update {update}]"
        if (broadcast := getattr(record, "broadcast_id", None)) is not None:
            tags += f" [broadcast {broadcast}]"
        record.tags = tags
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single-line JSON object, secrets masked."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("update_id", "broadcast_id"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        # Redacting the encoded line keeps it valid JSON: secrets contain no escaped characters.
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(settings: Settings) -> None:
    """Send every logger's lines to stderr in the configured format."""
    register_secrets(settings)
    handler = logging.StreamHandler()
    handler.addFilter(_Context())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # httpx and aiohttp's access log write a line per request: noise at this level.
    for noisy in ("httpx", "aiohttp.access", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
