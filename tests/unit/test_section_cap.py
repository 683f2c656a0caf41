"""The cap on sections per article: refused with one line, cheaply when far over."""

from __future__ import annotations

import time

import pytest

import bot.newsroom.ingest
from bot.newsroom.ingest import MAX_SECTIONS, TooManySections, render
from content.article import Article, Block
from content.split import split_article


def article(paragraphs: int, words: int = 15) -> Article:
    text = " ".join(["river"] * words) + "."
    return Article(
        title="A report without end",
        blocks=tuple(Block("paragraph", text) for _ in range(paragraphs)),
        language="en",
    )


def test_an_article_at_the_cap_is_rendered() -> None:
    # A paragraph of 90 characters is one section at the smallest target (100).
    sections, _ = render(article(MAX_SECTIONS), target=100)
    assert len(sections) == MAX_SECTIONS


def test_one_section_over_the_cap_is_refused_after_splitting() -> None:
    with pytest.raises(TooManySections) as refused:
        render(article(MAX_SECTIONS + 1), target=100)
    assert str(refused.value) == (
        f"'A report without end' would be {MAX_SECTIONS + 1} sections; "
        f"an article may have at most {MAX_SECTIONS}"
    )


def test_a_body_far_over_the_cap_is_refused_without_splitting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_split(*args: object, **kwargs: object) -> object:
        raise AssertionError("split a body that cannot fit")

    monkeypatch.setattr(bot.newsroom.ingest, "split_article", no_split)
    huge = article(12_000, words=200)  # 14 MB of text

    started = time.monotonic()
    with pytest.raises(TooManySections, match=r"would be at least \d+ sections"):
        render(huge, target=1200)
    assert time.monotonic() - started < 5  # the whole split took ten times that


def test_the_estimate_never_refuses_what_the_split_would_keep() -> None:
    # Just under the cap by the split, with sections as full as the cap allows.
    full = article(MAX_SECTIONS, words=650)  # 3,900 characters: one section each at target 4096
    sections = split_article(full, target=4096, cap=bot.newsroom.ingest.SECTION_CAP)
    assert len(sections) == MAX_SECTIONS
    assert len(render(full, target=4096)[0]) == MAX_SECTIONS
