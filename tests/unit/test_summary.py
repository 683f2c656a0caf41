"""Summaries: the lead, or the first and most central sentences, within 400 characters."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from content.article import Article, Block
from content.summary import SUMMARY_LIMIT, shorten, summarize
from content.text_parser import parse_text
from tests.texts import SAMPLES


def body_article(*paragraphs: str, lead: str | None = None) -> Article:
    blocks = tuple(Block("paragraph", p) for p in paragraphs)
    return Article(title="Title", blocks=blocks, language="en", lead=lead)


def test_lead_is_the_summary() -> None:
    article = parse_text((SAMPLES / "ar-solar-station.txt").read_text(encoding="utf-8"))
    assert summarize(article) == article.lead


def test_long_lead_is_shortened_at_a_word() -> None:
    lead = "word " * 100
    summary = summarize(body_article("Body.", lead=lead.strip()))
    assert len(summary) <= SUMMARY_LIMIT and summary.endswith("word…")


def test_extractive_summary_prefers_central_opening_sentences() -> None:
    article = body_article(
        "The council approved the night bus network on Tuesday. "
        "The weather was mild. "
        "The night bus network will run eight routes from March.",
        "Critics said the night bus network costs too much. A cat was seen nearby. " * 3,
    )
    summary = summarize(article)
    assert summary.startswith("The council approved the night bus network on Tuesday.")
    assert "night bus network will run eight routes" in summary
    assert "cat" not in summary
    assert len(summary) <= SUMMARY_LIMIT


def test_arabic_extractive_summary_within_limit() -> None:
    article = parse_text((SAMPLES / "ar-solar-station.txt").read_text(encoding="utf-8"))
    summary = summarize(dataclasses.replace(article, lead=None))
    assert 0 < len(summary) <= SUMMARY_LIMIT
    assert summary.startswith("أعلن رئيس البلدية")
    assert summary in article.body_text or all(
        sentence.strip() in article.body_text for sentence in summary.split(". ")
    )


def test_single_huge_sentence_is_cut_at_a_word() -> None:
    summary = summarize(body_article("alpha beta gamma " * 60))
    assert len(summary) <= SUMMARY_LIMIT
    assert summary.endswith("…")
    assert summary[:-1].split()[-1] in {"alpha", "beta", "gamma"}


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=1500), st.integers(min_value=10, max_value=400))
def test_shorten_never_exceeds_and_never_cuts_mid_word(text: str, limit: int) -> None:
    result = shorten(text, limit)
    assert len(result) <= limit
    if result != text:
        kept = result.removesuffix("…").rstrip(" ,،;؛:")
        assert text.startswith(kept)
        following = text[len(kept) : len(kept) + 1]
        assert (
            following in {"", " ", ",", "،", ";", "؛", ":"}
            or following.isspace()
            or " " not in text[: limit - 1]
        )
