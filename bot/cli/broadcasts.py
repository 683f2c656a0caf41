"""Broadcasts: `newsbot publish`, `newsbot broadcasts`, `newsbot cancel` and `newsbot stats`."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, TextColumn
from rich.progress import Progress as RichProgress
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.common import console, guarded, id_argument, open_database, read_store, with_store
from bot.cli.views import (
    BROADCAST_KEYS,
    broadcast_record,
    print_records,
    progress_table,
    stats_line,
    tsv_line,
)
from bot.newsroom import broadcasts
from bot.newsroom.clock import local_time, utcnow
from bot.settings import Settings
from db.broadcasts import OPEN_BROADCAST_STATUSES
from db.lock import someone_delivers
from db.session import create_engine, unit_of_work

FOLLOW_INTERVAL = 0.5  # seconds between progress redraws
LOCK_LOOKS = 4  # redraws between two looks at the delivery lock
NOBODY_DELIVERS = "no running bot is delivering (start one with `newsbot run`)"


def publish(
    article_id: Annotated[int, typer.Argument(help="the stored article's id", parser=id_argument)],
    at: Annotated[str | None, typer.Option("--at", help="when: now, 18:00, in 2h, …")] = None,
    topic: Annotated[
        str | None, typer.Option("--topic", help="only this topic's subscribers")
    ] = None,
    breaking: Annotated[
        bool,
        typer.Option("--breaking", help="now, to every target, through quiet hours and digests"),
    ] = False,
) -> None:
    """Schedule a broadcast of an article (now when --at is absent); the running bot sends it."""

    def run() -> None:
        settings = Settings()
        now = utcnow()

        async def work(session: AsyncSession) -> tuple[broadcasts.Scheduled, int]:
            scheduled = await broadcasts.schedule(
                session=session,
                article_id=article_id,
                when=at or "now",
                now=now,
                zone=settings.timezone,
                topic=topic,
                breaking=breaking,
            )
            # Checked after the article and the time, whose refusals say more; nothing is
            # stored when it fails (the unit of work rolls back).
            if topic is not None:
                await broadcasts.check_topic(session=session, topic=topic)
            return scheduled, await broadcasts.reach(
                session=session, broadcast=scheduled.broadcast
            )

        scheduled, reach = with_store(settings, work)
        row = scheduled.broadcast
        audience = f"subscribers of {row.topic!r}" if row.topic else "subscribers of its topics"
        print(
            f"{'breaking ' if row.breaking else ''}broadcast #{row.id}: article "
            f"{row.article_id} to {audience}, due {local_time(row.due_at, settings.timezone)}; "
            f"{reach} reader{'' if reach == 1 else 's'} as of now"
        )
        if asyncio.run(_delivering(settings)) is False:
            print(f"newsbot: {NOBODY_DELIVERS}: it waits until one is", file=sys.stderr)

    guarded(run)


async def _delivering(settings: Settings) -> bool | None:
    engine = create_engine(settings.database_url)
    try:
        return await someone_delivers(engine)
    finally:
        await engine.dispose()


def list_broadcasts(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="how many")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON, one object a line")] = False,
) -> None:
    """List broadcasts, newest first, with their progress (tab-separated lines when piped)."""

    def run() -> None:
        settings = Settings()
        records = read_store(
            settings, lambda session: _records(session, settings.timezone, limit=limit)
        )
        table = progress_table(records, settings.timezone)
        print_records(console, records, BROADCAST_KEYS, as_json=as_json, table=table)

    guarded(run)


async def _records(
    session: AsyncSession,
    zone: str,
    *,
    limit: int = 20,
    broadcast_id: int | None = None,
    one: bool = False,
) -> list[dict[str, Any]]:
    """Broadcast records (`views.broadcast_record`): the newest, or `one` by id (or the newest)."""
    rows = (
        [await broadcasts.progress(session=session, broadcast_id=broadcast_id)]
        if one
        else await broadcasts.newest(session=session, limit=limit)
    )
    found = await broadcasts.details(session=session, rows=rows)
    return [broadcast_record(p, found.get(p.broadcast.id), zone) for p in rows]


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
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Count a broadcast's deliveries by outcome: "312/503 sent", and who opened "Read more"."""

    def run() -> None:
        settings = Settings()
        (record,) = read_store(
            settings,
            lambda session: _records(
                session, settings.timezone, broadcast_id=broadcast_id, one=True
            ),
        )
        if follow and record["status"] in OPEN_BROADCAST_STATUSES:
            wanted = record["id"]
            record = open_database(
                settings, lambda sessions: _follow(sessions, settings, wanted, quiet=as_json)
            )
        if as_json:
            print(json.dumps({key: record[key] for key in BROADCAST_KEYS}, ensure_ascii=False))
        elif not console.is_terminal:
            print(tsv_line([record[key] for key in BROADCAST_KEYS]))
        else:
            console.print(progress_table([record], settings.timezone))
            console.print(stats_line(record), highlight=False, markup=False)
            if record["photo_refused"] is not None:
                console.print(f"photo refused: {record['photo_refused']}", markup=False)

    guarded(run)


def _follow_text(record: dict[str, Any], delivering: bool | None) -> str:
    """The progress bar's label: short, so that a terminal shows it whole."""
    counts = (
        "not started"
        if record["status"] == "scheduled"
        else f"{record['sent']}/{record['targets']} sent"
    )
    text = f"broadcast #{record['id']} ({record['status']}) {counts}"
    if delivering is False:
        text += f" · {NOBODY_DELIVERS}"
    return text


async def _follow(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    broadcast_id: int,
    *,
    quiet: bool,
) -> dict[str, Any]:
    """Redraw a progress bar from the database until the broadcast is no longer open."""
    engine = create_engine(settings.database_url)
    columns = (TextColumn("{task.description}"), BarColumn())
    try:
        with RichProgress(*columns, console=console, disable=quiet) as bar:
            task = bar.add_task(f"broadcast #{broadcast_id}", total=None)
            delivering: bool | None = None
            said = False
            for looks in itertools.count():  # until the broadcast is no longer open
                async with unit_of_work(sessionmaker, read_only=True) as session:
                    (record,) = await _records(
                        session, settings.timezone, broadcast_id=broadcast_id, one=True
                    )
                if looks % LOCK_LOOKS == 0:
                    delivering = await someone_delivers(engine)
                if delivering is False and not said and (quiet or not console.is_terminal):
                    # No live bar (off a terminal, or --json): say it once, on stderr.
                    print(f"newsbot: {NOBODY_DELIVERS}", file=sys.stderr)
                    said = True
                bar.update(
                    task,
                    total=record["targets"] or None,
                    completed=_finished(record),
                    description=_follow_text(record, delivering),
                )
                if record["status"] not in OPEN_BROADCAST_STATUSES:
                    return record
                await asyncio.sleep(FOLLOW_INTERVAL)
    finally:
        await engine.dispose()
    raise AssertionError("itertools.count() never ends")


def _finished(record: dict[str, Any]) -> int:
    return int(record["sent"] + record["skipped"] + record["failed"] + record["dropped"])
