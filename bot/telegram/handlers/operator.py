"""What an editor can do in the chat: publish, schedule, list, cancel and count broadcasts.

Only user ids in NEWSBOT_OPERATORS; anyone else gets a polite refusal and nothing changes.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.newsroom import broadcasts, corrections, refusals
from bot.newsroom.broadcasts import SourceMessage
from bot.newsroom.clock import local_time
from bot.newsroom.ids import meant_as_id, parse_id
from bot.newsroom.when import WhenError, parse_when
from bot.telegram.context import Context
from bot.telegram.handlers.common import enter
from bot.telegram.messages import ECHO_LIMIT, one_line
from bot.telegram.texts import text
from bot.telegram.updates import NEW_MESSAGE
from content.summary import shorten
from db.broadcasts import Progress
from db.models import BroadcastRow

LIST_LIMIT = 10
# parse_when is asked only whether words read as a time at all; "past" must not refuse them.
_FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Asked:
    """An operator's command: who typed it, in which language, its words, and its message."""

    user_id: int
    language: str
    args: Sequence[str]
    # A broadcast remembers the message that asked for it: that message asking again (a repeated
    # update) gets the same broadcast back instead of a second one.
    source: SourceMessage | None


Reply = Callable[[AsyncSession, Asked, Context], Awaitable[str]]


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


def describe(progress: Progress, language: str, zone: str, reach: int | None = None) -> str:
    """One broadcast as two lines of plain text: status, due time, and its counts.

    Before it starts there are no counts: a scheduled one says how many chats it would reach
    now (`reach`), one cancelled or missed before it started says that it never did.
    """
    broadcast = progress.broadcast
    never_started = broadcast.started_at is None and broadcast.target_count == 0
    if broadcast.status == "scheduled" and reach is not None:
        key, counts = "broadcast_line_waiting", {"reach": reach}
    elif broadcast.status in ("cancelled", "missed") and never_started:
        key, counts = "broadcast_line_never", {}
    else:
        key = "broadcast_line"
        counts = {
            "sent": progress.sent,
            "target": broadcast.target_count,
            "skipped": progress.skipped,
            "failed": progress.failed,
            "queued": progress.queued + progress.sending,
        }
    line = text(
        language,
        key,
        id=broadcast.id,
        status=text(language, f"status_{broadcast.status}"),
        article=broadcast.article_id,
        when=local_time(broadcast.due_at, zone),
        **counts,
    )
    if broadcast.kind not in ("push", None):
        # Corrections and retractions share the list: say which one a line is.
        first, _, rest = line.partition(" · ")
        line = f"{first} · {text(language, f'kind_{broadcast.kind}')} · {rest}"
    return line


async def _reach(session: AsyncSession, progress: Progress) -> int | None:
    """How many chats a scheduled broadcast would reach now; None once it has started."""
    if progress.broadcast.status != "scheduled":
        return None
    return await broadcasts.reach(session=session, broadcast=progress.broadcast)


async def _schedule(
    session: AsyncSession,
    asked: Asked,
    context: Context,
    *,
    article_id: int,
    when: str,
    topic: str | None,
) -> str:
    zone = context.bot_data.settings.timezone
    scheduled = await broadcasts.schedule(
        session=session,
        article_id=article_id,
        when=when,
        now=context.bot_data.clock(),
        zone=zone,
        topic=topic,
        created_by=asked.user_id,
        source=asked.source,
    )
    key = "broadcast_created" if scheduled.created else "broadcast_exists"
    return _announce(scheduled.broadcast, key, asked.language, zone)


def _announce(broadcast: BroadcastRow, key: str, language: str, zone: str) -> str:
    """A broadcast just created (or found again): its id, article, audience and due time."""
    audience = (
        text(language, "audience_topic", topic=_quoted(broadcast.topic))
        if broadcast.topic
        else text(language, "audience_all")
    )
    return text(
        language,
        key,
        id=broadcast.id,
        article=broadcast.article_id,
        audience=audience,
        when=local_time(broadcast.due_at, zone),
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


async def publish(session: AsyncSession, asked: Asked, context: Context) -> str:
    """/publish ARTICLE-ID [WHEN]: push an article to its topics' subscribers."""
    args = asked.args
    article_id = _id_argument(args[0]) if args else None
    if article_id is None:
        return text(asked.language, "publish_usage")
    when = " ".join(args[1:]) or "now"
    return await _schedule(session, asked, context, article_id=article_id, when=when, topic=None)


async def schedule(session: AsyncSession, asked: Asked, context: Context) -> str:
    """/schedule ARTICLE-ID WHEN [topic]: a broadcast at a time, optionally to one topic."""
    args = asked.args
    article_id = _id_argument(args[0]) if args else None
    if article_id is None or len(args) < 2:
        return text(asked.language, "schedule_usage")
    when, topic = _split_when_and_topic(args[1:])
    return await _schedule(session, asked, context, article_id=article_id, when=when, topic=topic)


async def breaking(session: AsyncSession, asked: Asked, context: Context) -> str:
    """/breaking ARTICLE-ID: push now to every target, through quiet hours, digests and caps."""
    article_id = _id_argument(asked.args[0]) if len(asked.args) == 1 else None
    if article_id is None:
        return text(asked.language, "breaking_usage")
    scheduled = await broadcasts.schedule(
        session=session,
        article_id=article_id,
        when="now",
        now=context.bot_data.clock(),
        zone=context.bot_data.settings.timezone,
        created_by=asked.user_id,
        source=asked.source,
        breaking=True,
    )
    row = scheduled.broadcast
    if not scheduled.created:
        return _announce(
            row, "broadcast_exists", asked.language, context.bot_data.settings.timezone
        )
    return text(asked.language, "breaking_created", id=row.id, article=row.article_id)


async def list_broadcasts(session: AsyncSession, asked: Asked, context: Context) -> str:
    """/broadcasts: the newest broadcasts with their progress."""
    found = await broadcasts.newest(session=session, limit=LIST_LIMIT)
    if not found:
        return text(asked.language, "broadcasts_none")
    zone = context.bot_data.settings.timezone
    lines = [text(asked.language, "broadcasts_header")]
    for progress in found:
        reach = await _reach(session, progress)
        lines.append(describe(progress, asked.language, zone, reach))
    return "\n\n".join(lines)


async def cancel(session: AsyncSession, asked: Asked, context: Context) -> str:
    """/cancel BROADCAST-ID: stop a pending or running broadcast; unsent copies are dropped."""
    broadcast_id = _id_argument(asked.args[0]) if len(asked.args) == 1 else None
    if broadcast_id is None:
        return text(asked.language, "cancel_usage")
    dropped = await broadcasts.cancel(
        session=session, broadcast_id=broadcast_id, now=context.bot_data.clock()
    )
    return text(asked.language, "broadcast_cancelled", id=broadcast_id, dropped=dropped)


async def stats(session: AsyncSession, asked: Asked, context: Context) -> str:
    """/stats [BROADCAST-ID]: counts by outcome and readers who opened "Read more"."""
    broadcast_id = None
    if asked.args:
        broadcast_id = _id_argument(asked.args[0]) if len(asked.args) == 1 else None
        if broadcast_id is None:
            return text(asked.language, "stats_usage")
    progress = await broadcasts.progress(session=session, broadcast_id=broadcast_id)
    readers = text(asked.language, "broadcast_readers", readers=progress.readers)
    zone = context.bot_data.settings.timezone
    reach = await _reach(session, progress)
    lines = [describe(progress, asked.language, zone, reach), readers]
    if progress.photo_refused is not None:
        lines.append(text(asked.language, "photo_refused", reason=progress.photo_refused))
    return "\n".join(lines)


async def correct(session: AsyncSession, asked: Asked, context: Context) -> str:
    """/correct ARTICLE-ID: edit the story's card, as it now reads, wherever it was pushed."""
    article_id = _id_argument(asked.args[0]) if len(asked.args) == 1 else None
    if article_id is None:
        return text(asked.language, "correct_usage")
    job = await corrections.correct(
        session=session,
        article_id=article_id,
        now=context.bot_data.clock(),
        created_by=asked.user_id,
    )
    row = job.broadcast
    return text(
        asked.language, "correct_started", id=row.id, article=article_id, target=row.target_count
    )


async def retract(session: AsyncSession, asked: Asked, context: Context) -> str:
    """/retract ARTICLE-ID: withdraw the story and delete its card wherever it was pushed."""
    article_id = _id_argument(asked.args[0]) if len(asked.args) == 1 else None
    if article_id is None:
        return text(asked.language, "retract_usage")
    job = await corrections.retract(
        session=session,
        article_id=article_id,
        now=context.bot_data.clock(),
        created_by=asked.user_id,
    )
    row = job.broadcast
    return text(
        asked.language,
        "retract_started",
        id=row.id,
        article=article_id,
        target=row.target_count,
        cancelled=len(job.cancelled),
    )


def _refused(refusal: refusals.Refusal, language: str, typed: str) -> str:
    """Why a command did nothing, in plain text; `typed` is its first argument as written."""
    match refusal:
        case refusals.BadWhen(error=error):
            return error.message(language)
        case refusals.NoArticle():
            return text(language, "no_article", id=_quoted(typed))  # the id as it was typed
        case refusals.NoBroadcast(broadcast_id=broadcast_id):
            return text(language, "no_broadcast", id=broadcast_id)
        case refusals.NotOpen(broadcast_id=broadcast_id, status=status):
            status_text = text(language, f"status_{status}")
            return text(language, "broadcast_not_open", id=broadcast_id, status=status_text)
        case refusals.NoBroadcastsYet():
            return text(language, "broadcasts_none")
        case refusals.BadTopic(topic=topic):
            return text(language, "bad_topic", topic=_quoted(topic))
        case refusals.NeverPushed(article_id=article_id):
            return text(language, "never_pushed", article=article_id)
        case refusals.JobStillRunning(article_id=article_id, broadcast_id=broadcast_id):
            return text(language, "job_running", id=broadcast_id, article=article_id)
        case refusals.Withdrawn(article_id=article_id):
            return text(language, "article_withdrawn", article=article_id)
    raise TypeError(f"no words for the refusal {refusal!r}")


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
        args = context.args or []
        asked = Asked(
            user.id,
            language,
            args,
            SourceMessage(chat_id, message.message_id) if message else None,
        )
        try:
            async with context.bot_data.unit_of_work() as session:
                answer = await reply(session, asked, context)
        except refusals.Refusal as refusal:
            answer = _refused(refusal, language, args[0] if args else "")
        except _NoSuchId:
            by_article = (publish, schedule, breaking, correct, retract)
            not_found = "no_article" if reply in by_article else "no_broadcast"
            answer = text(language, not_found, id=_quoted(args[0]))
        await context.bot.send_message(chat_id, html.escape(answer, quote=False))
        # A broadcast due now should not wait for the next tick.
        if reply in (publish, schedule, breaking):
            await context.bot_data.scheduler.tick()
        elif reply in (correct, retract):
            context.bot_data.scheduler.deliverer.wake()

    handle.__doc__ = reply.__doc__
    return handle


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Operator commands; registered before the reader's catch-all."""
    for name, reply in (
        ("publish", publish),
        ("schedule", schedule),
        ("breaking", breaking),
        ("broadcasts", list_broadcasts),
        ("cancel", cancel),
        ("stats", stats),
        ("correct", correct),
        ("retract", retract),
    ):
        app.add_handler(CommandHandler(name, _operator_command(reply), filters=NEW_MESSAGE))
