"""Digests: one message listing the stories held for a reader, built when due and sent once.

A periodic job (the JobQueue, beside the broadcast tick; only in the process that delivers)
calls `DigestSender.run`: it builds every due digest (db.digests, guarded by the due time, so
twice is harmless), then claims the queued ones and sends each, recording every outcome. A
digest whose send fails is recorded as failed, never retried blindly: Telegram may have shown
it. Its stories are not lost: each is still one /latest away.
"""

from __future__ import annotations

import asyncio
import html
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ExtBot

from bot.delivery import answers
from bot.delivery.pacing import Pace
from bot.newsroom.clock import Clock
from bot.newsroom.readers import next_digest
from bot.telegram.callbacks import OpenStory
from bot.telegram.messages import fit, one_line
from bot.telegram.texts import choose_language, text
from db import digests, store
from db.digests import DigestStory
from db.session import unit_of_work

log = logging.getLogger(__name__)

DIGEST_INTERVAL = 20.0  # seconds between looks for due digests
DIGEST_LISTED = 10  # stories listed (each with a button); the rest are counted
BUILD_BATCH = 200
SEND_BATCH = 50
BUTTON_TITLE_LIMIT = 60  # UTF-16 units of a title on a button
LINE_TITLE_LIMIT = 200
ERROR_TEXT_LIMIT = 500


def digest_message(
    stories: list[DigestStory], language: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The digest: a header, the first DIGEST_LISTED titles (a button each), "and N more"."""
    listed = stories[:DIGEST_LISTED]
    lines = [f"<b>{html.escape(text(language, 'digest_header', count=len(stories)))}</b>"]
    lines.extend(
        f"{index}. {html.escape(fit(one_line(story.title), LINE_TITLE_LIMIT), quote=False)}"
        for index, story in enumerate(listed, start=1)
    )
    rest = len(stories) - len(listed)
    if rest > 0:
        lines.append(html.escape(text(language, "digest_more", count=rest)))
    buttons = [
        [
            InlineKeyboardButton(
                fit(one_line(story.title), BUTTON_TITLE_LIMIT) or str(story.article_id),
                callback_data=OpenStory(story.article_id).encode(),
            )
        ]
        for story in listed
    ]
    return "\n".join(lines), InlineKeyboardMarkup(buttons) if buttons else None


class DigestSender:
    """Builds due digests and sends the queued ones."""

    def __init__(
        self,
        *,
        bot: ExtBot[Pace],
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        default_language: str,
        default_zone: str,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.default_language = default_language
        self.default_zone = default_zone
        self._recovered = False
        # One run at a time in this process: the first one requeues what a dead process left
        # "sending", which must not catch a claim of a run beside it.
        self._running = asyncio.Lock()

    async def run(self) -> int:
        """Build what is due, then send what is queued; how many digests were sent."""
        async with self._running:
            return await self._run()

    async def _run(self) -> int:
        if not self._recovered:
            # Only the delivering process runs this: a "sending" digest is a dead one's.
            async with unit_of_work(self.sessionmaker) as session:
                requeued = await digests.requeue_sending(session=session)
            if requeued:
                log.warning("%d interrupted digests queued again", requeued)
            self._recovered = True
        await self.build_due()
        sent = 0
        while True:
            async with unit_of_work(self.sessionmaker) as session:
                claimed = await digests.claim_digests(session=session, limit=SEND_BATCH)
            if not claimed:
                return sent
            for digest_id, chat_id in claimed:
                sent += await self._send(digest_id, chat_id)

    async def build_due(self) -> int:
        """Turn every due chat's waiting stories into a queued digest; how many were made."""
        made = 0
        while True:
            now = self.clock()
            async with unit_of_work(self.sessionmaker) as session:
                chats = await digests.due_chats(session=session, now=now, limit=BUILD_BATCH)
                for chat in chats:
                    was_due = chat.digest_due_at
                    if was_due is None:
                        continue
                    # Computed from the due time, not now, unless it fell far behind: an
                    # hourly digest stays on the hour after a pause.
                    base = max(was_due, now)
                    following = next_digest(chat, now=base, default_zone=self.default_zone)
                    built = await digests.build_digest(
                        session=session,
                        chat_id=chat.chat_id,
                        was_due=was_due,
                        next_due=following,
                        now=now,
                    )
                    made += built is not None
            if len(chats) < BUILD_BATCH:
                return made

    async def _send(self, digest_id: int, chat_id: int) -> int:
        """Send one digest and record what happened; 1 when sent. Never raises."""
        try:
            async with unit_of_work(self.sessionmaker) as session:
                stories = await digests.digest_stories(session=session, digest_id=digest_id)
                chat = await store.get_chat(session=session, chat_id=chat_id)
            language = choose_language(
                chat.language if chat else None,
                chat.telegram_language if chat else None,
                self.default_language,
            )
            if chat is None or not chat.active or not stories:
                reason = "chat is inactive" if stories else "its stories are gone"
                await self._record(digest_id, "failed", error=reason)
                return 0
            body, keyboard = digest_message(stories, language)
            status, message_id, error, gone = await self._deliver(chat_id, body, keyboard)
            await self._record(digest_id, status, message_id=message_id, error=error)
            if gone:
                async with unit_of_work(self.sessionmaker) as session:
                    await store.mark_chats_blocked(
                        session=session, chat_ids={chat_id}, now=self.clock()
                    )
            return int(status == "sent")
        except Exception:
            # Left "sending": the next delivering process queues it again.
            log.exception("digest %s to chat %s could not be sent or recorded", digest_id, chat_id)
            return 0

    async def _deliver(
        self, chat_id: int, body: str, keyboard: InlineKeyboardMarkup | None
    ) -> tuple[str, int | None, str | None, bool]:
        """(status, message id, error, chat gone) of one send."""
        with answers.watch() as answer:
            try:
                message = await self.bot.send_message(
                    chat_id,
                    body,
                    parse_mode=ParseMode.HTML,
                    reply_markup=keyboard,
                    rate_limit_args=Pace.BROADCAST,
                )
            except Exception as error:
                if answer.received:
                    return "sent", answer.message_id(), None, False
                if isinstance(error, Forbidden) or (
                    isinstance(error, BadRequest) and "chat not found" in error.message.lower()
                ):
                    return "failed", None, _reason(error), True
                if isinstance(error, TelegramError):
                    return "failed", None, _reason(error), False
                raise
        message_id = message.message_id if isinstance(message, Message) else None
        return "sent", message_id, None, False

    async def _record(
        self,
        digest_id: int,
        status: str,
        *,
        message_id: int | None = None,
        error: str | None = None,
    ) -> None:
        async with unit_of_work(self.sessionmaker) as session:
            await digests.record_digest(
                session=session,
                digest_id=digest_id,
                status=status,
                now=self.clock(),
                message_id=message_id,
                error=error,
            )


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:ERROR_TEXT_LIMIT]
