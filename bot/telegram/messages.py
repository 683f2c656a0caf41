"""What the bot sends: story cards, sections, lists and keyboards, in the chat's language."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import quote

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.helpers import create_deep_linked_url

from bot.newsroom.links import button_url
from bot.newsroom.search import Results
from bot.telegram.callbacks import (
    OpenStory,
    ReadSection,
    SearchPage,
    SetLanguage,
    ShowLatest,
    ToggleTopic,
    TopicsPage,
    topic_key,
)
from bot.telegram.texts import text
from content.article import utf16_length
from content.split import MAX_SECTION_UTF16
from content.summary import shorten
from db.models import ALL_TOPICS, ArticleRow

MAX_TEXT_UTF16 = MAX_SECTION_UTF16  # Telegram's limit on a message's visible text
MAX_CAPTION_UTF16 = 1024  # Telegram's limit on a photo's caption, after entities are parsed
TITLE_LIMIT = 300  # UTF-16 units of a card's title
BYLINE_LIMIT = 200  # UTF-16 units of a card's byline
LATEST_BUTTON_LIMIT = 60
ECHO_LIMIT = 64  # characters of a reader's own words quoted back to them
# Telegram refuses an inline keyboard of more than 100 buttons or 10 KB; a page of topics stays
# far below both whatever the topic names are (see topics_keyboard).
MAX_BUTTONS = 100
MAX_MARKUP_BYTES = 10 * 1024
TOPICS_PER_PAGE = 20
SHARE_TITLE_LIMIT = 200  # UTF-16 units of the title a Share link suggests
MAX_BUTTON_URL = 2048  # Telegram refuses longer links on buttons

Message = tuple[str, InlineKeyboardMarkup | None]

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def one_line(value: str) -> str:
    """Text with control characters dropped and every run of whitespace made one space."""
    return " ".join(_UNPRINTABLE.sub(" ", value).split())


def fit(value: str, limit: int) -> str:
    """At most `limit` UTF-16 units, cut at a word boundary and marked with "…"."""
    if utf16_length(value) <= limit:
        return value
    budget = max(limit, 1) - 1  # one unit for the "…"
    end = used = 0
    # The whole text is longer than the budget, so this stops inside it.
    while used + (size := 2 if ord(value[end]) > 0xFFFF else 1) <= budget:
        used += size
        end += 1
    cut = value[:end]
    space = cut.rfind(" ")
    if space > 0 and not value[end].isspace():
        cut = cut[:space]
    return cut.rstrip(" ,،;؛:") + "…"


def echo(words: str) -> str:
    """A reader's own words quoted back in a message: one line, shortened, escaped."""
    return html.escape(shorten(one_line(words), ECHO_LIMIT), quote=False)


def markup_size(keyboard: InlineKeyboardMarkup) -> tuple[int, int]:
    """Buttons and bytes of a keyboard, as Telegram counts them against its limits."""
    data = keyboard.to_dict()
    buttons = sum(len(row) for row in data["inline_keyboard"])
    encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return buttons, len(encoded)


def story_link(article_id: int, bot_username: str) -> str:
    """The deep link that opens a story in the bot: https://t.me/<bot>?start=a<ID>."""
    return create_deep_linked_url(bot_username, f"a{article_id}")


def share_url(article: ArticleRow, bot_username: str) -> str:
    """Telegram's share page for a story: its deep link and its title, percent-encoded.

    The title is cut at a word to 200 UTF-16 units: a character becomes at most 9 characters
    encoded (12 for two units), so the link stays far below the 2,048 a button allows.
    """
    title = fit(one_line(article.title), SHARE_TITLE_LIMIT) or f"#{article.id}"
    link = quote(story_link(article.id, bot_username), safe="")
    return f"https://t.me/share/url?url={link}&text={quote(title, safe='')}"


def share_button(article: ArticleRow, language: str, bot_username: str) -> InlineKeyboardButton:
    """The card's "Share" button: Telegram's chooser of a chat, with the story's link."""
    return InlineKeyboardButton(text(language, "share"), url=share_url(article, bot_username))


def story_card(
    article: ArticleRow, language: str, *, bot_username: str, limit: int = MAX_TEXT_UTF16
) -> Message:
    """Bold title, byline, summary; buttons "Read more", the source link and "Share".

    Whatever the article holds, the card fits Telegram: each part is one line cut at a word,
    the visible text stays within `limit` UTF-16 units (4096 for a message, MAX_CAPTION_UTF16
    for a photo's caption), and a link Telegram would refuse on a button is left out.
    """
    title = fit(one_line(article.title), TITLE_LIMIT) or f"#{article.id}"
    byline = fit(one_line(article.byline or ""), BYLINE_LIMIT)
    parts = [f"<b>{html.escape(title, quote=False)}</b>"]
    used = utf16_length(title)
    if byline:
        parts.append(f"<i>{html.escape(byline, quote=False)}</i>")
        used += 1 + utf16_length(byline)  # after a line break
    summary = fit(one_line(article.summary or ""), limit - used - 2)
    if summary:
        parts.append(f"\n{html.escape(summary, quote=False)}")
    row = [
        InlineKeyboardButton(
            text(language, "read_more"), callback_data=ReadSection(article.id, 1).encode()
        )
    ]
    if (link := button_url(article.url)) is not None:
        row.append(InlineKeyboardButton(text(language, "source"), url=link))
    row.append(share_button(article, language, bot_username))
    return "\n".join(parts), InlineKeyboardMarkup([row])


def link_card(
    article: ArticleRow, language: str, *, bot_username: str, limit: int = MAX_TEXT_UTF16
) -> Message:
    """A story card for a chat where the bot cannot answer a press (a channel, a chat a reader
    posts into from inline mode): link buttons only, "Read in the bot" and the source."""
    body, _ = story_card(article, language, bot_username=bot_username, limit=limit)
    row = [
        InlineKeyboardButton(
            text(language, "read_in_bot"), url=story_link(article.id, bot_username)
        )
    ]
    if (link := button_url(article.url)) is not None:
        row.append(InlineKeyboardButton(text(language, "source"), url=link))
    return body, InlineKeyboardMarkup([row])


class SectionLike(Protocol):
    """What a section message is made of: a stored section row or its plain text."""

    @property
    def article_id(self) -> int: ...

    @property
    def index(self) -> int: ...

    @property
    def html(self) -> str: ...


def section_message(
    section: SectionLike, total: int, language: str, related: Sequence[ArticleRow] = ()
) -> Message:
    """A section as sent: "Next (i/n)" below all but the last, which says it is the end and
    offers the stories it cross-links (those stored), then the latest stories."""
    if section.index < total:
        following = ReadSection(section.article_id, section.index + 1)
        label = text(language, "next", position=section.index + 1, total=total)
        button = InlineKeyboardButton(label, callback_data=following.encode())
        return section.html, InlineKeyboardMarkup([[button]])
    end_mark = f"\n\n<i>{html.escape(text(language, 'end_of_story'), quote=False)}</i>"
    latest = InlineKeyboardButton(
        text(language, "latest_button"), callback_data=ShowLatest().encode()
    )
    rows = [
        [
            InlineKeyboardButton(
                shorten(one_line(story.title), LATEST_BUTTON_LIMIT) or f"#{story.id}",
                callback_data=OpenStory(story.id).encode(),
            )
        ]
        for story in related
    ]
    return section.html + end_mark, InlineKeyboardMarkup([*rows, [latest]])


def latest_list(articles: Sequence[ArticleRow], language: str) -> Message:
    """The newest stories, one button each that opens the story card."""
    if not articles:
        return text(language, "latest_none"), None
    lines = [f"<b>{html.escape(text(language, 'latest_header'), quote=False)}</b>"]
    buttons = []
    for number, article in enumerate(articles, start=1):
        title = one_line(article.title)
        lines.append(f"{number}. {html.escape(fit(title, TITLE_LIMIT), quote=False)}")
        label = f"{number}. {shorten(title, LATEST_BUTTON_LIMIT)}"
        buttons.append([InlineKeyboardButton(label, callback_data=OpenStory(article.id).encode())])
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


def topics_pages(count: int) -> int:
    """How many pages the topics keyboard has for `count` topics."""
    return max(1, -(-count // TOPICS_PER_PAGE))


def topics_keyboard(
    topics: Sequence[str], subscribed: Sequence[str], language: str, page: int = 1
) -> Message:
    """One page of toggles, "All topics" first; ✅ marks a subscription; Previous/Next pages.

    A page holds at most 20 topics plus three buttons, and a label at most 60 characters
    (4 bytes each in UTF-8), so the keyboard stays well under 100 buttons and 10 KB.
    """

    def label(name: str, on: bool) -> str:
        return f"{'✅' if on else '▫️'} {shorten(one_line(name), LATEST_BUTTON_LIMIT)}"

    pages = topics_pages(len(topics))
    page = min(max(page, 1), pages)
    shown = topics[(page - 1) * TOPICS_PER_PAGE : page * TOPICS_PER_PAGE]
    chosen = set(subscribed)
    rows = [
        [
            InlineKeyboardButton(
                label(text(language, "all_topics"), ALL_TOPICS in chosen),
                callback_data=ToggleTopic(ALL_TOPICS, page).encode(),
            )
        ]
    ]
    rows += [
        [
            InlineKeyboardButton(
                label(t, t in chosen), callback_data=ToggleTopic(topic_key(t), page).encode()
            )
        ]
        for t in shown
    ]
    turns = []
    if page > 1:
        previous = text(language, "page_previous", page=page - 1, pages=pages)
        turns.append(InlineKeyboardButton(previous, callback_data=TopicsPage(page - 1).encode()))
    if page < pages:
        following = text(language, "page_next", page=page + 1, pages=pages)
        turns.append(InlineKeyboardButton(following, callback_data=TopicsPage(page + 1).encode()))
    if turns:
        rows.append(turns)
    return text(language, "topics_header"), InlineKeyboardMarkup(rows)


def language_keyboard(language: str) -> Message:
    """The two interface languages."""
    row = [
        InlineKeyboardButton("العربية", callback_data=SetLanguage("ar").encode()),
        InlineKeyboardButton("English", callback_data=SetLanguage("en").encode()),
    ]
    return text(language, "choose_language"), InlineKeyboardMarkup([row])


def search_results(results: Results, language: str) -> Message:
    """A page of found stories, numbered, one button each; "More" when a next page has some."""
    words = echo(" ".join(results.terms.words))
    if not results.articles:
        return text(language, "search_none", words=words), None
    # The words are escaped already (echo); the rest of the header is plain text.
    lines = [f"<b>{text(language, 'search_header', words=words)}</b>"]
    buttons = []
    for number, article in enumerate(results.articles, start=results.first_number):
        title = one_line(article.title) or f"#{article.id}"
        day = article.sort_at.date().isoformat()
        lines.append(f"{number}. {html.escape(fit(title, TITLE_LIMIT), quote=False)} · {day}")
        label = f"{number}. {shorten(title, LATEST_BUTTON_LIMIT)}"
        buttons.append([InlineKeyboardButton(label, callback_data=OpenStory(article.id).encode())])
    if results.more:
        following = SearchPage(results.key, results.page + 1)
        label = text(language, "search_more", page=results.page + 1)
        buttons.append([InlineKeyboardButton(label, callback_data=following.encode())])
    return "\n".join(lines), InlineKeyboardMarkup(buttons)
