"""The `newsbot` command line."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.newsroom.clock import utcnow
from bot.newsroom.ids import MAX_ID, parse_id
from bot.newsroom.ingest import prepare_sources, render, store_rendered
from bot.newsroom.preview import preview_dict, render_preview
from bot.newsroom.sources import load_sources
from bot.newsroom.when import WhenError, parse_when
from bot.ops.addresses import http_url, reachable_host, split_address
from bot.ops.logs import redact, register_secrets
from bot.settings import Settings
from content.errors import ContentError
from db import broadcasts, store
from db.broadcasts import Progress
from db.migrate import upgrade
from db.models import ArticleRow, BroadcastRow
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
FOLLOW_INTERVAL = 0.5  # seconds between progress redraws


class UsageError(Exception):
    """Bad input found by a command itself (an unknown id, a missing setting)."""


def id_argument(value: str) -> int:
    """An article or broadcast id as typed: ASCII digits from 1 to 2^31-1, else bad input."""
    parsed = parse_id(value)
    if parsed is None:
        raise typer.BadParameter(f"{value[:64]!r} is not an id (1 to {MAX_ID}, ASCII digits)")
    return parsed


def fail(reason: str, status: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print a one-line reason on stderr and exit (2: bad input or usage, 1: anything else)."""
    print(f"newsbot: {redact(reason)}", file=sys.stderr)
    raise typer.Exit(status)


def guarded(action: Callable[[], T]) -> T:
    """Run a command body, turning bad input into exit 2 and anything else into exit 1."""
    try:
        return action()
    except (ContentError, UsageError) as error:
        fail(str(error))
    except ValidationError as error:
        fail(setting_error(error))
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as error:
        fail(f"{type(error).__name__}: {error}", status=1)


def setting_error(error: ValidationError) -> str:
    """The first problem with the settings, named by its environment variable."""
    first = error.errors()[0]
    reason = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:  # a rule about several settings names them in its message
        return f"bad settings: {reason}"
    name = "NEWSBOT_" + "_".join(str(part) for part in first["loc"]).upper()
    return f"bad setting {name}: {reason}"


def with_database(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """Bring the database up to date, then run `work`, which opens its own units of work."""
    upgrade(settings.database_url)

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            return await work(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def with_store(
    settings: Settings,
    work: Callable[[AsyncSession], Awaitable[T]],
    *,
    read_only: bool = False,
) -> T:
    """Bring the database up to date, then run `work` in one unit of work."""

    async def run(sessionmaker: async_sessionmaker[AsyncSession]) -> T:
        async with unit_of_work(sessionmaker, read_only=read_only) as session:
            return await work(session)

    return with_database(settings, run)


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
        article_id = parse_id(source)
        if article_id is not None and not Path(source).exists():
            show(
                with_store(
                    settings,
                    lambda session: _stored_preview(session, article_id),
                    read_only=True,
                )
            )
            return
        for parsed in load_sources(
            [source],
            fetch_private=settings.fetch_private,
            fetch_deadline=settings.fetch_timeout,
        ):
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
    publish: Annotated[
        bool, typer.Option("--publish", help="push new articles to their subscribers")
    ] = False,
    at: Annotated[str | None, typer.Option("--at", help="when to push (with --publish)")] = None,
) -> None:
    """Store articles from text, Markdown, HTML and RSS/Atom sources (all or nothing)."""

    def run() -> None:
        settings = Settings()
        if at is not None and not publish:
            raise UsageError("--at needs --publish")
        # Read the time first: a bad WHEN must store nothing.
        due_at = _when(settings, at or "now") if publish else None
        # Every source is read before anything is stored.
        parsed = load_sources(
            sources, fetch_private=settings.fetch_private, fetch_deadline=settings.fetch_timeout
        )
        for source in parsed:
            for skipped in source.skipped:
                print(f"newsbot: {source.name}: skipped {skipped}", file=sys.stderr)
        # Split too: an article that cannot be split (too many sections) must also store nothing.
        rendered = prepare_sources(parsed, topic or [], settings.section_target)

        async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
            for article in rendered:
                # One unit of work per article: a big feed never holds SQLite's write lock for
                # more than one article, so the running bot's readers and deliverer, and
                # another ingest, get their turns in between.
                async with unit_of_work(sessionmaker) as session:
                    now = utcnow()
                    (item,) = await store_rendered(session=session, rendered=[article], now=now)
                    broadcast_id = None
                    # An article stored before was pushed (or not) then: pushing it again on a
                    # re-ingest would repeat it to every reader. `newsbot publish ID` does that.
                    if due_at is not None and item.created:
                        row = await broadcasts.create_broadcast(
                            session=session, article_id=item.article_id, due_at=due_at, now=now
                        )
                        broadcast_id = row.id
                note = "" if item.created else "\t(already stored)"
                if broadcast_id is not None:
                    note += f"\tbroadcast #{broadcast_id}"
                # Printed once committed: a line is an article that is stored.
                print(f"{item.article_id}\t{item.sections}\t{item.title}{note}", flush=True)

        with_database(settings, work)

    guarded(run)


def _when(settings: Settings, when: str) -> datetime:
    """An operator's WHEN read in NEWSBOT_TIMEZONE; bad input is a usage error."""
    try:
        return parse_when(when, now=datetime.now(UTC), zone=settings.timezone)
    except WhenError as error:
        raise UsageError(str(error)) from None


def _local(settings: Settings, moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M %Z")


@app.command()
def publish(
    article_id: Annotated[int, typer.Argument(help="the stored article's id", parser=id_argument)],
    at: Annotated[str | None, typer.Option("--at", help="when: now, 18:00, in 2h, …")] = None,
    topic: Annotated[
        str | None, typer.Option("--topic", help="only this topic's subscribers")
    ] = None,
) -> None:
    """Schedule a broadcast of an article (now when --at is absent); the running bot sends it."""

    def run() -> None:
        settings = Settings()
        due_at = _when(settings, at or "now")

        async def work(session: AsyncSession) -> BroadcastRow:
            try:
                return await broadcasts.create_broadcast(
                    session=session,
                    article_id=article_id,
                    due_at=due_at,
                    now=utcnow(),
                    topic=topic,
                )
            except broadcasts.UnknownArticle as error:
                raise UsageError(str(error)) from None
            except ValueError as error:
                raise UsageError(f"bad topic: {error}") from None

        row = with_store(settings, work)
        audience = f"subscribers of {row.topic!r}" if row.topic else "subscribers of its topics"
        print(
            f"broadcast #{row.id}: article {row.article_id} to {audience}, "
            f"due {_local(settings, row.due_at)}"
        )

    guarded(run)


def _progress_table(settings: Settings, rows: list[Progress]) -> Table:
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
            _local(settings, b.due_at),
            str(b.target_count),
            str(progress.sent),
            str(progress.skipped),
            str(progress.failed),
            str(progress.queued + progress.sending),
            str(progress.dropped),
            str(progress.readers),
        )
    return table


@app.command("broadcasts")
def list_broadcasts(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="how many")] = 20,
) -> None:
    """List broadcasts, newest first, with their progress."""

    def run() -> list[Progress]:
        async def work(session: AsyncSession) -> list[Progress]:
            rows = await broadcasts.list_broadcasts(session=session, limit=limit)
            found = [
                await broadcasts.broadcast_progress(session=session, broadcast_id=row.id)
                for row in rows
            ]
            return [progress for progress in found if progress is not None]

        return with_store(Settings(), work, read_only=True)

    rows = guarded(run)
    console.print(_progress_table(Settings(), rows))


@app.command()
def cancel(
    broadcast_id: Annotated[int, typer.Argument(help="the broadcast's id", parser=id_argument)],
) -> None:
    """Cancel a scheduled or running broadcast; its unsent messages are dropped."""

    def run() -> None:
        async def work(session: AsyncSession) -> int:
            dropped = await broadcasts.cancel_broadcast(
                session=session, broadcast_id=broadcast_id, now=datetime.now(UTC)
            )
            if dropped is not None:
                return dropped
            row = await broadcasts.get_broadcast(session=session, broadcast_id=broadcast_id)
            if row is None:
                raise UsageError(f"no broadcast with id {broadcast_id}")
            raise UsageError(f"broadcast #{broadcast_id} is {row.status}: nothing to cancel")

        dropped = with_store(Settings(), work)
        print(f"broadcast #{broadcast_id} cancelled; {dropped} unsent messages dropped")

    guarded(run)


@app.command()
def stats(
    broadcast_id: Annotated[
        int | None,
        typer.Argument(help="a broadcast's id (default: the newest)", parser=id_argument),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="show a progress bar until it finishes")
    ] = False,
) -> None:
    """Count a broadcast's deliveries by outcome, and the readers who opened "Read more"."""

    def run() -> None:
        settings = Settings()

        async def read(session: AsyncSession) -> Progress:
            wanted = broadcast_id
            if wanted is None:
                newest = await broadcasts.list_broadcasts(session=session, limit=1)
                if not newest:
                    raise UsageError("no broadcasts yet")
                wanted = newest[0].id
            progress = await broadcasts.broadcast_progress(session=session, broadcast_id=wanted)
            if progress is None:
                raise UsageError(f"no broadcast with id {wanted}")
            return progress

        progress = with_store(settings, read, read_only=True)
        if follow and progress.broadcast.status in ("scheduled", "running"):
            progress = asyncio.run(_follow(settings, progress.broadcast.id))
        console.print(_progress_table(settings, [progress]))

    guarded(run)


async def _follow(settings: Settings, broadcast_id: int) -> Progress:
    """Redraw a progress bar from the database until the broadcast is no longer open."""
    engine = create_engine(settings.database_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        with RichProgress(console=console) as bar:
            task = bar.add_task(f"broadcast #{broadcast_id}", total=None)
            while True:
                async with unit_of_work(sessionmaker, read_only=True) as session:
                    progress = await broadcasts.broadcast_progress(
                        session=session, broadcast_id=broadcast_id
                    )
                assert progress is not None  # it existed a moment ago; broadcasts are kept
                b = progress.broadcast
                bar.update(
                    task,
                    total=b.target_count or None,
                    completed=progress.finished,
                    description=f"broadcast #{broadcast_id} ({b.status})",
                )
                if b.status not in ("scheduled", "running"):
                    return progress
                await asyncio.sleep(FOLLOW_INTERVAL)
    finally:
        await engine.dispose()


@app.command()
def articles(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="how many")] = 20,
) -> None:
    """List stored articles, newest first."""

    def run() -> list[ArticleRow]:
        return with_store(
            Settings(),
            lambda session: store.list_articles(session=session, limit=limit),
            read_only=True,
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

    def run() -> None:
        settings = Settings()
        register_secrets(settings)  # a failed connection's message may quote the URL
        upgrade(settings.database_url)

    guarded(run)
    print("database is up to date")


@app.command()
def run() -> None:
    """Run the bot: updates by polling (or webhook when NEWSBOT_WEBHOOK_URL is set)."""
    from bot.ops.logs import configure_logging
    from bot.ops.runner import serve

    def start() -> None:
        settings = Settings()
        if settings.token is None:
            raise UsageError("NEWSBOT_TOKEN is not set (the bot token from @BotFather)")
        configure_logging(settings)
        upgrade(settings.database_url)
        asyncio.run(serve(settings))

    guarded(start)


@app.command()
def healthcheck() -> None:
    """Ask the running bot's /healthz (for a container's health check): exit 0 if healthy."""

    def check() -> None:
        settings = Settings()
        address = settings.listen if settings.webhook_url else settings.metrics_listen
        if address is None:
            raise UsageError("no health endpoint: set NEWSBOT_METRICS_LISTEN in polling mode")
        host, port = split_address(address)
        url = f"{http_url(reachable_host(host), port)}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                print(response.read().decode())
        except urllib.error.HTTPError as error:
            fail(f"unhealthy: {error.read().decode()}", status=1)
        except OSError as error:
            fail(f"{url} did not answer: {error}", status=1)

    guarded(check)


def main() -> None:
    """Console-script entry point."""
    app()


@app.command()
def sandbox(
    host: Annotated[
        str, typer.Option("--host", help="address to listen on (no login: keep it local)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="the web chat's port (0: any free)")] = 8080,
    api_port: Annotated[
        int, typer.Option("--api-port", help="the fake Bot API's port (0: any free)")
    ] = 8081,
    api_only: Annotated[
        bool, typer.Option("--api-only", help="no bot: serve the fake Bot API for another one")
    ] = False,
    samples: Annotated[
        Path | None,
        typer.Option("--samples", help="articles to store when the store is empty"),
    ] = None,
) -> None:
    """Run the bot against a local Telegram lookalike with a web chat: no token, no network."""
    from bot.ops.logs import configure_logging
    from bot.sandbox.runner import ListenError, SandboxOptions, find_samples, run_sandbox

    def start() -> None:
        options = SandboxOptions(host, port, api_port, api_only, samples or find_samples())
        try:
            options.check()
        except ValueError as error:
            raise UsageError(str(error)) from None
        settings = Settings()
        # The bot's routine lines would bury the sandbox's addresses: warnings only, by default.
        if "log_level" not in settings.model_fields_set:
            settings = settings.model_copy(update={"log_level": "WARNING"})
        configure_logging(settings)
        try:
            run_sandbox(settings, options)
        except ListenError as error:
            fail(str(error), status=1)

    guarded(start)
