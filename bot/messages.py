"""What the bot sends: story cards, sections, lists and keyboards, in the chat's language."""

from __future__ import annotations

import html
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import OpenStory, ReadSection, SetLanguage, ShowLatest, ToggleTopic, topic_key
from bot.texts import text
from content.split import MAX_SECTION_UTF16
from content.summary import shorten
from db.models import ArticleRow, SectionRow

# The last section carries an end mark; sections are cut short enough that it always fits.
END_MARK_RESERVE = 32
SECTION_CAP = MAX_SECTION_UTF16 - END_MARK_RESERVE
TITLE_LIMIT = 300
LATEST_BUTTON_LIMIT = 60
ALL_TOPICS = "*"

Message = tuple[str, InlineKeyboardMarkup | None]


def story_card(article: ArticleRow, language: str) -> Message:
    """Bold title, byline, summary; buttons "Read more" and the source link."""
    parts = [f"<b>{html.escape(shorten(article.title, TITLE_LIMIT), quote=False)}</b>"]
    if article.byline:
        parts.append(f"<i>{html.escape(article.byline, quote=False)}</i>")
    if article.summary:
        parts.append(f"\n{html.escape(article.summary, quote=False)}")
    row = [
        InlineKeyboardButton(
            text(language, "read_more"), callback_data=ReadSection(article.id, 1).encode()
        )
    ]
    if article.url and article.url.startswith(("http://", "https://")):
        row.append(InlineKeyboardButton(text(language, "source"), url=article.url))
    return "\n".join(parts), InlineKeyboardMarkup([row])


def section_message(section: SectionRow, total: int, language: str) -> Message:
    """A section as sent: "Next (i/n)" below all but the last, which says it is the end."""
    if section.index < total:
        following = ReadSection(section.article_id, section.index + 1)
        label = text(language, "next", position=section.index + 1, total=total)
        button = InlineKeyboardButton(label, callback_data=following.encode())
        return section.html, InlineKeyboardMarkup([[button]])
    end_mark = f"\n\n<i>{html.escape(text(language, 'end_of_story'), quote=False)}</i>"
    latest = InlineKeyboardButton(
        text(language, "latest_button"), callback_data=ShowLatest().encode()
    )
    return section.html + end_mark, InlineKeyboardMarkup([[latest]])


def latest_list(articles: Sequence[ArticleRow], language: str) -> Message:
    """The newest stories, one button each that opens the story card."""
    if not articles:
        return text(language, "latest_none"), None
    lines = [f"<b>{html.escape(text(language, 'latest_header'), quote=False)}</b>"]
    buttons = []
    for number, article in enumerate(articles, start=1):
        lines.append(f"{number}. {html.escape(shorten(article.title, TITLE_LIMIT), quote=False)}")
        label = f"{number}. {shorten(article.title, LATEST_BUTTON_LIMIT)}"
        buttons.append([InlineKeyboardButton(label, callback_data=OpenStory(article.id).encode())])
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


def topics_keyboard(topics: Sequence[str], subscribed: Sequence[str], language: str) -> Message:
    """One toggle per known topic, plus "All topics"; ✅ marks a subscription."""

    def label(name: str, on: bool) -> str:
        return f"{'✅' if on else '▫️'} {shorten(name, LATEST_BUTTON_LIMIT)}"

    chosen = set(subscribed)
    rows = [
        [
            InlineKeyboardButton(
                label(text(language, "all_topics"), ALL_TOPICS in chosen),
                callback_data=ToggleTopic(ALL_TOPICS).encode(),
            )
        ]
    ]
    rows += [
        [
            InlineKeyboardButton(
                label(t, t in chosen), callback_data=ToggleTopic(topic_key(t)).encode()
            )
        ]
        for t in topics
    ]
    return text(language, "topics_header"), InlineKeyboardMarkup(rows)


def language_keyboard(language: str) -> Message:
    """The two interface languages."""
    row = [
        InlineKeyboardButton("العربية", callback_data=SetLanguage("ar").encode()),
        InlineKeyboardButton("English", callback_data=SetLanguage("en").encode()),
    ]
    return text(language, "choose_language"), InlineKeyboardMarkup([row])
