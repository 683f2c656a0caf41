"""The `newsbot` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from bot.ingest import render, store_sources
from bot.preview import preview_dict, render_preview
from bot.settings import Settings
from bot.source_loader import load_sources
from content.errors import ContentError
from db import store
from db.migrate import upgrade
from db.models import ArticleRow
from db.session import create_engine, create_sessionmaker, unit_of_work

app = typer.Typer(
    help="newsbot: a Telegram news bot for Arabic and English articles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()
T = TypeVar("T")

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input found by a command itself (an unknown id, a missing setting)."""


def fail(reason: str, status: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print a one-line reason on stderr and exit (2: bad input or usage, 1: anything else)."""
    print(f"newsbot: {reason}", file=sys.stderr)
    raise typer.Exit(status)


def guarded(action: Callable[[], T]) -> T:
    """Run a command body, turning bad input into exit 2 and anything else into exit 1."""
    try:
        return action()
    except (ContentError, UsageError) as error:
        fail(str(error))
    except ValidationError as error:
        first = error.errors()[0]
        fail(f"bad setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as error:
        fail(f"{type(error).__name__}: {error}", status=1)


def with_store(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Bring the database up to date, then run `work` in one unit of work."""
    upgrade(settings.database_url)

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with unit_of_work(create_sessionmaker(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@app.command()
def preview(
    source: Annotated[str, typer.Argument(help="a file, directory, feed, URL or article id")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON, one object a line")] = False,
) -> None:
    """Show how an article will look: card, summary, language, topics and every section."""

    def show(data: dict[str, Any]) -> None:
        if as_json:
            print(json.dumps(data, ensure_ascii=False))
        else:
            render_preview(console, data)

    def run() -> None:
        settings = Settings()
        if source.isdigit() and not Path(source).exists():
            show(with_store(settings, lambda session: _stored_preview(session, int(source))))
            return
        for parsed in load_sources([source]):
            for skipped in parsed.skipped:
                print(f"newsbot: {parsed.name}: skipped {skipped}", file=sys.stderr)
            for article in parsed.articles:
                sections, summary = render(article, target=settings.section_target)
                show(preview_dict(article, sections, summary))

    guarded(run)


async def _stored_preview(session: AsyncSession, article_id: int) -> dict[str, Any]:
    row = await store.get_article(session=session, article_id=article_id)
    if row is None:
        raise UsageError(f"no article with id {article_id}")
    sections = await row.awaitable_attrs.sections
    return {
        "id": row.id,
        "title": row.title,
        "byline": row.byline,
        "lead": row.lead,
        "summary": row.summary,
        "language": row.language,
        "topics": row.topic_names,
        "url": row.url,
        "related": list(row.related),
        "published": row.published_at.isoformat() if row.published_at else None,
        "sections": [
            {
                "index": s.index,
                "heading": s.heading,
                "html": s.html,
                "text": s.text,
                "utf16_length": len(s.text.encode("utf-16-le")) // 2,
            }
            for s in sections
        ],
    }


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="files, directories, feeds or URLs")],
    topic: Annotated[list[str] | None, typer.Option("--topic", help="add a topic")] = None,
) -> None:
    """Store articles from text, Markdown, HTML and RSS/Atom sources (all or nothing)."""

    def run() -> None:
        settings = Settings()
        parsed = load_sources(sources)  # every source is read before anything is stored
        for source in parsed:
            for skipped in source.skipped:
                print(f"newsbot: {source.name}: skipped {skipped}", file=sys.stderr)
        stored = with_store(
            settings,
            lambda session: store_sources(
                session=session,
                sources=parsed,
                topics=topic or [],
                target=settings.section_target,
            ),
        )
        for item in stored:
            note = "" if item.created else "\t(already stored)"
            print(f"{item.article_id}\t{item.sections}\t{item.title}{note}")

    guarded(run)


@app.command()
def articles(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="how many")] = 20,
) -> None:
    """List stored articles, newest first."""

    def run() -> list[ArticleRow]:
        return with_store(
            Settings(), lambda session: store.list_articles(session=session, limit=limit)
        )

    rows = guarded(run)
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
    console.print(table)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    guarded(lambda: upgrade(Settings().database_url))
    print("database is up to date")


@app.command()
def run() -> None:
    """Run the bot: updates by polling, against NEWSBOT_API_URL."""
    from bot.app import build_application

    def start() -> None:
        settings = Settings()
        if settings.token is None:
            raise UsageError("NEWSBOT_TOKEN is not set (the bot token from @BotFather)")
        upgrade(settings.database_url)
        logging.basicConfig(
            format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO
        )
        # httpx logs every request URL, and the URL holds the token.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        build_application(settings).run_polling()

    guarded(start)


def main() -> None:
    """Console-script entry point."""
    app()
