"""Story cards, keyboards and ids against Telegram's limits, checked by the fake Bot API's own
validators (the same functions that answer the bot over HTTP)."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from telegram import InlineKeyboardMarkup

from bot.newsroom.ids import MAX_ID, meant_as_id, parse_id
from bot.newsroom.links import button_url
from bot.sandbox.botapi.server import (
    MAX_INLINE_BUTTONS,
    MAX_REPLY_MARKUP_BYTES,
    ApiError,
    check_reply_markup,
    formatted_text,
    is_button_url,
)
from bot.sandbox.botapi.telegram_html import utf16_len
from bot.telegram.callbacks import (
    MAX_CALLBACK_BYTES,
    OpenStory,
    ReadSection,
    ToggleTopic,
    TopicsPage,
    parse_callback,
)
from bot.telegram.messages import (
    ECHO_LIMIT,
    TOPICS_PER_PAGE,
    echo,
    fit,
    latest_list,
    markup_size,
    story_card,
    topics_keyboard,
)
from bot.telegram.texts import _TEXTS, LANGUAGES, starts_left_to_right, text
from db.models import ArticleRow

BOT = "newsbot_test_bot"

# Pieces that make cards hard: both scripts, markup characters, emoji sequences, controls.
PIECES = [
    "word ",
    "news",
    " ",
    "  ",
    "\n",
    "\t",
    "<b>",
    "</i>",
    "&",
    "&amp;",
    '"',
    "'",
    "<",
    ">",
    "بقلم ",
    "سارة المنصوري",
    "؟",
    "😀",
    "👩🏽‍💻",
    "🇸🇦",
    "\u200f",
    "\u200d",
    "\x00",
    "\x7f",
    "…",
]
HOSTS = [
    "",
    *"example.org exämple.org مثال.com a..b 127.0.0.1:8080 x.org:99999 [::1] user@host.org"
    " EXAMPLE.org -bad-.org x.org.".split(),
]
piece_text = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
any_text = st.text(max_size=60)
huge_text = st.builds(
    lambda piece, times: piece * times,
    st.one_of(piece_text, any_text).filter(bool),
    st.integers(min_value=50, max_value=600),
)
article_text = st.one_of(piece_text, any_text, huge_text)
urls = st.one_of(
    st.none(),
    any_text,
    st.builds(
        lambda scheme, host, tail: f"{scheme}{host}{tail}",
        st.sampled_from(["https://", "http://", "HTTPS://", "", "ftp://", "javascript:", "tg://"]),
        st.sampled_from(HOSTS),
        st.one_of(st.just(""), st.just("/a story?q=ü#frag#2"), article_text.map("/".__add__)),
    ),
)


def article(
    title: str, byline: str | None, summary: str, url: str | None, article_id: int = 7
) -> ArticleRow:
    return ArticleRow(id=article_id, title=title, byline=byline, summary=summary, url=url)


def accepted(body: str, keyboard: InlineKeyboardMarkup | None) -> str:
    """The visible text, after the fake Bot API accepted the message as Telegram would."""
    content = formatted_text({"text": body, "parse_mode": "HTML"})
    check_reply_markup(keyboard.to_dict() if keyboard is not None else None)
    return content.text


@settings(max_examples=300, deadline=None)
@given(
    title=article_text,
    byline=st.one_of(st.none(), article_text),
    summary=article_text,
    url=urls,
)
@example(title="T", byline="x" * 4500, summary="S", url="https://example.org/a story")
@example(
    title="😀" * 5000, byline="ب " * 3000, summary="<&>" * 3000, url="https://x.org/" + "a" * 5000
)
@example(title=" \n ", byline=None, summary="", url=None)
@example(title="\x00", byline="\x00", summary="\x00", url="\x00")
def test_every_card_is_accepted(
    title: str, byline: str | None, summary: str, url: str | None
) -> None:
    body, keyboard = story_card(article(title, byline, summary, url), "en", bot_username=BOT)
    visible = accepted(body, keyboard)
    assert utf16_len(visible) <= 4096
    assert keyboard is not None
    buttons = keyboard.inline_keyboard[0]
    assert buttons[0].callback_data == ReadSection(7, 1).encode()
    assert buttons[-1].text == "Share"
    for button in buttons[1:]:
        assert is_button_url(button.url)


def test_a_huge_byline_title_and_summary_are_cut_at_a_word() -> None:
    byline = "Ahmad Example " * 400  # about 5,600 characters
    title = "Council approves " * 100
    summary = "سطر طويل " * 1000
    body, keyboard = story_card(article(title, byline, summary, None), "ar", bot_username=BOT)
    visible = accepted(body, keyboard)
    title_line, byline_line, _, summary_line = visible.split("\n")
    assert utf16_len(title_line) <= 300 and utf16_len(byline_line) <= 200
    for line, words in (
        (title_line, {"Council", "approves"}),
        (byline_line, {"Ahmad", "Example"}),
        (summary_line, {"سطر", "طويل"}),
    ):
        assert line.endswith("…") and set(line[:-1].split()) == words, line[-40:]
    # The summary takes what is left of the 4,096 units, less at most one word.
    assert 4096 - len(" طويل") <= utf16_len(visible) <= 4096
    assert keyboard is not None
    assert [b.text for b in keyboard.inline_keyboard[0]] == ["اقرأ المزيد", "مشاركة"]


@settings(max_examples=100, deadline=None)
@given(st.lists(article_text, min_size=1, max_size=5), st.sampled_from(LANGUAGES))
def test_every_latest_list_is_accepted(titles: list[str], language: str) -> None:
    rows = [article(title, None, "", None, n) for n, title in enumerate(titles, start=1)]
    body, keyboard = latest_list(rows, language)
    accepted(body, keyboard)


def test_an_ordinary_card_is_unchanged() -> None:
    body, keyboard = story_card(
        article(
            "City approves a night bus network",
            "Daniel Okafor",
            "Eight routes from March & more.",
            "https://example.org/news/night-buses",
        ),
        "en",
        bot_username=BOT,
    )
    assert body == (
        "<b>City approves a night bus network</b>\n<i>Daniel Okafor</i>\n\n"
        "Eight routes from March &amp; more."
    )
    assert keyboard is not None
    assert keyboard.inline_keyboard[0][1].url == "https://example.org/news/night-buses"


@pytest.mark.parametrize(
    ("url", "button"),
    [
        ("https://example.org/a story", "https://example.org/a%20story"),
        (
            "https://example.org/خبر?q=عاجل",
            "https://example.org/%D8%AE%D8%A8%D8%B1?q=%D8%B9%D8%A7%D8%AC%D9%84",
        ),
        ("https://exämple.org/x", "https://xn--exmple-cua.org/x"),
        (" https://example.org/x#a#b ", "https://example.org/x#a%23b"),
        ("https://example.org/100%", "https://example.org/100%25"),
        ("https://example.org/%D8%AE", "https://example.org/%D8%AE"),
        ("HTTP://Example.ORG:8080/Path", "http://example.org:8080/Path"),
        ("example.org/no-scheme", None),
        ("ftp://example.org/file", None),
        ("javascript:alert(1)", None),
        ("https://", None),
        ("https://a..b/", None),
        ("https://example.org:99999/", None),
        ("https://user:secret@example.org/", None),
        ("https://example.org/" + "a" * 3000, None),
    ],
)
def test_button_urls_are_escaped_or_dropped(url: str, button: str | None) -> None:
    assert button_url(url) == button
    if button is not None:
        assert is_button_url(button)


@settings(max_examples=300, deadline=None)
@given(urls)
def test_every_escaped_url_is_a_valid_button(url: str | None) -> None:
    link = button_url(url)
    assert link is None or is_button_url(link)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/a b",
        "https://example.org/ü",
        "https://exämple.org/",
        "example.org/story",
        "ftp://example.org/",
        "https://example.org/" + "a" * 2100,
        "https://exa\u212aple.org/",  # KELVIN SIGN folds to "k" only without ASCII matching
    ],
)
def test_the_fake_api_refuses_what_telegram_refuses_on_a_button(url: str) -> None:
    assert not is_button_url(url)
    with pytest.raises(ApiError, match="BUTTON_URL_INVALID"):
        check_reply_markup({"inline_keyboard": [[{"text": "Source", "url": url}]]})


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=5000), article_text)
def test_fit_cuts_within_the_limit(limit: int, value: str) -> None:
    cut = fit(value, limit)
    if utf16_len(value) <= limit:
        assert cut == value
    else:
        assert utf16_len(cut) <= max(limit, 1)
        assert cut.endswith("…")
        assert value.startswith(cut[:-1])


def test_echoed_input_is_one_short_escaped_line() -> None:
    quoted = echo("<b>" + "x" * 4000 + "\n&")
    assert quoted.startswith("&lt;b&gt;x") and quoted.endswith("…")
    assert len(quoted.replace("&lt;", "<").replace("&gt;", ">")) <= ECHO_LIMIT
    assert echo("sport") == "sport"


def topics_named(count: int) -> list[str]:
    return [f"topic {n:03d}" for n in range(count)]


def test_150_topics_are_paged_and_every_page_fits() -> None:
    topics = topics_named(150)
    pages = []
    for page in range(1, 9):
        body, keyboard = topics_keyboard(topics, ["topic 021", "*"], "en", page)
        accepted(body, keyboard)
        assert keyboard is not None
        buttons, size = markup_size(keyboard)
        assert buttons <= TOPICS_PER_PAGE + 3 and size <= MAX_REPLY_MARKUP_BYTES
        pages.append(keyboard.inline_keyboard)
    shown = [
        button.text.split(" ", 1)[1]
        for rows in pages
        for row in rows
        for button in row
        if str(button.callback_data).startswith("t:") and button.callback_data[2] != "*"
    ]
    assert shown == topics  # each topic once, in order
    first, second, last = pages[0], pages[1], pages[7]
    assert [b.text for b in first[-1]] == ["Next (2/8)"]
    assert [b.text for b in second[-1]] == ["Previous (1/8)", "Next (3/8)"]
    assert [b.text for b in last[-1]] == ["Previous (7/8)"]
    assert second[2][0].text.startswith("✅") and "topic 021" in second[2][0].text
    assert parse_callback(second[0][0].callback_data) == ToggleTopic("*", 2)
    assert parse_callback(second[-1][1].callback_data) == TopicsPage(3)
    # A page past the end (the list shrank since the keyboard was sent) shows the last one.
    assert topics_keyboard(topics, [], "en", 99)[1] == topics_keyboard(topics, [], "en", 8)[1]


def test_the_old_unpaged_keyboard_would_be_refused() -> None:
    rows = [[{"text": f"topic {n}", "callback_data": f"t:{n:012x}"}] for n in range(151)]
    with pytest.raises(ApiError, match="reply markup is too long"):
        check_reply_markup({"inline_keyboard": rows})
    heavy = [[{"text": "😀" * 200, "callback_data": f"t:{n:012x}"}] for n in range(20)]
    assert len(json.dumps({"inline_keyboard": heavy}, ensure_ascii=False).encode()) > 10 * 1024
    with pytest.raises(ApiError, match="reply markup is too long"):
        check_reply_markup({"inline_keyboard": heavy})
    assert MAX_INLINE_BUTTONS == 100


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(article_text, huge_text), min_size=0, max_size=300, unique=True),
    st.integers(min_value=1, max_value=20),
    st.sampled_from(LANGUAGES),
)
def test_every_topics_page_is_accepted(topics: list[str], page: int, language: str) -> None:
    body, keyboard = topics_keyboard(sorted(topics), topics[:3], language, page)
    accepted(body, keyboard)
    assert keyboard is not None
    for row in keyboard.inline_keyboard:
        for button in row:
            data = button.callback_data
            assert isinstance(data, str) and len(data.encode()) <= MAX_CALLBACK_BYTES
            assert parse_callback(data) is not None


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("1", 1),
        ("0042", 42),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        ("99999999999999999999", None),
        ("9" * 5000, None),
        ("0", None),
        ("²", None),
        ("٣", None),
        ("\uff11\uff12", None),  # fullwidth digits
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1\n", None),
        ("", None),
        ("abc", None),
    ],
)
def test_ids_are_ascii_digits_within_int32(typed: str, value: int | None) -> None:
    assert parse_id(typed) == value


def test_numbers_in_any_script_are_meant_as_ids() -> None:
    assert all(meant_as_id(s) for s in ("²", "٣", "99999999999999999999", "\uff11"))
    assert not any(meant_as_id(s) for s in ("abc", "", "-1", "twelve"))


@pytest.mark.parametrize("article_id", ["2147483648", "99999999999999999999", "0"])
def test_button_data_with_an_impossible_id_is_refused(article_id: str) -> None:
    assert parse_callback(f"r:{article_id}:1") is None
    assert parse_callback(f"a:{article_id}") is None
    assert parse_callback(f"r:{MAX_ID}:1") == ReadSection(MAX_ID, 1)
    assert parse_callback(f"a:{MAX_ID}") == OpenStory(MAX_ID)


def test_every_text_has_both_languages() -> None:
    for key, variants in _TEXTS.items():
        assert set(variants) == set(LANGUAGES), key


def test_arabic_lines_that_start_with_a_command_read_right_to_left() -> None:
    help_text = text("ar", "help")
    lines = help_text.split("\n")
    assert lines[0] == "الأوامر:"  # an Arabic line is left as it is
    assert lines[1] == "\u200f\u200e/latest أحدث القصص"
    for line in lines:
        assert not starts_left_to_right(line) or line.startswith("\u200f"), line
    assert text("en", "help") == _TEXTS["help"]["en"]  # English needs no marks
    # A value filled in keeps its own characters; only the template's lines are marked.
    assert text("ar", "subscribed_topic", topic="sport") == "تم الاشتراك في موضوع «sport» ✅"
