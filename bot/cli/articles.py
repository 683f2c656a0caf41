"""Articles: `newsbot preview`, `newsbot ingest` and `newsbot articles`."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.common import UsageError, console, guarded, read_store, with_database
from bot.cli.views import (
    ARTICLE_KEYS,
    article_record,
    articles_table,
    print_records,
    render_preview,
)
from bot.newsroom.broadcasts import due_time
from bot.newsroom.clock import utcnow
from bot.newsroom.ids import parse_id
from bot.settings import Settings
from db import store
from db.session import unit_of_work

if TYPE_CHECKING:
    from bot.newsroom.ingest import Ingested
    from content.sources import ParsedSource

# Reading sources (HTML extraction, feeds, the fetcher) is imported by the commands that read
# them: it is half of the command line's start-up, which every `newsbot publish` would pay.


def preview(
    source: Annotated[str, typer.Argument(help="a file, directory, feed, URL or article id")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON, one object a line")] = False,
) -> None:
    """Show how an article will look: card, summary, language, topics and every section."""
    from bot.newsroom.ingest import render
    from bot.newsroom.preview import preview_dict, stored_preview

    def show(data: dict[str, Any]) -> None:
        if as_json:
            print(json.dumps(data, ensure_ascii=False))
        else:
            render_preview(console, data)

    def run() -> None:
        settings = Settings()
        article_id = parse_id(source)
        if article_id is not None and not Path(source).exists():
            show(
                read_store(
                    settings,
                    lambda session: stored_preview(session=session, article_id=article_id),
                )
            )
            return
        for parsed in _load(settings, [source]):
            _say_skipped(parsed)
            for article in parsed.articles:
                sections, summary = render(article, target=settings.section_target)
                show(preview_dict(article, sections, summary))

    guarded(run)


def ingest(
    sources: Annotated[list[str], typer.Argument(help="files, directories, feeds or URLs")],
    topic: Annotated[list[str] | None, typer.Option("--topic", help="add a topic")] = None,
    publish: Annotated[
        bool, typer.Option("--publish", help="push new articles to their subscribers")
    ] = False,
    at: Annotated[str | None, typer.Option("--at", help="when to push (with --publish)")] = None,
) -> None:
    """Store articles from text, Markdown, HTML and RSS/Atom sources (all or nothing)."""
    from bot.newsroom.ingest import prepare_sources, store_and_push

    def run() -> None:
        settings = Settings()
        if at is not None and not publish:
            raise UsageError("--at needs --publish")
        # Read the time first: a bad WHEN must store nothing.
        due_at = due_time(at or "now", now=utcnow(), zone=settings.timezone) if publish else None
        # Every source is read, and split, before anything is stored: an article that cannot be
        # split (too many sections) must also store nothing.
        parsed = _load(settings, sources)
        for source in parsed:
            _say_skipped(source)
        rendered = prepare_sources(parsed, topic or [], settings.section_target)

        async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
            # An article stored before was pushed (or not) then: pushing it again on a re-ingest
            # would repeat it to every reader. `newsbot publish ID` does that.
            async for item in store_and_push(
                lambda: unit_of_work(sessionmaker),
                rendered,
                clock=utcnow,
                push_at=None if due_at is None else lambda _: due_at,
            ):
                # Printed once committed: a line is an article that is stored.
                print(_ingested_line(item), flush=True)

        with_database(settings, work)

    guarded(run)


def _ingested_line(item: Ingested) -> str:
    stored = item.stored
    note = ""
    if stored.updated:
        note = "\t(updated)"
    elif not stored.created:
        note = "\t(already stored)"
    if item.broadcast_id is not None:
        note += f"\tbroadcast #{item.broadcast_id}"
    return f"{stored.article_id}\t{stored.sections}\t{stored.title}{note}"


def _load(settings: Settings, sources: Sequence[str]) -> list[ParsedSource]:
    from bot.newsroom.sources import load_sources

    return load_sources(
        sources, fetch_private=settings.fetch_private, fetch_deadline=settings.fetch_timeout
    )


def _say_skipped(source: ParsedSource) -> None:
    if source.guessed_encoding is not None:
        print(
            f"newsbot: {source.name}: not UTF-8; read as {source.guessed_encoding}",
            file=sys.stderr,
        )
    for skipped in source.skipped:
        print(f"newsbot: {source.name}: skipped {skipped}", file=sys.stderr)


def articles(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="how many")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON, one object a line")] = False,
) -> None:
    """List stored articles, newest first (tab-separated lines when piped)."""

    def run() -> None:
        rows = read_store(
            Settings(), lambda session: store.list_articles(session=session, limit=limit)
        )
        records = [article_record(row) for row in rows]
        print_records(
            console, records, ARTICLE_KEYS, as_json=as_json, table=articles_table(records)
        )

    guarded(run)
