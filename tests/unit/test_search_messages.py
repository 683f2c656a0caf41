"""What finding and sharing stories sends: the Share link, search pages, inline cards, the
last section's cross-links, the "More" button's data, and the inline rate limit."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from hypothesis import example, given, settings
from hypothesis import strategies as st
from telegram import InlineKeyboardMarkup

from bot.newsroom.search import PAGE_SIZE, Results
from bot.sandbox.botapi.server import check_reply_markup, formatted_text, is_button_url
from bot.sandbox.botapi.telegram_html import utf16_len
from bot.telegram.callbacks import MAX_CALLBACK_BYTES, OpenStory, SearchPage, parse_callback
from bot.telegram.handlers.search import PerUserLimit
from bot.telegram.messages import (
    link_card,
    search_results,
    section_message,
    share_url,
    story_card,
)
from db.models import ArticleRow, SectionRow
from db.search import Terms

BOT = "newsbot_test_bot"
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

article_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=600
)


def article(title: str, article_id: int = 7, url: str | None = None) -> ArticleRow:
    return ArticleRow(
        id=article_id,
        title=title,
        byline=None,
        summary="A summary.",
        url=url,
        sort_at=WHEN,
        language="en",
    )


def accepted(body: str, keyboard: InlineKeyboardMarkup | None) -> str:
    """The visible text, after the fake Bot API accepted the message as Telegram would."""
    content = formatted_text({"text": body, "parse_mode": "HTML"})
    check_reply_markup(keyboard.to_dict() if keyboard is not None else None)
    return content.text


def test_the_share_link_carries_the_deep_link_and_the_title() -> None:
    url = share_url(article("Night buses & trams: what changes?", 42), BOT)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "t.me", "/share/url")
    query = parse_qs(parts.query, strict_parsing=True)
    assert query == {
        "url": [f"https://t.me/{BOT}?start=a42"],
        "text": ["Night buses & trams: what changes?"],
    }
    assert is_button_url(url)


@settings(max_examples=300, deadline=None)
@given(article_text)
@example("😀" * 3000)
@example("ب" * 5000)
@example("\u0800" * 5000)  # three UTF-8 bytes each: the longest encoding per UTF-16 unit
@example("")
@example("\x00\n\t")
def test_every_share_link_fits_a_button(title: str) -> None:
    url = share_url(article(title, 2_147_483_647), BOT)
    assert is_button_url(url) and len(url) <= 2048
    shared = parse_qs(urlsplit(url).query)
    assert shared["url"] == [f"https://t.me/{BOT}?start=a2147483647"]
    assert utf16_len(shared["text"][0]) <= 200


def test_the_story_card_has_a_share_button() -> None:
    _, keyboard = story_card(article("Title", 5, "https://example.org/x"), "ar", bot_username=BOT)
    buttons = keyboard.inline_keyboard[0] if keyboard else ()
    assert [b.text for b in buttons] == ["اقرأ المزيد", "المصدر", "مشاركة"]
    assert buttons[2].url == share_url(article("Title", 5), BOT)


def test_the_inline_card_has_link_buttons_only() -> None:
    story = article("Title <b>", 5, "https://example.org/x")
    body, keyboard = link_card(story, "en", bot_username=BOT)
    assert body == story_card(story, "en", bot_username=BOT)[0]
    assert keyboard is not None
    buttons = [b for row in keyboard.inline_keyboard for b in row]
    assert [(b.text, b.url) for b in buttons] == [
        ("Read in the bot", f"https://t.me/{BOT}?start=a5"),
        ("Source", "https://example.org/x"),
    ]


def results(titles: list[str], *, page: int = 1, more: bool = True) -> Results:
    stories = [article(t, n) for n, t in enumerate(titles, start=1)]
    return Results("0123456789abcdef", Terms(("solar", "farm")), page, stories, more)


@settings(max_examples=100, deadline=None)
@given(st.lists(article_text, min_size=PAGE_SIZE, max_size=PAGE_SIZE), st.booleans())
@example(["😀" * 2000] * PAGE_SIZE, True)
def test_every_page_of_results_is_accepted(titles: list[str], more: bool) -> None:
    body, keyboard = search_results(results(titles, page=50, more=more), "ar")
    assert utf16_len(accepted(body, keyboard)) <= 4096
    assert keyboard is not None
    data = [b.callback_data for row in keyboard.inline_keyboard for b in row]
    assert all(isinstance(d, str) and len(d.encode()) <= MAX_CALLBACK_BYTES for d in data)


def test_a_page_numbers_its_stories_and_offers_more() -> None:
    body, keyboard = search_results(results(["First", "Second"], page=3), "en")
    assert body.splitlines() == [
        "<b>Stories with “solar farm”:</b>",
        "21. First · 2026-11-30",
        "22. Second · 2026-11-30",
    ]
    assert keyboard is not None
    data = [b.callback_data for row in keyboard.inline_keyboard for b in row]
    assert data == ["a:1", "a:2", "s:0123456789abcdef:4"]
    assert parse_callback("s:0123456789abcdef:4") == SearchPage("0123456789abcdef", 4)
    assert search_results(results([], more=False), "en") == (
        "No stories found with “solar farm”.",
        None,
    )


def test_forged_more_buttons_are_refused() -> None:
    for data in ("s:0123:2", "s:0123456789ABCDEF:2", "s:0123456789abcdef:0", "s:x:1"):
        assert parse_callback(data) is None, data


def test_the_last_section_offers_related_stories_then_the_latest() -> None:
    section = SectionRow(article_id=9, index=3, heading=None, html="<b>End</b>", text="End")
    related = [article("Trees for the new districts", 4), article("Water prices", 6)]
    _, keyboard = section_message(section, 3, "en", related)
    assert keyboard is not None
    rows = [[(b.text, b.callback_data) for b in row] for row in keyboard.inline_keyboard]
    assert rows == [
        [("Trees for the new districts", OpenStory(4).encode())],
        [("Water prices", OpenStory(6).encode())],
        [("Latest stories", "n")],
    ]
    _, middle = section_message(section, 4, "en", related)  # not the last: only "Next"
    assert middle is not None and len(middle.inline_keyboard) == 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_inline_queries_are_limited_per_user() -> None:
    clock = Clock()
    limit = PerUserLimit(3, 10.0, clock=clock)
    assert [limit.allow(1) for _ in range(4)] == [True, True, True, False]
    assert limit.allow(2)  # another user has a budget of their own
    clock.now = 5.0
    assert not limit.allow(1)
    clock.now = 10.5  # the first three have left the window
    assert [limit.allow(1) for _ in range(4)] == [True, True, True, False]


def test_the_limit_forgets_idle_users_to_stay_small() -> None:
    clock = Clock()
    limit = PerUserLimit(1, 10.0, clock=clock, max_users=100)
    for user in range(100):
        assert limit.allow(user)
    clock.now = 20.0
    assert limit.allow(1000)
    assert len(limit._recent) == 1
