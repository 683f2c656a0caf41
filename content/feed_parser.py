"""RSS and Atom feeds: one article per entry, entry HTML read like any other HTML."""

from __future__ import annotations

import calendar
import html
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from content.article import Article
from content.assemble import Chunk, assemble
from content.errors import ContentError
from content.html_blocks import chunks_from_html
from content.images import feed_image


@dataclass(frozen=True, slots=True)
class FeedResult:
    """The articles of a feed, and a reason for each entry that could not become one."""

    title: str
    articles: list[Article]
    skipped: list[str] = field(default_factory=list)


def parse_feed(data: bytes) -> FeedResult:
    """Parse an RSS or Atom document; raise ContentError if it is not a feed or has no entries."""
    # Bytes are parsed as a document: feedparser never treats them as a path or URL to open.
    parsed: Any = feedparser.parse(data)
    if not parsed.get("version"):
        reason = parsed.get("bozo_exception") or "no <rss> or <feed> root element"
        raise ContentError(f"not an RSS or Atom feed ({reason})")
    title = html.unescape(str(parsed.feed.get("title", ""))).strip()
    if not parsed.entries:
        raise ContentError(f"the feed {title!r} has no entries" if title else "the feed is empty")
    articles: list[Article] = []
    skipped: list[str] = []
    for number, entry in enumerate(parsed.entries, start=1):
        try:
            articles.append(_entry_article(entry))
        except ContentError as error:
            skipped.append(f"entry {number}: {error}")
    if not articles:
        raise ContentError(f"no entry of the feed could be read ({'; '.join(skipped)})")
    return FeedResult(title=title, articles=articles, skipped=skipped)


def _entry_article(entry: Mapping[str, Any]) -> Article:
    title = html.unescape(str(entry.get("title", ""))).strip()
    if not title:
        raise ContentError("it has no title")
    body = _entry_html(entry)
    chunks = chunks_from_html(body) if "<" in body else [Chunk(line) for line in body.split("\n")]
    topics = [str(tag.get("term") or tag.get("label") or "") for tag in entry.get("tags", [])]
    link = str(entry["link"]) if entry.get("link") else None
    return assemble(
        chunks,
        title=title,
        byline=_author(entry),
        topics=topics,
        url=link,
        published=_entry_time(entry),
        image=feed_image(entry, base=link, body=body),
        guid=str(entry.get("id") or entry.get("link") or "") or None,
        infer_byline=False,
    )


def _author(entry: Mapping[str, Any]) -> str | None:
    """RSS puts "email (Name)" in <author>; the name is what readers should see."""
    detail = entry.get("author_detail") or {}
    name = str(detail.get("name") or entry.get("author") or "").strip()
    return name or None


def _entry_html(entry: Mapping[str, Any]) -> str:
    """The fullest text the entry carries: its content, else its summary."""
    for content in entry.get("content", []):
        value = str(content.get("value", ""))
        if value.strip():
            return value
    return str(entry.get("summary", ""))


def _entry_time(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        moment = entry.get(key)
        if isinstance(moment, time.struct_time):
            return datetime.fromtimestamp(calendar.timegm(moment), tz=UTC)
    return None
