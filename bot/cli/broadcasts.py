"""Broadcasts: `newsbot publish`, `newsbot broadcasts`, `newsbot cancel` and `newsbot stats`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.progress import Progress as RichProgress
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.common import console, guarded, id_argument, open_database, read_store, with_store
from bot.cli.views import progress_table
from bot.newsroom import broadcasts
from bot.newsroom.clock import local_time, utcnow
from bot.settings import Settings
from db.broadcasts import OPEN_BROADCAST_STATUSES, Progress
from db.session import unit_of_work

FOLLOW_INTERVAL = 0.5  # seconds between progress redraws


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
        now = utcnow()
        scheduled = with_store(
            settings,
            lambda session: broadcasts.schedule(
                session=session,
                article_id=article_id,
                when=at or "now",
                now=now,
                zone=settings.timezone,
                topic=topic,
            ),
        )
        row = scheduled.broadcast
        audience = f"subscribers of {row.topic!r}" if row.topic else "subscribers of its topics"
        print(
            f"broadcast #{row.id}: article {row.article_id} to {audience}, "
            f"due {local_time(row.due_at, settings.timezone)}"
        )

    guarded(run)


def list_broadcasts(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="how many")] = 20,
) -> None:
    """List broadcasts, newest first, with their progress."""

    def run() -> None:
        settings = Settings()
        rows = read_store(
            settings, lambda session: broadcasts.newest(session=session, limit=limit)
        )
        console.print(progress_table(rows, settings.timezone))

    guarded(run)


def cancel(
    broadcast_id: Annotated[int, typer.Argument(help="the broadcast's id", parser=id_argument)],
) -> None:
    """Cancel a scheduled or running broadcast; its unsent messages are dropped."""

    def run() -> None:
        dropped = with_store(
            Settings(),
            lambda session: broadcasts.cancel(
                session=session, broadcast_id=broadcast_id, now=utcnow()
            ),
        )
        print(f"broadcast #{broadcast_id} cancelled; {dropped} unsent messages dropped")

    guarded(run)


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
        progress = read_store(
            settings,
            lambda session: broadcasts.progress(session=session, broadcast_id=broadcast_id),
        )
        if follow and progress.broadcast.status in OPEN_BROADCAST_STATUSES:
            wanted = progress.broadcast.id
            progress = open_database(settings, lambda sessions: _follow(sessions, wanted))
        console.print(progress_table([progress], settings.timezone))
        if progress.photo_refused is not None:
            console.print(f"photo refused: {progress.photo_refused}", markup=False)

    guarded(run)


async def _follow(sessionmaker: async_sessionmaker[AsyncSession], broadcast_id: int) -> Progress:
    """Redraw a progress bar from the database until the broadcast is no longer open."""
    with RichProgress(console=console) as bar:
        task = bar.add_task(f"broadcast #{broadcast_id}", total=None)
        while True:
            async with unit_of_work(sessionmaker, read_only=True) as session:
                progress = await broadcasts.progress(session=session, broadcast_id=broadcast_id)
            b = progress.broadcast
            bar.update(
                task,
                total=b.target_count or None,
                completed=progress.finished,
                description=f"broadcast #{broadcast_id} ({b.status})",
            )
            if b.status not in OPEN_BROADCAST_STATUSES:
                return progress
            await asyncio.sleep(FOLLOW_INTERVAL)
