"""Finding an article's lead image in HTML pages, feed entries and front matter."""

from __future__ import annotations

import pytest

from content.errors import ContentError
from content.feed_parser import parse_feed
from content.html_parser import parse_html
from content.images import resolve_image
from content.text_parser import parse_text
from tests.texts import SAMPLES

BODY = """
<article>
  <h1>Bridge reopens after repairs</h1>
  <p>The old bridge reopened on Monday after eight months of repairs, two weeks ahead of plan.</p>
  <p>Cyclists and pedestrians crossed it first; cars follow from next week, the city said.</p>
  {images}
  <p>The repairs cost less than expected, the engineers added, because the steel was sound.</p>
</article>
"""


def page(head: str = "", images: str = "", url: str | None = None) -> str | None:
    document = f"<html><head><title>Bridge</title>{head}</head><body>"
    document += BODY.format(images=images) + "</body></html>"
    return parse_html(document, url=url).image


def test_og_image_comes_first_and_is_resolved_against_the_page() -> None:
    head = '<meta property="og:image" content="/media/bridge.jpg">'
    images = '<img src="/media/other.jpg" width="800" height="600">'
    found = page(head, images, url="https://news.example.com/city/bridge")
    assert found == "https://news.example.com/media/bridge.jpg"


def test_twitter_image_when_there_is_no_og_image() -> None:
    head = '<meta name="twitter:image" content="https://cdn.example.com/b.jpg">'
    assert page(head, url="https://news.example.com/a") == "https://cdn.example.com/b.jpg"


def test_a_relative_og_image_reads_against_the_canonical_link_without_a_page_url() -> None:
    head = (
        '<link rel="canonical" href="https://news.example.com/city/bridge">'
        '<meta property="og:image" content="img/bridge.jpg">'
    )
    assert page(head) == "https://news.example.com/city/img/bridge.jpg"


def test_the_first_usable_img_skips_pixels_data_urls_svg_icons_and_navigation() -> None:
    images = """
      <img src="https://t.example.com/pixel.gif" width="1" height="1">
      <img src="data:image/png;base64,iVBORw0KGgo=">
      <img src="/icons/share.svg">
      <img src="/static/logo.png">
      <img src="/media/small.jpg" width="40" height="40">
      <img src="data:image/gif;base64,R0lGOD" data-src="/media/bridge-wide.jpg" width="1200">
      <img src="/media/second.jpg">
    """
    head = '<nav><img src="/media/nav-banner.jpg" width="900" height="300"></nav>'
    found = page(images=images, url="https://news.example.com/city/bridge")
    assert found == "https://news.example.com/media/bridge-wide.jpg"
    assert page(head, url="https://news.example.com/") is None


def test_no_image_at_all() -> None:
    assert page(url="https://news.example.com/a") is None


def test_a_relative_img_without_any_page_address_is_no_image() -> None:
    assert page(images='<img src="bridge.jpg" width="800">') is None


def test_the_sample_page_has_its_lead_image() -> None:
    text = (SAMPLES / "ar-market-page.html").read_text(encoding="utf-8")
    assert parse_html(text).image == "https://example.org/images/vegetable-market.png"


FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>City</title><link>https://news.example.com/</link>
{items}
</channel></rss>"""

ITEM = """<item><title>{title}</title><link>https://news.example.com/{slug}/story</link>
<description><![CDATA[{body}]]></description>{media}</item>"""

TEXT = "<p>The council met on Tuesday and agreed on the budget for the coming year.</p>"


def feed_images(*items: tuple[str, str]) -> list[str | None]:
    xml = FEED.format(
        items="".join(
            ITEM.format(title=f"Story {n}", slug=f"s{n}", body=body, media=media)
            for n, (media, body) in enumerate(items, start=1)
        )
    )
    return [article.image for article in parse_feed(xml.encode()).articles]


def test_feed_media_content_thumbnail_enclosure_and_body_image() -> None:
    found = feed_images(
        (
            '<media:content url="https://cdn.example.com/small.jpg" medium="image" width="300"/>'
            '<media:content url="https://cdn.example.com/large.jpg" medium="image" width="1600"/>'
            '<media:content url="https://cdn.example.com/clip.mp4" medium="video" width="1920"/>',
            TEXT,
        ),
        ('<media:thumbnail url="thumbs/two.jpg"/>', TEXT),
        ('<enclosure url="https://cdn.example.com/three.png" type="image/png" length="9"/>', TEXT),
        ('<enclosure url="https://cdn.example.com/four.mp3" type="audio/mpeg" length="9"/>', TEXT),
        ("", TEXT + '<p><img src="/media/five.jpg" width="640" height="360"></p>'),
        ("", TEXT),
    )
    assert found == [
        "https://cdn.example.com/large.jpg",  # the largest picture, never the video
        "https://news.example.com/s2/thumbs/two.jpg",  # relative: against the entry's link
        "https://cdn.example.com/three.png",
        None,  # an audio enclosure is no image
        "https://news.example.com/media/five.jpg",
        None,
    ]


def test_the_sample_feed_has_an_image_on_its_first_entry_only() -> None:
    articles = parse_feed((SAMPLES / "en-feed.xml").read_bytes()).articles
    assert [a.image for a in articles] == ["https://example.org/images/library-night.png", None]


FRONT = """---
title: Bridge reopens
{lines}
---

The old bridge reopened on Monday after eight months of repairs.

Cyclists crossed it first; cars follow from next week.
"""


def test_front_matter_image_absolute_and_relative() -> None:
    absolute = parse_text(FRONT.format(lines="image: https://cdn.example.com/b.jpg"))
    assert absolute.image == "https://cdn.example.com/b.jpg"
    relative = parse_text(
        FRONT.format(lines="url: https://news.example.com/city/bridge\nimage: /media/b.jpg")
    )
    assert relative.image == "https://news.example.com/media/b.jpg"
    assert parse_text(FRONT.format(lines="url: https://news.example.com/a")).image is None


@pytest.mark.parametrize("value", ["bridge.jpg", "ftp://files.example.com/b.jpg", "data:x"])
def test_front_matter_image_that_is_no_url_is_refused(value: str) -> None:
    with pytest.raises(ContentError, match="image"):
        parse_text(FRONT.format(lines=f"image: {value}"))


@pytest.mark.parametrize(
    ("value", "base", "expected"),
    [
        ("//cdn.example.com/a.jpg", None, "https://cdn.example.com/a.jpg"),
        ("../a.jpg", "https://example.com/x/y/z", "https://example.com/x/a.jpg"),
        ("a b.jpg", "https://example.com/", "https://example.com/a%20b.jpg"),
        ("javascript:alert(1)", "https://example.com/", None),
        ("  ", "https://example.com/", None),
        (None, "https://example.com/", None),
    ],
)
def test_resolve_image(value: str | None, base: str | None, expected: str | None) -> None:
    assert resolve_image(value, base) == expected
