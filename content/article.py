"""The article model shared by every parser, the splitter and the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

BlockKind = Literal["heading", "paragraph"]


@dataclass(frozen=True, slots=True)
class Block:
    """One sub-heading or paragraph of an article body, whitespace already folded."""

    kind: BlockKind
    text: str


@dataclass(frozen=True, slots=True)
class Article:
    """A parsed article: metadata plus a body of blocks (the lead is not part of the body)."""

    title: str
    blocks: tuple[Block, ...]
    language: str
    byline: str | None = None
    lead: str | None = None
    topics: tuple[str, ...] = ()
    url: str | None = None
    related: tuple[str, ...] = ()
    published: datetime | None = None
    # The lead image: an absolute http(s) URL (og:image, a feed's media, front matter `image:`).
    image: str | None = None
    guid: str | None = field(default=None, compare=False)

    @property
    def body_text(self) -> str:
        """The body as plain visible text: blocks separated by a blank line."""
        return BLOCK_SEPARATOR.join(block.text for block in self.blocks)


BLOCK_SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class Section:
    """One message-sized piece of an article body, ready to send with parse mode HTML."""

    index: int
    heading: str | None
    html: str
    text: str

    @property
    def utf16_length(self) -> int:
        """Length of the visible text in UTF-16 code units, the unit Telegram counts."""
        return utf16_length(self.text)


def utf16_length(text: str) -> int:
    """Length of text in UTF-16 code units (astral characters count twice)."""
    return len(text.encode("utf-16-le")) // 2
