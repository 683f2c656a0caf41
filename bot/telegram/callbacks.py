"""Callback data of inline buttons: short, versionless strings, parsed strictly.

Telegram allows 64 bytes and hands back whatever a client sends, so every press is parsed
as untrusted input: anything that does not match a known shape is refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.newsroom.ids import parse_id

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
    """Subscribe to or unsubscribe from a topic, named by a short digest ("*" for all).

    `page` is the page of the topics keyboard the button is on, shown again after the toggle.
    """

    key: str
    page: int = 1

    def encode(self) -> str:
        """As callback data."""
        return f"t:{self.key}" if self.page == 1 else f"t:{self.key}:{self.page}"


@dataclass(frozen=True, slots=True)
class TopicsPage:
    """Show page `page` (1-based) of the topics keyboard."""

    page: int

    def encode(self) -> str:
        """As callback data."""
        return f"p:{self.page}"


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


@dataclass(frozen=True, slots=True)
class SetEdition:
    """Push the reader only stories in these languages: ar, en or all."""

    edition: str

    def encode(self) -> str:
        """As callback data."""
        return f"e:{self.edition}"


@dataclass(frozen=True, slots=True)
class Unfollow:
    """Stop following a phrase, named by a short digest of its stored form."""

    key: str

    def encode(self) -> str:
        """As callback data."""
        return f"u:{self.key}"


@dataclass(frozen=True, slots=True)
class SetDigest:
    """Digests off or hourly (a daily time is typed: /digest daily HH:MM)."""

    kind: str

    def encode(self) -> str:
        """As callback data."""
        return f"g:{self.kind}"


@dataclass(frozen=True, slots=True)
class SettingOff:
    """Turn quiet hours ("quiet") or the daily cap ("cap") off."""

    setting: str

    def encode(self) -> str:
        """As callback data."""
        return f"o:{self.setting}"


@dataclass(frozen=True, slots=True)
class ShowFollows:
    """List the reader's follows, each with a button to remove it."""

    def encode(self) -> str:
        """As callback data."""
        return "f"


@dataclass(frozen=True, slots=True)
class ShowSettings:
    """Show the reader's settings with buttons to change them."""

    def encode(self) -> str:
        """As callback data."""
        return "s"


@dataclass(frozen=True, slots=True)
class SearchPage:
    """Show page `page` (1-based) of a kept search, named by its key (16 hex digits)."""

    key: str
    page: int

    def encode(self) -> str:
        """As callback data."""
        return f"s:{self.key}:{self.page}"


ReaderSetting = SetEdition | Unfollow | SetDigest | SettingOff | ShowFollows | ShowSettings
Callback = (
    ReadSection
    | OpenStory
    | ToggleTopic
    | TopicsPage
    | SetLanguage
    | ShowLatest
    | ReaderSetting
    | SearchPage
)


def _read_section(match: re.Match[str]) -> Callback | None:
    article_id = parse_id(match[1])
    return ReadSection(article_id, int(match[2])) if article_id is not None else None


def _open_story(match: re.Match[str]) -> Callback | None:
    article_id = parse_id(match[1])
    return OpenStory(article_id) if article_id is not None else None


# Ids are matched loosely and then read by parse_id, the one rule for every id a user sends.
_ID = r"([0-9]{1,20})"
_INDEX = r"([1-9][0-9]{0,5})"  # a section index
_PAGE = r"([1-9][0-9]{0,4})"
_PARSERS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Callback | None]], ...] = (
    (re.compile(rf"r:{_ID}:{_INDEX}"), _read_section),
    (re.compile(rf"a:{_ID}"), _open_story),
    (
        re.compile(rf"t:(\*|[0-9a-f]{{12}})(?::{_PAGE})?"),
        lambda m: ToggleTopic(m[1], int(m[2] or 1)),
    ),
    (re.compile(rf"p:{_PAGE}"), lambda m: TopicsPage(int(m[1]))),
    (re.compile(r"l:(ar|en)"), lambda m: SetLanguage(m[1])),
    (re.compile(r"n"), lambda m: ShowLatest()),
    (re.compile(r"e:(ar|en|all)"), lambda m: SetEdition(m[1])),
    (re.compile(r"u:([0-9a-f]{12})"), lambda m: Unfollow(m[1])),
    (re.compile(r"g:(off|hourly)"), lambda m: SetDigest(m[1])),
    (re.compile(r"o:(quiet|cap)"), lambda m: SettingOff(m[1])),
    (re.compile(r"f"), lambda m: ShowFollows()),
    (re.compile(r"s"), lambda m: ShowSettings()),
    (re.compile(rf"s:([0-9a-f]{{16}}):{_PAGE}"), lambda m: SearchPage(m[1], int(m[2]))),
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
