"""The command line's views: Rich on a terminal, tab-separated lines or JSON otherwise.

A listing prints in one of three forms: `--json` (one object a line, stable keys), plain
tab-separated lines when stdout is not a terminal (a pipe, a file: one record a line, for `grep`,
`cut` and `awk`), and a Rich table on a terminal that fits its width (titles wrap, status and
numbers never shorten).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from html.parser import HTMLParser
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.newsroom.broadcasts import Details
from bot.newsroom.clock import local_time
from db.broadcasts import Progress
from db.models import ArticleRow

# What `stats`, the chat's /stats and the sandbox's newsroom call the same figure.
OPENED_READ_MORE = "opened Read more"

ARTICLE_KEYS = ("id", "published", "sections", "language", "topics", "title", "url")
BROADCAST_KEYS = (
    "id",
    "status",
    "article_id",
    "title",
    "topic",
    "due",
    "targets",
    "audience",
    "sent",
    "skipped",
    "failed",
    "waiting",
    "dropped",
    "readers",
    "kind",
    "photo_refused",
)


def one_field(value: object) -> str:
    """A value as one tab-separated field: no tab or line break inside it."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = ",".join(str(item) for item in value)
    return " ".join(str(value).split())


def tsv_line(values: Sequence[object]) -> str:
    """One record as a line of tab-separated fields."""
    return "\t".join(one_field(value) for value in values)


def iso_time(moment: datetime, zone: str | ZoneInfo = "UTC") -> str:
    """A moment in ISO 8601 with its offset, in `zone` (what scripts read)."""
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    return moment.astimezone(tz).isoformat(timespec="seconds")


def article_record(row: ArticleRow) -> dict[str, Any]:
    """A stored article as `articles --json` prints it (keys: ARTICLE_KEYS)."""
    return {
        "id": row.id,
        "published": iso_time(row.published_at or row.created_at),
        "sections": row.section_count,
        "language": row.language,
        "topics": row.topic_names,
        "title": row.title,
        "url": row.url,
    }


def broadcast_record(progress: Progress, details: Details | None, zone: str) -> dict[str, Any]:
    """A broadcast and its deliveries as `broadcasts --json` and `stats --json` print it.

    `targets` is the number of deliveries made when it started (0 while it is scheduled);
    `audience` is how many chats it would reach if it started now (null once started).
    """
    b = progress.broadcast
    return {
        "id": b.id,
        "status": b.status,
        # push (a story to readers), correct or retract (edits of the cards a push sent).
        "kind": b.kind,
        "article_id": b.article_id,
        "title": details.title if details else None,
        "topic": b.topic,
        "due": iso_time(b.due_at, zone),
        "targets": b.target_count,
        "audience": details.audience if details else None,
        "sent": progress.sent,
        "skipped": progress.skipped,
        "failed": progress.failed,
        "waiting": progress.queued + progress.sending,
        "dropped": progress.dropped,
        "readers": progress.readers,
        # Why Telegram refused the story's photo (the cards went out as text), else null.
        "photo_refused": progress.photo_refused,
    }


def status_of(record: Mapping[str, Any]) -> str:
    """The status, with the kind of job when it is not a push: "running (correct)"."""
    kind = record.get("kind") or "push"  # rows made before kinds existed have none
    return record["status"] if kind == "push" else f"{record['status']} ({kind})"


def sent_of(record: Mapping[str, Any]) -> str:
    """Sent of targets ("312/503") once started; before, "~12 readers" it would reach now."""
    if record["status"] == "scheduled":
        audience = record["audience"]
        return "not started" if audience is None else f"~{audience} readers"
    if record["targets"] == 0 and record["status"] in ("cancelled", "missed"):
        return "never started"
    return f"{record['sent']}/{record['targets']}"


def print_records(
    console: Console,
    records: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    *,
    as_json: bool,
    table: Table,
) -> None:
    """JSON lines, tab-separated lines (not a terminal) or the Rich table (a terminal)."""
    if as_json:
        for record in records:
            print(json.dumps({key: record[key] for key in keys}, ensure_ascii=False))
    elif not console.is_terminal:
        for record in records:
            print(tsv_line([record[key] for key in keys]))
    else:
        console.print(table)


def articles_table(records: Sequence[Mapping[str, Any]]) -> Table:
    """Stored articles for a terminal: the title wraps in the room the other columns leave."""
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True, justify="right")
    table.add_column("published", no_wrap=True)
    table.add_column("sections", no_wrap=True, justify="right")
    table.add_column("lang", no_wrap=True)
    table.add_column("topics", overflow="fold")
    table.add_column("title", ratio=1, overflow="fold")
    for record in records:
        table.add_row(
            str(record["id"]),
            record["published"][:16].replace("T", " "),
            str(record["sections"]),
            record["language"],
            ", ".join(record["topics"]),
            record["title"],
        )
    return table


def _other_counts(record: Mapping[str, Any]) -> str:
    """The outcomes besides "sent" that are not zero, e.g. "2 failed, 5 waiting"."""
    names = ("skipped", "failed", "waiting", "dropped")
    return ", ".join(f"{record[name]} {name}" for name in names if record[name]) or "-"


def progress_table(records: Sequence[Mapping[str, Any]], zone: str) -> Table:
    """Broadcasts for a terminal: id, status and "sent" never shorten, the rest wraps."""
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True, justify="right")
    table.add_column("status", no_wrap=True)
    table.add_column("sent", no_wrap=True, justify="right")
    table.add_column("other", overflow="fold")
    table.add_column(OPENED_READ_MORE, justify="right", overflow="fold")
    table.add_column("due", overflow="fold")
    table.add_column("topic", overflow="fold")
    table.add_column("article", ratio=1, overflow="fold")
    for record in records:
        title = record["title"]
        table.add_row(
            str(record["id"]),
            status_of(record),
            sent_of(record),
            _other_counts(record),
            str(record["readers"]),
            local_time(datetime.fromisoformat(record["due"]), zone),
            record["topic"] or "",
            f"{record['article_id']} · {title}" if title else str(record["article_id"]),
        )
    return table


def stats_line(record: Mapping[str, Any]) -> str:
    """One broadcast's counts in a sentence: "broadcast #3 (running): 312/503 sent · …"."""
    if record["status"] == "scheduled":
        audience = record["audience"]
        counts = "not started" + ("" if audience is None else f", would reach {audience} now")
    elif sent_of(record) == "never started":
        counts = "never started"
    else:
        counts = f"{record['sent']}/{record['targets']} sent"
    return (
        f"broadcast #{record['id']} ({status_of(record)}): {counts} · "
        f"{record['skipped']} skipped · {record['failed']} failed · "
        f"{record['waiting']} waiting · {record['dropped']} dropped · "
        f"{record['readers']} {OPENED_READ_MORE}"
    )


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
