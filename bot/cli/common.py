"""What every command shares: exit statuses, refusals in one line, and the way to the database.

A command body runs inside `guarded`: bad input (a refusal, unreadable content, a bad setting)
exits 2 with a one-line reason on stderr, anything else exits 1. The database is async and a
command is not: `with_store`, `read_store` and `with_database` bring it up to date and run the
work in an event loop of their own.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.newsroom import refusals
from bot.newsroom.ids import MAX_ID, parse_id
from bot.ops.logs import redact
from bot.settings import Settings
from content.errors import ContentError
from db.migrate import upgrade
from db.session import create_engine, create_sessionmaker, unit_of_work

T = TypeVar("T")
EXIT_BAD_INPUT = 2
console = Console()


class UsageError(Exception):
    """Bad input found by a command itself (an unknown id, a missing setting)."""


def id_argument(value: str) -> int:
    """An article or broadcast id as typed: ASCII digits from 1 to 2^31-1, else bad input."""
    parsed = parse_id(value)
    if parsed is None:
        raise typer.BadParameter(f"{value[:64]!r} is not an id (1 to {MAX_ID}, ASCII digits)")
    return parsed


def fail(reason: str, status: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print the reason on stderr and exit (2: bad input or usage, 1: anything else).

    A reason is one line, or one line per bad source when several were named.
    """
    for line in redact(reason).splitlines() or [""]:
        print(f"newsbot: {line}", file=sys.stderr)
    raise typer.Exit(status)


def guarded(action: Callable[[], T]) -> T:
    """Run a command body, turning bad input into exit 2 and anything else into exit 1."""
    try:
        return action()
    except refusals.Refusal as refusal:
        fail(refusal_reason(refusal))
    except (ContentError, UsageError) as error:
        fail(str(error))
    except ValidationError as error:
        fail(setting_error(error))
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as error:
        fail(f"{type(error).__name__}: {error}", status=1)


def refusal_reason(refusal: refusals.Refusal) -> str:
    """Why the newsroom did nothing, as the one line a command prints."""
    match refusal:
        case refusals.BadWhen(error=error):
            return str(error)
        case refusals.NoArticle(article_id=article_id):
            return f"no article with id {article_id}"
        case refusals.NoBroadcast(broadcast_id=broadcast_id):
            return f"no broadcast with id {broadcast_id}"
        case refusals.NotOpen(broadcast_id=broadcast_id, status=status):
            return f"broadcast #{broadcast_id} is {status}: nothing to cancel"
        case refusals.NoBroadcastsYet():
            return "no broadcasts yet"
        case refusals.BadTopic():
            return "bad topic: empty topic"
        case refusals.UnknownTopic(topic=topic, known=known):
            listed = ", ".join(known) if known else "none yet"
            return (
                f"unknown topic {topic!r}: no article has it and no reader follows it "
                f"(known topics: {listed})"
            )
        case refusals.NeverPushed(article_id=article_id):
            return f"article {article_id} has not been pushed to anyone: nothing to correct"
        case refusals.JobStillRunning(article_id=article_id, broadcast_id=broadcast_id):
            return f"job #{broadcast_id} on article {article_id} is still running"
        case refusals.Withdrawn(article_id=article_id):
            return f"article {article_id} has been withdrawn"
    return f"refused: {refusal!r}"


def setting_error(error: ValidationError) -> str:
    """The first problem with the settings, named by its environment variable."""
    first = error.errors()[0]
    reason = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:  # a rule about several settings names them in its message
        return f"bad settings: {reason}"
    name = "NEWSBOT_" + "_".join(str(part) for part in first["loc"]).upper()
    return f"bad setting {name}: {reason}"


def open_database(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """Run `work` in an event loop with the database open; it opens its own units of work."""

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            return await work(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def with_database(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """Bring the database up to date, then run `work`, which opens its own units of work."""
    upgrade(settings.database_url)
    return open_database(settings, work)


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


def read_store(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Bring the database up to date, then run `work` in one read-only unit of work."""
    return with_store(settings, work, read_only=True)
