"""The terminal's views: a preview as panels, broadcasts and articles as tables (Rich)."""

from __future__ import annotations

from collections.abc import Sequence
from html.parser import HTMLParser
from typing import Any, ClassVar

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.newsroom.clock import local_time
from db.broadcasts import Progress
from db.models import ArticleRow


def progress_table(rows: Sequence[Progress], zone: str) -> Table:
    """Broadcasts with their deliveries by outcome; due times in `zone`."""
    table = Table(
        "id",
        "status",
        "article",
        "topic",
        "due",
        "targets",
        "sent",
        "skipped",
        "failed",
        "waiting",
        "dropped",
        "readers",
    )
    for progress in rows:
        b = progress.broadcast
        table.add_row(
            str(b.id),
            b.status,
            str(b.article_id),
            b.topic or "",
            local_time(b.due_at, zone),
            str(b.target_count),
            str(progress.sent),
            str(progress.skipped),
            str(progress.failed),
            str(progress.queued + progress.sending),
            str(progress.dropped),
            str(progress.readers),
        )
    return table


def articles_table(rows: Sequence[ArticleRow]) -> Table:
    """Stored articles: id, publication (or storing) time, sections, language, topics, title."""
    table = Table("id", "published", "sections", "lang", "topics", "title")
    for row in rows:
        moment = row.published_at or row.created_at
        table.add_row(
            str(row.id),
            moment.strftime("%Y-%m-%d %H:%M"),
            str(row.section_count),
            row.language,
            ", ".join(row.topic_names),
            row.title,
        )
    return table


def render_preview(console: Console, data: dict[str, Any]) -> None:
    """Print the story card and then every section, as a reader pages through them."""
    card = Text()
    card.append(f"{data['title']}\n", style="bold")
    if data["byline"]:
        card.append(f"{data['byline']}\n", style="italic")
    card.append(f"\n{data['summary']}\n")
    details = [
        f"id: {data['id'] if data['id'] is not None else '(not stored)'}",
        f"language: {data['language']}",
        f"topics: {', '.join(data['topics']) or '-'}",
        f"sections: {len(data['sections'])}",
    ]
    if data["url"]:
        details.append(f"url: {data['url']}")
    card.append(f"image: {data.get('image') or '-'}\n", style="dim")
    card.append("\n" + " · ".join(details), style="dim")
    if data["lead"] and data["lead"] != data["summary"]:
        card.append(f"\nlead: {data['lead']}", style="dim")
    for link in data["related"]:
        card.append(f"\nrelated: {link}", style="dim")
    console.print(Panel(card, title="story"))
    total = len(data["sections"])
    for section in data["sections"]:
        title = f"{section['index']}/{total} · {section['utf16_length']} UTF-16 units"
        console.print(Panel(Group(telegram_html_to_text(section["html"])), title=title))


class _TelegramHtmlToRich(HTMLParser):
    _STYLES: ClassVar[dict[str, str]] = {
        "b": "bold",
        "strong": "bold",
        "i": "italic",
        "em": "italic",
        "u": "underline",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = Text()
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.styles.append(self._STYLES.get(tag, ""))

    def handle_endtag(self, tag: str) -> None:
        if self.styles:
            self.styles.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data, style=" ".join(s for s in self.styles if s) or None)


def telegram_html_to_text(markup: str) -> Text:
    """Rich text showing what Telegram shows for a message in parse mode HTML."""
    parser = _TelegramHtmlToRich()
    parser.feed(markup)
    parser.close()
    return parser.text
