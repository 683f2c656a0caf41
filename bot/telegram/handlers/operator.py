"""What an editor can do in the chat: publish, schedule, list, cancel and count broadcasts.

Only user ids in NEWSBOT_OPERATORS; anyone else gets a polite refusal and nothing changes.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.newsroom.ids import meant_as_id, parse_id
from bot.newsroom.when import WhenError, parse_when
from bot.telegram.context import Context
from bot.telegram.handlers.common import enter
from bot.telegram.messages import ECHO_LIMIT, one_line
from bot.telegram.texts import text
from bot.telegram.updates import NEW_MESSAGE
from content.summary import shorten
from db import broadcasts, updates
from db.broadcasts import Progress, UnknownArticle
from db.models import BroadcastRow

LIST_LIMIT = 10
# parse_when is asked only whether words read as a time at all; "past" must not refuse them.
_FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
Reply = Callable[[AsyncSession, int, str, Sequence[str], Context], Awaitable[str]]
# The chat message (chat id, message id) of the command being handled, set by the command
# wrapper: a broadcast remembers the message that asked for it, and the same message asking
# again gets that broadcast back instead of a second one.
_source_message: ContextVar[tuple[int, int] | None] = ContextVar("source_message", default=None)


class _NoSuchId(LookupError):
    """An argument written as a number that no stored row can have (too big, not ASCII)."""


def _id_argument(argument: str) -> int | None:
    """The id in an argument; None for words (a usage answer), _NoSuchId for odd numbers."""
    value = parse_id(argument)
    if value is None and meant_as_id(argument):
        raise _NoSuchId(argument)
    return value


def _quoted(words: str) -> str:
    """User input quoted back: one line, shortened (the answer is escaped as a whole)."""
    return shorten(one_line(words), ECHO_LIMIT)


def describe(progress: Progress, language: str, zone: str) -> str:
    """One broadcast as two lines of plain text: status, due time, and its counts."""
    broadcast = progress.broadcast
    when = broadcast.due_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
    return text(
        language,
        "broadcast_line",
        id=broadcast.id,
        status=text(language, f"status_{broadcast.status}"),
        article=broadcast.article_id,
        when=when,
        sent=progress.sent,
        target=broadcast.target_count,
        skipped=progress.skipped,
        failed=progress.failed,
        queued=progress.queued + progress.sending,
    )


async def _schedule(
    session: AsyncSession,
    context: Context,
    *,
    user_id: int,
    language: str,
    article_id: int,
    when: str,
    topic: str | None,
) -> str:
    settings = context.bot_data.settings
    source = _source_message.get()
    if source is not None:
        # Looked up before WHEN is read: "18:00" a day later means another time.
        existing = await updates.broadcast_from_message(
            session=session, chat_id=source[0], message_id=source[1]
        )
        if existing is not None:
            return _announce(existing, "broadcast_exists", language, settings.timezone)
    now = context.bot_data.clock()
    due_at = parse_when(when, now=now, zone=settings.timezone)
    if source is None:
        broadcast = await broadcasts.create_broadcast(
            session=session,
            article_id=article_id,
            due_at=due_at,
            now=now,
            topic=topic,
            created_by=user_id,
        )
    else:
        broadcast, _ = await updates.create_broadcast_once(
            session=session,
            chat_id=source[0],
            message_id=source[1],
            article_id=article_id,
            due_at=due_at,
            now=now,
            topic=topic,
            created_by=user_id,
        )
    return _announce(broadcast, "broadcast_created", language, settings.timezone)


def _announce(broadcast: BroadcastRow, key: str, language: str, zone: str) -> str:
    """A broadcast just created (or found again): its id, article, audience and due time."""
    audience = (
        text(language, "audience_topic", topic=_quoted(broadcast.topic))
        if broadcast.topic
        else text(language, "audience_all")
    )
    local = broadcast.due_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")
    return text(
        language,
        key,
        id=broadcast.id,
        article=broadcast.article_id,
        audience=audience,
        when=local,
        status=text(language, f"status_{broadcast.status}"),
    )


def _split_when_and_topic(words: Sequence[str]) -> tuple[str, str | None]:
    """The longest leading words that read as a time, and the rest as the topic.

    "tomorrow 08:00 sport" → ("tomorrow 08:00", "sport"). When no prefix reads as a time, the
    whole text is returned so the error names what was typed.
    """
    for end in range(len(words), 0, -1):
        try:
            parse_when(" ".join(words[:end]), now=_FAR_PAST, zone="UTC")
        except WhenError as error:
            if error.code == "malformed":
                continue
        topic = " ".join(words[end:]).strip()
        return " ".join(words[:end]), topic or None
    return " ".join(words), None


async def publish(
    session: AsyncSession, user_id: int, language: str, args: Sequence[str], context: Context
) -> str:
    """/publish ARTICLE-ID [WHEN]: push an article to its topics' subscribers."""
    article_id = _id_argument(args[0]) if args else None
    if article_id is None:
        return text(language, "publish_usage")
    return await _schedule(
        session,
        context,
        user_id=user_id,
        language=language,
        article_id=article_id,
        when=" ".join(args[1:]) or "now",
        topic=None,
    )


async def schedule(
    session: AsyncSession, user_id: int, language: str, args: Sequence[str], context: Context
) -> str:
    """/schedule ARTICLE-ID WHEN [topic]: a broadcast at a time, optionally to one topic."""
    article_id = _id_argument(args[0]) if args else None
    if article_id is None or len(args) < 2:
        return text(language, "schedule_usage")
    when, topic = _split_when_and_topic(args[1:])
    return await _schedule(
        session,
        context,
        user_id=user_id,
        language=language,
        article_id=article_id,
        when=when,
        topic=topic,
    )


async def list_broadcasts(
    session: AsyncSession, user_id: int, language: str, args: Sequence[str], context: Context
) -> str:
    """/broadcasts: the newest broadcasts with their progress."""
    rows = await broadcasts.list_broadcasts(session=session, limit=LIST_LIMIT)
    if not rows:
        return text(language, "broadcasts_none")
    zone = context.bot_data.settings.timezone
    lines = [text(language, "broadcasts_header")]
    for row in rows:
        progress = await broadcasts.broadcast_progress(session=session, broadcast_id=row.id)
        if progress is not None:
            lines.append(describe(progress, language, zone))
    return "\n\n".join(lines)


async def cancel(
    session: AsyncSession, user_id: int, language: str, args: Sequence[str], context: Context
) -> str:
    """/cancel BROADCAST-ID: stop a pending or running broadcast; unsent copies are dropped."""
    broadcast_id = _id_argument(args[0]) if len(args) == 1 else None
    if broadcast_id is None:
        return text(language, "cancel_usage")
    dropped = await broadcasts.cancel_broadcast(
        session=session, broadcast_id=broadcast_id, now=context.bot_data.clock()
    )
    if dropped is not None:
        return text(language, "broadcast_cancelled", id=broadcast_id, dropped=dropped)
    row = await broadcasts.get_broadcast(session=session, broadcast_id=broadcast_id)
    if row is None:
        return text(language, "no_broadcast", id=broadcast_id)
    status = text(language, f"status_{row.status}")
    return text(language, "broadcast_not_open", id=broadcast_id, status=status)


async def stats(
    session: AsyncSession, user_id: int, language: str, args: Sequence[str], context: Context
) -> str:
    """/stats [BROADCAST-ID]: counts by outcome and readers who opened "Read more"."""
    zone = context.bot_data.settings.timezone
    if not args:
        rows = await broadcasts.list_broadcasts(session=session, limit=1)
        if not rows:
            return text(language, "broadcasts_none")
        broadcast_id: int | None = rows[0].id
    else:
        broadcast_id = _id_argument(args[0]) if len(args) == 1 else None
    if broadcast_id is None:
        return text(language, "stats_usage")
    progress = await broadcasts.broadcast_progress(session=session, broadcast_id=broadcast_id)
    if progress is None:
        return text(language, "no_broadcast", id=broadcast_id)
    readers = text(language, "broadcast_readers", readers=progress.readers)
    return f"{describe(progress, language, zone)}\n{readers}"


def _operator_command(reply: Reply) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """Wrap an operator action: refuse non-operators, turn bad input into a clear answer."""

    async def handle(update: Update, context: Context) -> None:
        user = update.effective_user
        async with context.bot_data.unit_of_work() as session:
            chat_id, language = await enter(session, update, context)
        if user is None or user.id not in context.bot_data.settings.operators:
            await context.bot.send_message(chat_id, text(language, "not_operator"))
            return
        message = update.effective_message
        source = _source_message.set((chat_id, message.message_id) if message else None)
        try:
            async with context.bot_data.unit_of_work() as session:
                answer = html.escape(
                    await reply(session, user.id, language, context.args or [], context),
                    quote=False,
                )
        except WhenError as error:
            answer = html.escape(error.message(language), quote=False)
        except (UnknownArticle, _NoSuchId):
            argument = html.escape(_quoted((context.args or [""])[0]), quote=False)
            not_found = "no_article" if reply in (publish, schedule) else "no_broadcast"
            answer = text(language, not_found, id=argument)
        finally:
            _source_message.reset(source)
        await context.bot.send_message(chat_id, answer)
        # A broadcast due now should not wait for the next tick.
        if reply in (publish, schedule):
            await context.bot_data.scheduler.tick()

    handle.__doc__ = reply.__doc__
    return handle


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Operator commands; registered before the reader's catch-all."""
    for name, reply in (
        ("publish", publish),
        ("schedule", schedule),
        ("broadcasts", list_broadcasts),
        ("cancel", cancel),
        ("stats", stats),
    ):
        app.add_handler(CommandHandler(name, _operator_command(reply), filters=NEW_MESSAGE))
