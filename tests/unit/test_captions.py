"""A photo card's caption: the card cut to 1024 UTF-16 units, accepted by the fake Bot API's own
caption check, the summary shortened at a word."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.delivery.cards import preview_options
from bot.sandbox.botapi.server import caption_text, check_reply_markup
from bot.sandbox.botapi.telegram_html import utf16_len
from bot.settings import Settings
from bot.telegram.messages import MAX_CAPTION_UTF16, story_card
from db.models import ArticleRow

ARABIC_WORDS = "أعلنت وزارة الطاقة افتتاح محطة شمسية جديدة في الصحراء الشرقية بقدرة".split()
ENGLISH_WORDS = "The city council voted on Tuesday to fund eight night bus routes".split()
EMOJI = ["😀", "🇸🇦", "👩🏽‍💻"]


def words(vocabulary: list[str], *, max_size: int) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(vocabulary + EMOJI), min_size=1, max_size=max_size).map(
        " ".join
    )


def arabic_or_english(max_size: int) -> st.SearchStrategy[str]:
    return st.one_of(
        words(ARABIC_WORDS, max_size=max_size), words(ENGLISH_WORDS, max_size=max_size)
    )


def caption_of(title: str, byline: str | None, summary: str, language: str) -> tuple[str, str]:
    """The caption as sent (HTML) and as Telegram shows it, after its own checks."""
    row = ArticleRow(id=3, title=title, byline=byline, summary=summary, url="https://e.org/a")
    body, keyboard = story_card(
        row, language, bot_username="newsbot_test_bot", limit=MAX_CAPTION_UTF16
    )
    check_reply_markup(keyboard.to_dict() if keyboard is not None else None)
    return body, caption_text({"caption": body, "parse_mode": "HTML"}).text


@settings(max_examples=300, deadline=None)
@given(
    title=arabic_or_english(120),
    byline=st.one_of(st.none(), arabic_or_english(60)),
    summary=arabic_or_english(600),
    language=st.sampled_from(["ar", "en"]),
)
@example(
    title=" ".join(ARABIC_WORDS * 10),
    byline="بقلم " + " ".join(ARABIC_WORDS * 5),
    summary=" ".join(ARABIC_WORDS * 80),
    language="ar",
)
def test_every_caption_fits_and_is_cut_at_a_word(
    title: str, byline: str | None, summary: str, language: str
) -> None:
    _, visible = caption_of(title, byline, summary, language)
    assert utf16_len(visible) <= MAX_CAPTION_UTF16
    shown = visible.split("\n\n", 1)[1]
    if shown != summary:
        # Shortened: whole words of the summary, then the mark.
        assert shown.endswith("…")
        kept = shown[:-1].split(" ")
        assert kept == summary.split(" ")[: len(kept)]


def test_a_long_arabic_card_fills_the_caption_less_at_most_a_word() -> None:
    summary = " ".join(ARABIC_WORDS * 80)
    _, visible = caption_of("محطة شمسية جديدة", "سارة المنصوري", summary, "ar")
    longest = max(len(word) for word in ARABIC_WORDS)
    assert MAX_CAPTION_UTF16 - longest - 1 <= utf16_len(visible) <= MAX_CAPTION_UTF16
    assert visible.endswith("…")


def test_link_preview_options_follow_the_setting() -> None:
    url = "https://example.org/news/a story"
    large = preview_options("large", url)
    small = preview_options("small", url)
    assert (large.url, large.prefer_large_media, large.show_above_text) == (
        "https://example.org/news/a%20story",
        True,
        True,
    )
    assert (small.url, small.prefer_small_media) == ("https://example.org/news/a%20story", True)
    assert preview_options("off", url).is_disabled
    assert preview_options("large", None).is_disabled
    assert preview_options("large", "javascript:alert(1)").is_disabled


def test_photo_and_preview_settings() -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (defaults.link_preview, defaults.photo_upload) == ("large", "url")
    chosen = Settings(_env_file=None, link_preview="off", photo_upload="upload")  # type: ignore[call-arg]
    assert (chosen.link_preview, chosen.photo_upload) == ("off", "upload")
    for wrong in ({"link_preview": "medium"}, {"photo_upload": "ftp"}):
        with pytest.raises(ValidationError):
            Settings(_env_file=None, **wrong)  # type: ignore[call-arg, arg-type]
