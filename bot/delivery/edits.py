"""Corrections and retractions on Telegram: edit or delete the cards a push left in a chat.

The Deliverer hands every claimed row of a "correct" or "retract" job to `carry_out`, which
makes one paced request per card (the same Pacer and limits as a push) and turns Telegram's
answers into one outcome for the row. Edits are idempotent on Telegram's side: a row done again
after a crash meets "message is not modified" (the stamp is the job's time, not the clock's),
which counts as done; a message that is gone counts as skipped.
"""

from __future__ import annotations

import enum
import html
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.delivery.pacing import Pace, retry_delay
from bot.newsroom.clock import Clock
from bot.telegram.messages import (
    MAX_CAPTION_UTF16,
    MAX_TEXT_UTF16,
    fit,
    link_card,
    one_line,
    story_card,
)
from bot.telegram.texts import text
from content.article import utf16_length
from db.broadcasts import Outcome
from db.edits import Target
from db.models import ArticleRow

log = logging.getLogger(__name__)


STAMP_RESERVE = 64  # room kept for the "updated HH:MM" line
RETRY_WAITING = 1.0  # seconds before a row whose push is still being sent is tried again
MAX_ATTEMPTS = 5
ERROR_TEXT_LIMIT = 500
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

NOT_MODIFIED = "message is not modified"
NO_TEXT = "there is no text in the message to edit"
CANNOT_DELETE = "message can't be deleted"
GONE_MARKS = ("message to edit not found", "message to delete not found", "chat not found")


class Result(enum.Enum):
    """What one edit or deletion came to."""

    DONE = "done"
    GONE = "gone"  # the message (or the chat) is no longer there
    RETRY = "retry"
    FAILED = "failed"


def reason(error: BaseException) -> str:
    """An error as stored with a delivery: its kind and Telegram's words, shortened."""
    return f"{type(error).__name__}: {error}"[:ERROR_TEXT_LIMIT]


def _shortened(article: ArticleRow, budget: int) -> ArticleRow:
    """A detached copy whose summary leaves `budget` UTF-16 units for title and byline."""
    used = utf16_length(one_line(article.title)) + utf16_length(one_line(article.byline or ""))
    summary = fit(one_line(article.summary or ""), max(budget - used - 4, 1))
    return ArticleRow(
        id=article.id,
        title=article.title,
        byline=article.byline,
        summary=summary,
        url=article.url,
        language=article.language,
    )


def stamp(language: str, moment: datetime, zone: str) -> str:
    """The small "updated HH:MM" line, in the chat's language and the newsroom's zone."""
    local = moment.astimezone(ZoneInfo(zone)).strftime("%H:%M")
    return f"\n\n<i>{html.escape(text(language, 'updated_at', time=local), quote=False)}</i>"


def corrected_card(
    article: ArticleRow,
    language: str,
    *,
    moment: datetime,
    zone: str,
    bot_username: str,
    channel: bool = False,
    limit: int = MAX_TEXT_UTF16,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The card as it now reads, with its buttons, and the line that says when it changed.

    A channel post keeps link buttons only (Read in the bot, the source).
    """
    shortened = _shortened(article, limit - STAMP_RESERVE)
    if channel:
        body, keyboard = link_card(shortened, language, bot_username=bot_username)
    else:
        body, keyboard = story_card(shortened, language, bot_username=bot_username)
    return body + stamp(language, moment, zone), keyboard


def retraction_note(article: ArticleRow, language: str) -> str:
    """What a card becomes where Telegram no longer lets the bot delete it."""
    title = html.escape(fit(one_line(article.title), 200), quote=False)
    note = html.escape(text(language, "retracted_note"), quote=False)
    return f"<s>{title}</s>\n\n<i>{note}</i>"


class Editor:
    """Makes the requests of one job row: every card in the chat, edited or deleted."""

    def __init__(
        self, *, bot: ExtBot[Pace], clock: Clock, zone: str = "UTC", backoff_base: float = 1.0
    ) -> None:
        self.bot = bot
        self.clock = clock
        self.zone = zone
        self.backoff_base = backoff_base

    async def job_row(
        self,
        *,
        kind: str,
        article: ArticleRow,
        language: str,
        chat_id: int,
        targets: Sequence[Target],
        moment: datetime,
        channel: bool,
        pending: Outcome,
    ) -> Outcome:
        """One row of a correction (the card as it now reads, stamped with the job's time) or
        of a retraction (deleted, or a note where it can no longer be deleted)."""
        if kind == "retract":
            note = retraction_note(article, language)
            body, caption, keyboard = note, note, None
        else:
            body, keyboard = corrected_card(
                article,
                language,
                moment=moment,
                zone=self.zone,
                bot_username=self.bot.username,
                channel=channel,
            )
            caption, _ = corrected_card(
                article,
                language,
                moment=moment,
                zone=self.zone,
                bot_username=self.bot.username,
                channel=channel,
                limit=MAX_CAPTION_UTF16,
            )
        return await self.carry_out(
            kind=kind,
            chat_id=chat_id,
            targets=targets,
            body=body,
            caption=caption,
            keyboard=keyboard,
            pending=pending,
        )

    async def carry_out(
        self,
        *,
        kind: str,
        chat_id: int,
        targets: Sequence[Target],
        body: str,
        caption: str,
        keyboard: InlineKeyboardMarkup | None,
        pending: Outcome,
    ) -> Outcome:
        """Edit (correct) or delete (retract) each card; one outcome for the row."""
        if not targets:
            return replace(pending, status="skipped", error="no card of the story in this chat")
        if any(target.waiting for target in targets):
            # A push is sending a card here right now: come back once its message id is known.
            return replace(
                pending,
                status="queued",
                not_before=self.clock() + timedelta(seconds=RETRY_WAITING),
                error="waiting for the push to this chat",
            )
        results: list[tuple[Result, str | None, bool, float | None]] = []
        for target in targets:
            assert target.message_id is not None
            if kind == "retract":
                results.append(await self._delete(chat_id, target.message_id, body, caption))
            else:
                results.append(
                    await self._edit(chat_id, target.message_id, body, caption, keyboard)
                )
        return self._outcome(pending, results)

    def _outcome(
        self, pending: Outcome, results: list[tuple[Result, str | None, bool, float | None]]
    ) -> Outcome:
        kinds = [result for result, _, _, _ in results]
        errors = [error for _, error, _, _ in results if error]
        error = "; ".join(errors)[:ERROR_TEXT_LIMIT] or None
        chat_gone = any(gone for _, _, gone, _ in results)
        attempts = pending.attempts + 1
        if Result.RETRY in kinds and not chat_gone:
            waits = [wait for _, _, _, wait in results if wait is not None]
            if attempts < MAX_ATTEMPTS:
                delay = max(waits) if waits else self.backoff_base * 2 ** (attempts - 1)
                return replace(
                    pending,
                    status="queued",
                    attempts=attempts,
                    not_before=self.clock() + timedelta(seconds=delay),
                    error=error,
                )
            return replace(pending, attempts=attempts, error=error)
        if Result.FAILED in kinds:
            return replace(pending, attempts=attempts, error=error, chat_gone=chat_gone)
        if Result.DONE in kinds:
            return replace(
                pending, status="sent", attempts=attempts, sent_at=self.clock(), error=error
            )
        return replace(
            pending, status="skipped", attempts=attempts, error=error, chat_gone=chat_gone
        )

    async def _edit(
        self,
        chat_id: int,
        message_id: int,
        body: str,
        caption: str,
        keyboard: InlineKeyboardMarkup | None,
    ) -> tuple[Result, str | None, bool, float | None]:
        try:
            await self.bot.edit_message_text(
                body,
                chat_id,
                message_id,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_markup=keyboard,
                rate_limit_args=Pace.BROADCAST,
            )
        except BadRequest as error:
            if NO_TEXT not in error.message.lower():
                return _judge(error)
        except Exception as error:
            return _judge(error)
        else:
            return Result.DONE, None, False, None
        # A card sent as a photo carries its words as a caption.
        try:
            await self.bot.edit_message_caption(
                chat_id,
                message_id,
                caption=caption,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
                rate_limit_args=Pace.BROADCAST,
            )
        except Exception as error:
            return _judge(error)
        return Result.DONE, None, False, None

    async def _delete(
        self, chat_id: int, message_id: int, note: str, caption_note: str
    ) -> tuple[Result, str | None, bool, float | None]:
        try:
            await self.bot.delete_message(chat_id, message_id, rate_limit_args=Pace.BROADCAST)
        except BadRequest as error:
            if CANNOT_DELETE not in error.message.lower():
                return _judge(error)
        except Exception as error:
            return _judge(error)
        else:
            return Result.DONE, None, False, None
        # Older than Telegram lets a bot delete (48 hours): the card says it was withdrawn.
        return await self._edit(chat_id, message_id, note, caption_note, None)


def _judge(error: BaseException) -> tuple[Result, str | None, bool, float | None]:
    """Telegram's answer to an edit or deletion: (result, error, chat gone, wait seconds)."""
    if isinstance(error, BadRequest):
        words = error.message.lower()
        if NOT_MODIFIED in words:
            return Result.DONE, None, False, None
        if any(mark in words for mark in GONE_MARKS):
            return Result.GONE, reason(error), "chat not found" in words, None
        return Result.FAILED, reason(error), False, None
    if isinstance(error, Forbidden):
        return Result.GONE, reason(error), True, None
    if isinstance(error, RetryAfter):
        return Result.RETRY, reason(error), False, retry_delay(error).total_seconds()
    if isinstance(error, NetworkError):
        return Result.RETRY, reason(error), False, None
    if isinstance(error, TelegramError):
        return Result.FAILED, reason(error), False, None
    log.exception("edit in a chat failed unexpectedly", exc_info=error)
    return Result.FAILED, reason(error), False, None
