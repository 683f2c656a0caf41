"""HTML pages (trafilatura) and RSS/Atom feeds (feedparser)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from content.errors import ContentError
from content.feed_parser import parse_feed
from content.html_blocks import chunks_from_html
from content.html_parser import parse_html
from content.sources import parse_source, source_kind
from tests.texts import SAMPLES


def test_html_page_keeps_subheadings_and_metadata() -> None:
    page = (SAMPLES / "ar-market-page.html").read_text(encoding="utf-8")
    article = parse_html(page)
    assert article.title == "سوق الخضار الجديد يفتح أبوابه"
    assert article.byline == "يوسف الحداد"
    assert article.language == "ar"
    assert article.topics == ("اقتصاد", "المدينة")
    assert article.url == "https://example.org/ar/vegetable-market"
    assert article.published == datetime(2026, 11, 23, 7, 15, tzinfo=UTC)
    assert article.lead is not None and article.lead.startswith("بدأ السوق المركزي")
    headings = [b.text for b in article.blocks if b.kind == "heading"]
    assert headings == ["مساحة أكبر وأسعار ثابتة", "ماذا عن السوق القديم؟"]
    assert "الرئيسية" not in article.body_text  # navigation is not the article
    assert "جميع الحقوق" not in article.body_text


def test_html_entities_and_script_text() -> None:
    page = (
        "<html><head><title>Escapes</title></head><body><article><h1>Escapes</h1>"
        "<p>This paragraph talks about &lt;script&gt; tags &amp; entities like &amp;amp; "
        "at length so that it is long enough to be extracted as real content.</p>"
        "<script>alert('not text')</script>"
        "<p>A second paragraph with <b>bold</b> words and more sentences for the extractor "
        "to accept it as the main text of the page.</p></article></body></html>"
    )
    article = parse_html(page)
    text = f"{article.lead}\n{article.body_text}"
    assert "<script> tags & entities like &amp;" in text
    assert "alert" not in text
    assert "with bold words" in text


def test_malformed_html_without_text_is_refused() -> None:
    with pytest.raises(ContentError, match="no article text"):
        parse_html("<html><body><div><p></div></span>")


def test_chunks_from_html_breaks_blocks() -> None:
    chunks = chunks_from_html("<h3>Head</h3><p>a<br>b</p><ul><li>x</li></ul><!-- c -->tail")
    assert [(c.kind, c.text) for c in chunks] == [
        ("heading", "Head"),
        ("paragraph", "a"),
        ("paragraph", "b"),
        ("paragraph", "x"),
        ("paragraph", "tail"),
    ]


def test_rss_feed_sample() -> None:
    result = parse_feed((SAMPLES / "en-feed.xml").read_bytes())
    assert result.title == "Newsbot sample feed"
    assert result.skipped == []
    english, arabic = result.articles
    assert english.title.startswith("Library opens")
    assert english.byline == "Amira Haddad"
    assert english.topics == ("education", "city")
    assert english.guid == "https://example.org/news/library-hours"
    assert english.published == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert (
        english.lead
        == "The central library will stay open 24 hours a day for the next four weeks."
    )
    assert english.blocks[0].kind == "heading" and english.blocks[0].text == "Why now"
    assert arabic.language == "ar" and arabic.topics == ("ثقافة",)


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom news</title>
<entry><title>Atom story</title><id>urn:uuid:1</id><updated>2026-11-01T12:00:00Z</updated>
<link href="https://example.org/atom/1"/><category term="Science"/>
<author><name>Lee Park</name></author>
<content type="html">&lt;p&gt;Only paragraph with &amp;amp; and &amp;lt;b&amp;gt;.&lt;/p&gt;
</content>
</entry>
<entry><title>No body</title><id>urn:uuid:2</id><updated>2026-11-01T12:00:00Z</updated></entry>
</feed>"""


def test_atom_feed_and_skipped_entry() -> None:
    result = parse_feed(ATOM)
    (article,) = result.articles
    assert article.title == "Atom story"
    assert article.byline == "Lee Park"
    assert article.topics == ("science",)
    assert article.body_text == "Only paragraph with & and <b>."
    assert article.guid == "urn:uuid:1"
    assert result.skipped == ["entry 2: the article 'No body' has a title but no body text"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<rss version='2.0'><channel><title>Empty</title></channel></rss>", "no entries"),
        (b"not xml at all", "not an RSS or Atom feed"),
        (b"<html><body><p>x</p></body></html>", "not an RSS or Atom feed"),
    ],
)
def test_bad_feeds(data: bytes, reason: str) -> None:
    with pytest.raises(ContentError, match=reason):
        parse_feed(data)


def test_source_kind_sniffing() -> None:
    assert source_kind("<?xml version='1.0'?><rss version='2.0'>", name="x.txt") == "feed"
    assert source_kind("<feed xmlns='http://www.w3.org/2005/Atom'>", name="") == "feed"
    assert source_kind("<!DOCTYPE html><html><body>", name="a.xml") == "html"
    assert source_kind("<p>fragment</p>", name="page.html") == "html"
    assert source_kind("Title\n\nBody <b>", name="a.html") == "text"
    assert source_kind("Title\n\nBody", name="a.md") == "text"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary"),
        (b"\x01\x02\x03\x04\x05\x06\x07\x08" * 8, "binary"),
        (b"Title\n\nBody \x81\x8d\x8f\x90\x9d\x81\x8d\x8f\x90 here", "not UTF-8"),
        (b"Only a title", "no body text"),
        (b"<html><body><div></span></body>", "no article text"),
    ],
)
def test_bad_sources_have_one_line_reasons(data: bytes, reason: str) -> None:
    with pytest.raises(ContentError, match=reason) as caught:
        parse_source(data, name="input")
    assert "\n" not in str(caught.value)


def test_utf8_bom_and_crlf_are_accepted() -> None:
    parsed = parse_source(b"\xef\xbb\xbfTitle\r\n\r\nBody text here.\r\n", name="a.txt")
    assert parsed.kind == "text"
    assert parsed.articles[0].title == "Title"
