"""Plain-text and Markdown articles in our ingest shape."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from content.errors import ContentError
from content.text_parser import parse_text
from tests.texts import SAMPLES


def test_arabic_sample_shape() -> None:
    article = parse_text((SAMPLES / "ar-solar-station.txt").read_text(encoding="utf-8"))
    assert article.title.startswith("محطة شمسية جديدة")
    assert article.byline == "سارة المنصوري"
    assert article.lead is not None and article.lead.startswith("افتتحت البلدية أمس")
    assert article.language == "ar"
    assert article.related == (
        "البلدية تطلق خطة لزراعة عشرة آلاف شجرة في الأحياء الجديدة",
        "أسعار الكهرباء للمنازل تبقى دون تغيير حتى نهاية العام",
    )
    headings = [b.text for b in article.blocks if b.kind == "heading"]
    assert headings == ["كيف تعمل المحطة؟", "التكلفة والتمويل", "ماذا يقول المنتقدون؟"]
    body = article.body_text
    assert "ربما يعجبك" not in body and "اقرأ أيضًا" not in body
    assert article.blocks[-1].text.startswith("وردت البلدية")


def test_english_markdown_with_front_matter() -> None:
    article = parse_text((SAMPLES / "en-night-buses.md").read_text(encoding="utf-8"))
    assert article.title == "City approves a night bus network after a year of debate"
    assert article.byline == "Daniel Okafor"
    assert article.topics == ("transport", "city")
    assert article.url == "https://example.org/news/night-buses"
    assert article.published == datetime(2026, 11, 20, 18, 30, tzinfo=UTC)
    assert article.language == "en"
    assert article.lead is not None and article.lead.startswith("Eight night routes")
    assert article.related == ("Tram line extension to the university opens next spring",)
    assert [b.text for b in article.blocks if b.kind == "heading"] == [
        "What it will cost",
        "Safety on board",
    ]
    assert "You may also like" not in article.body_text


def test_corpus_article(corpus_text: str) -> None:
    article = parse_text(corpus_text)
    assert article.title == "بعد لقاء بوتين وكيم في روسيا.. ماذا يريد كلاهما من الآخر؟"
    assert article.byline == "محمد النحاس"
    assert article.lead is not None and article.lead.startswith("اختار زعيما روسيا")
    assert len(article.related) == 2
    assert all("اقرأ" not in link for link in article.related)
    assert "ربما يعجبك" not in article.body_text
    headings = [b.text for b in article.blocks if b.kind == "heading"]
    assert "ماذا تريد موسكو؟" in headings and "هل يتفق الزعيمان على كل شيء؟" in headings
    assert len(headings) == 6


def test_markdown_title_headings_and_inline_syntax() -> None:
    article = parse_text(
        "# Title here\n\nFirst paragraph is **long enough** to be a lead, with [a link](https://x.y).\n"
        "\n## Part one\n\nBody text that\ncontinues on a second line.\n\n- item one\n- item two\n"
    )
    assert article.title == "Title here"
    assert article.byline is None
    assert article.lead == "First paragraph is long enough to be a lead, with a link."
    assert [(b.kind, b.text) for b in article.blocks] == [
        ("heading", "Part one"),
        ("paragraph", "Body text that continues on a second line."),
        ("paragraph", "- item one"),
        ("paragraph", "- item two"),
    ]


def test_markup_characters_stay_text() -> None:
    article = parse_text("T\n\nA & B <b>bold</b> &amp; <script>x</script>.\n\nMore text.")
    assert article.lead == "A & B <b>bold</b> &amp; <script>x</script>."


def test_only_title_is_refused() -> None:
    with pytest.raises(ContentError, match="no body text"):
        parse_text("Just a title\n")


def test_title_and_byline_only_is_refused() -> None:
    with pytest.raises(ContentError, match="no body text"):
        parse_text("Just a title\n\nBy Someone\n")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("---\ntitle: x\nBody", "no closing"),
        ("---\nsubject: x\n---\nT\n\nBody.", "front matter line 2"),
        ("---\npublished: yesterday\n---\nT\n\nBody.", "ISO 8601"),
        ("---\nlanguage: fr\n---\nT\n\nBody.", "language"),
    ],
)
def test_bad_front_matter(source: str, reason: str) -> None:
    with pytest.raises(ContentError, match=reason):
        parse_text(source)


def test_naive_published_time_is_utc() -> None:
    article = parse_text("---\npublished: 2026-01-02 03:04\n---\nT\n\nBody text.")
    assert article.published == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def test_short_last_line_is_a_paragraph_not_a_heading() -> None:
    article = parse_text("T\n\nLong first paragraph here, quite long.\n\nSecond one.\n\nThe end")
    assert article.blocks[-1].kind == "paragraph"
    assert all(b.kind == "paragraph" for b in article.blocks)
