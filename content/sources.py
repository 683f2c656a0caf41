"""One entry point for any source: sniff whether bytes are a feed, an HTML page or text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from content.article import Article
from content.decode import decode_source
from content.feed_parser import parse_feed
from content.html_parser import parse_html
from content.text_parser import parse_text

SourceKind = Literal["feed", "html", "text"]

_FEED_ROOT = re.compile(r"<(?:rss|feed|rdf:RDF)[\s>]", re.IGNORECASE)
_HTML_ROOT = re.compile(r"<(?:!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE)
_FEED_SUFFIXES = (".rss", ".atom", ".xml")
_HTML_SUFFIXES = (".html", ".htm", ".xhtml")


@dataclass(frozen=True, slots=True)
class ParsedSource:
    """What one source held: its kind, its articles, and why any feed entries were skipped."""

    name: str
    kind: SourceKind
    articles: list[Article]
    skipped: list[str] = field(default_factory=list)
    # The text's encoding when it was guessed (no byte-order mark, not UTF-8), else None.
    guessed_encoding: str | None = None


def source_kind(text: str, *, name: str = "") -> SourceKind:
    """Guess the kind from the content first, the file name second."""
    head = text.lstrip()[:2048]
    lowered = name.lower().split("?", 1)[0]
    if head.startswith("<") and _FEED_ROOT.search(head) and not _HTML_ROOT.search(head):
        return "feed"
    if head.startswith("<") and (_HTML_ROOT.search(head) or lowered.endswith(_HTML_SUFFIXES)):
        return "html"
    if lowered.endswith(_FEED_SUFFIXES) and head.startswith("<"):
        return "feed"
    return "text"


def parse_source(data: bytes, *, name: str, url: str | None = None) -> ParsedSource:
    """Parse the bytes of a file or download; raise ContentError with a one-line reason."""
    decoded = decode_source(data)
    text = decoded.text
    guessed = decoded.encoding if decoded.guessed else None
    kind = source_kind(text, name=name)
    if kind == "feed":
        # A feed declares its own encoding, which feedparser reads from the bytes.
        feed = parse_feed(data)
        return ParsedSource(name, kind, feed.articles, feed.skipped)
    if kind == "html":
        return ParsedSource(name, kind, [parse_html(text, url=url)], guessed_encoding=guessed)
    return ParsedSource(name, kind, [parse_text(text)], guessed_encoding=guessed)
