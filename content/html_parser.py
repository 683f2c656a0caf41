"""HTML pages: trafilatura finds the article; its sub-headings are kept."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import lxml.html
import trafilatura
from lxml import etree

from content.article import Article
from content.assemble import assemble
from content.errors import ContentError
from content.html_blocks import chunks_from_element
from content.images import html_image

_PUBLISHED_XPATHS = (
    "//meta[@property='article:published_time']/@content",
    "//meta[@name='article:published_time']/@content",
    "//meta[@itemprop='datePublished']/@content",
    "//meta[@name='pubdate']/@content",
    "//meta[@name='date']/@content",
    "//time[@itemprop='datePublished']/@datetime",
    "//time[@datetime]/@datetime",
)


def parse_html(page: str, *, url: str | None = None) -> Article:
    """Extract the main article of an HTML page with its title, byline, topics and sub-headings."""
    try:
        original = lxml.html.document_fromstring(page)
    except (etree.ParserError, ValueError):
        raise ContentError("the HTML page has no content to read") from None
    extracted = trafilatura.extract(
        page,
        url=url,
        output_format="html",
        include_formatting=True,
        include_comments=False,
        include_tables=False,
        with_metadata=True,
        favor_recall=True,
    )
    if not extracted:
        raise ContentError("no article text found in the HTML page")
    document = lxml.html.document_fromstring(extracted)
    meta = {
        str(node.get("name")): str(node.get("content") or "")
        for node in document.iter("meta")
        if node.get("name")
    }
    body = document.find("body")
    chunks = chunks_from_element(body) if body is not None else []
    topics = [
        topic
        for field in ("categories", "tags")
        for topic in re.split(r"[,;،]", meta.get(field, ""))
        if topic.strip()
    ]
    return assemble(
        chunks,
        title=meta.get("title") or None,
        byline=meta.get("author") or None,
        topics=topics,
        url=url or meta.get("url") or None,
        published=_published(original),
        image=html_image(original, url=url or meta.get("url") or None),
    )


def _published(page: lxml.html.HtmlElement) -> datetime | None:
    """The page's own publication time; trafilatura's guess may come from a year in the text."""
    for xpath in _PUBLISHED_XPATHS:
        result = page.xpath(xpath)
        values = result if isinstance(result, list) else []
        for value in values:
            try:
                moment = datetime.fromisoformat(str(value).strip())
            except ValueError:
                continue
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return None
