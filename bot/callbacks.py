"""Callback data of inline buttons: short, versionless strings, parsed strictly.

Telegram allows 64 bytes and hands back whatever a client sends, so every press is parsed
as untrusted input: anything that does not match a known shape is refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_CALLBACK_BYTES = 64


@dataclass(frozen=True, slots=True)
class ReadSection:
    """Send section `index` (1-based) of an article."""

    article_id: int
    index: int

    def encode(self) -> str:
        """As callback data."""
        return f"r:{self.article_id}:{self.index}"


@dataclass(frozen=True, slots=True)
class OpenStory:
    """Show an article's story card."""

    article_id: int

    def encode(self) -> str:
        """As callback data."""
        return f"a:{self.article_id}"


@dataclass(frozen=True, slots=True)
class ToggleTopic:
    """Subscribe to or unsubscribe from a topic, named by a short digest ("*" for all)."""

    key: str

    def encode(self) -> str:
        """As callback data."""
        return f"t:{self.key}"


@dataclass(frozen=True, slots=True)
class SetLanguage:
    """Choose the chat's interface language."""

    language: str

    def encode(self) -> str:
        """As callback data."""
        return f"l:{self.language}"


@dataclass(frozen=True, slots=True)
class ShowLatest:
    """List the newest stories."""

    def encode(self) -> str:
        """As callback data."""
        return "n"


Callback = ReadSection | OpenStory | ToggleTopic | SetLanguage | ShowLatest

_ID = r"([1-9][0-9]{0,17})"
_PARSERS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Callback]], ...] = (
    (re.compile(rf"r:{_ID}:([1-9][0-9]{{0,5}})"), lambda m: ReadSection(int(m[1]), int(m[2]))),
    (re.compile(rf"a:{_ID}"), lambda m: OpenStory(int(m[1]))),
    (re.compile(r"t:(\*|[0-9a-f]{12})"), lambda m: ToggleTopic(m[1])),
    (re.compile(r"l:(ar|en)"), lambda m: SetLanguage(m[1])),
    (re.compile(r"n"), lambda m: ShowLatest()),
)


def topic_key(topic: str) -> str:
    """A fixed-size stand-in for a topic, since topics may exceed the 64-byte limit."""
    return hashlib.sha256(topic.encode()).hexdigest()[:12]


def parse_callback(data: str | None) -> Callback | None:
    """The button's meaning, or None for forged, garbled or unknown data."""
    if not data or len(data.encode()) > MAX_CALLBACK_BYTES:
        return None
    for pattern, build in _PARSERS:
        match = pattern.fullmatch(data)
        if match is not None:
            return build(match)
    return None
