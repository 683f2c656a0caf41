"""The delivery engine: claims queued deliveries, sends story cards, records every outcome.

Three kinds of task share one queue: a claimer keeps the local queue topped up from the outbox,
`concurrency` senders send (the Pacer on the bot spaces them), and a recorder writes outcomes
back as soon as they arrive (a group commit). A message can be sent twice only if the process
dies after it left and before the recorder wrote Telegram's answer; a semaphore caps those at
`max_unrecorded` (twice the sends in flight by default), however slow the database is.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter
from telegram.ext import ExtBot

from bot import logs
from bot.messages import story_card
from bot.pacing import Pace
from bot.texts import choose_language
from db import broadcasts, store
from db.broadcasts import Claim, Outcome
from db.models import ArticleRow, BroadcastRow
from db.session import unit_of_work

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 5  # transient failures before a delivery is failed
BACKOFF_BASE = 1.0  # seconds; doubles with each attempt
BACKOFF_CAP = 60.0
DATABASE_RETRY = 0.5  # seconds before a failed claim or write is tried again (grows)
GIVE_UP_WHEN_STOPPING = 3
OPEN_CHECK_INTERVAL = 0.5  # seconds between looks for cancelled broadcasts while sending
ERROR_TEXT_LIMIT = 500
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def max_unrecorded_for(rate: float, concurrency: int) -> int:
    """The crash window for a sending rate: a quarter second of sending, at least twice the
    sends in flight (fewer would leave a high rate waiting on database writes)."""
    return max(2 * concurrency, int(rate / 4))


def utcnow() -> datetime:
    """The wall clock, aware; tests replace it."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Story:
    """What a broadcast sends, rendered once per interface language."""

    broadcast_id: int
    article: ArticleRow
    cards: dict[str, tuple[str, InlineKeyboardMarkup | None]]


@dataclass(frozen=True, slots=True)
class _Job:
    """A claimed delivery with what sending it needs to know about the chat."""

    claim: Claim
    active: bool
    language: str


class Deliverer:
    """Sends the outbox. Only the process holding the delivery lock runs one."""

    def __init__(
        self,
        *,
        bot: ExtBot[Pace],
        sessionmaker: async_sessionmaker[AsyncSession],
        default_language: str,
        paid_broadcast: bool = False,
        concurrency: int = 16,
        max_unrecorded: int | None = None,
        batch_size: int = 100,
        backoff_base: float = BACKOFF_BASE,
        clock: Callable[[], datetime] = utcnow,
        on_recorded: Callable[[Sequence[Outcome]], None] | None = None,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.default_language = default_language
        self.paid_broadcast = paid_broadcast
        self.concurrency = concurrency
        # Sent or being sent, and not yet recorded: what a crash at the worst moment repeats.
        self.max_unrecorded = max_unrecorded or 2 * concurrency
        self.batch_size = batch_size
        self.backoff_base = backoff_base
        self.clock = clock
        self.on_recorded = on_recorded
        self._stories: dict[int, _Story] = {}
        self._open: set[int] = set()  # running broadcasts, as of the last claim
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Say that there may be new work (a broadcast started or was cancelled)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming; what is claimed but unsent goes back to the queue."""
        self._stopping = True
        self._wake.set()

    async def run(self, idle_interval: float = 0.5) -> None:
        """Deliver until stopped, looking for work when woken and every idle_interval."""
        self._stopping = False
        while not self._stopping:
            self._wake.clear()
            try:
                await self.deliver_available()
            except Exception:
                # A database hiccup must not end delivery for good: log, wait, try again.
                log.exception("delivery round failed; retrying")
                await self._release_claims()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle_interval)

    async def _persist(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run a database step, retrying while the database is away.

        Outcomes wait in memory meanwhile (and the senders wait for them): once the database is
        back they are written and nothing is sent twice. Only a stop gives up, after a few
        tries; the next start then requeues what was claimed.
        """
        failures = 0
        while True:
            try:
                return await work()
            except Exception:
                failures += 1
                if self._stopping and failures >= GIVE_UP_WHEN_STOPPING:
                    raise
                log.exception("database step failed (%d); retrying", failures)
                await asyncio.sleep(min(DATABASE_RETRY * failures, BACKOFF_CAP))

    async def _release_claims(self) -> None:
        """After a failed round, put this deliverer's unfinished claims back in the queue.

        Safe because only the lock holder delivers: every claimed row is this one's, and the
        round is over. Outcomes that were not written are sent again (at most max_unrecorded).
        """
        try:
            async with unit_of_work(self.sessionmaker) as session:
                await broadcasts.requeue_claimed(session=session)
        except Exception:
            log.exception("could not requeue claimed deliveries; the next start will")

    async def deliver_available(self) -> int:
        """Send every delivery that is due now; return how many outcomes were recorded."""
        # Bounded: the claimer stays about one batch ahead of the senders, so a cancel is
        # noticed quickly and little is claimed-but-unsent at any time.
        queue: asyncio.Queue[_Job | None] = asyncio.Queue(maxsize=self.batch_size)
        outcomes: list[Outcome] = []
        recorded = 0
        senders_done = asyncio.Event()
        have_outcomes = asyncio.Event()

        async def claimer() -> None:
            try:
                while not self._stopping and (jobs := await self._persist(self._claim)):
                    for job in jobs:
                        await queue.put(job)
            finally:
                for _ in range(self.concurrency):
                    await queue.put(None)

        # A send holds one of these from before it leaves until its outcome is written: the
        # sends that a crash could repeat never number more than max_unrecorded.
        unrecorded = asyncio.Semaphore(self.max_unrecorded)

        async def sender() -> None:
            while (job := await queue.get()) is not None:
                await unrecorded.acquire()
                outcomes.append(await self._deliver(job))
                have_outcomes.set()

        async def senders() -> None:
            try:
                await asyncio.gather(*(sender() for _ in range(self.concurrency)))
            finally:
                senders_done.set()
                have_outcomes.set()

        async def recorder() -> None:
            # Group commit: write whatever has arrived as soon as the previous write is done.
            # At a low rate each outcome is written on its own at once; at a high rate batches
            # grow by themselves. Either way an answer waits at most one write to be recorded.
            nonlocal recorded
            checked = time.monotonic()
            while True:
                await have_outcomes.wait()
                have_outcomes.clear()
                finished = senders_done.is_set()
                if outcomes:
                    batch = outcomes[:]
                    del outcomes[: len(batch)]
                    await self._persist(functools.partial(self._record, batch))
                    recorded += len(batch)
                    for _ in batch:
                        unrecorded.release()
                if finished and not outcomes:
                    return
                # A cancel from another process shows only in the database: look now and then.
                if time.monotonic() - checked >= OPEN_CHECK_INTERVAL:
                    checked = time.monotonic()
                    async with unit_of_work(self.sessionmaker) as session:
                        self._open = await broadcasts.running_broadcast_ids(session=session)

        async with asyncio.TaskGroup() as group:
            group.create_task(claimer())
            group.create_task(senders())
            group.create_task(recorder())
        async with unit_of_work(self.sessionmaker) as session:
            done = await broadcasts.finish_broadcasts(session=session, now=self.clock())
        for broadcast_id in done:
            self._stories.pop(broadcast_id, None)
            log.info("broadcast %s finished", broadcast_id, extra=logs.about(broadcast_id))
        return recorded

    async def _claim(self) -> list[_Job]:
        async with unit_of_work(self.sessionmaker) as session:
            claims = await broadcasts.claim_deliveries(
                session=session, limit=self.batch_size, now=self.clock()
            )
            self._open = await broadcasts.running_broadcast_ids(session=session)
            if not claims:
                return []
            chats = await broadcasts.chat_languages(
                session=session, chat_ids={claim.chat_id for claim in claims}
            )
            for broadcast_id in {claim.broadcast_id for claim in claims} - self._stories.keys():
                await self._load_story(session, broadcast_id)
        jobs = []
        for claim in claims:
            active, chosen, telegram_language = chats.get(claim.chat_id, (True, None, None))
            language = choose_language(chosen, telegram_language, self.default_language)
            jobs.append(_Job(claim, active, language))
        return jobs

    async def _load_story(self, session: AsyncSession, broadcast_id: int) -> None:
        broadcast = await session.get(BroadcastRow, broadcast_id)
        if broadcast is None:
            return
        article = await store.get_article(session=session, article_id=broadcast.article_id)
        if article is not None:
            self._stories[broadcast_id] = _Story(broadcast_id, article, {})

    def _card(self, story: _Story, language: str) -> tuple[str, InlineKeyboardMarkup | None]:
        card = story.cards.get(language)
        if card is None:
            card = story.cards[language] = story_card(story.article, language)
        return card

    async def _deliver(self, job: _Job) -> Outcome:
        """Send one story card and say what happened; never raises for one chat's failure."""
        claim = job.claim
        logs.broadcast_id.set(claim.broadcast_id)  # this sender task's log lines name it
        pending = Outcome(claim.broadcast_id, claim.chat_id, "failed", claim.attempts)
        story = self._stories.get(claim.broadcast_id)
        if self._stopping:
            return replace(pending, status="queued")
        if claim.broadcast_id not in self._open:
            return replace(pending, status="dropped", error="cancelled")
        if story is None:
            return replace(pending, error="the article is gone")
        if not job.active:
            return replace(pending, status="skipped", error="chat is inactive")
        body, keyboard = self._card(story, job.language)
        extra: dict[str, Any] = {"allow_paid_broadcast": True} if self.paid_broadcast else {}
        try:
            message = await self.bot.send_message(
                claim.chat_id,
                body,
                # Explicit, not from the Application's Defaults: the engine works on any Bot.
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_markup=keyboard,
                rate_limit_args=Pace.BROADCAST,
                **extra,
            )
        except ChatMigrated as error:
            return await self._migrated(pending, error.new_chat_id)
        except Forbidden as error:
            return replace(pending, status="skipped", error=_reason(error), chat_gone=True)
        except BadRequest as error:
            # BadRequest is a NetworkError: it has to be told apart before the transient ones.
            if "chat not found" in error.message.lower():
                return replace(pending, status="skipped", error=_reason(error), chat_gone=True)
            return replace(pending, attempts=claim.attempts + 1, error=_reason(error))
        except RetryAfter as error:
            # The pacer already paused every send and retried; this one waits its turn again.
            return replace(
                pending,
                status="queued",
                not_before=self.clock() + _as_timedelta(error.retry_after),
                error=_reason(error),
            )
        except NetworkError as error:  # timeouts, lost connections and 5xx answers
            attempts = claim.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                return replace(pending, attempts=attempts, error=_reason(error))
            delay = min(self.backoff_base * 2 ** (attempts - 1), BACKOFF_CAP)
            return replace(
                pending,
                status="queued",
                attempts=attempts,
                not_before=self.clock() + timedelta(seconds=delay),
                error=_reason(error),
            )
        return replace(
            pending,
            status="sent",
            attempts=claim.attempts + 1,
            message_id=message.message_id,
            sent_at=self.clock(),
            error=None,
        )

    async def _migrated(self, pending: Outcome, new_chat_id: int) -> Outcome:
        """A group became a supergroup: move the chat and queue its copy under the new id."""
        async with unit_of_work(self.sessionmaker) as session:
            await store.migrate_chat(
                session=session, old_chat_id=pending.chat_id, new_chat_id=new_chat_id
            )
            await broadcasts.queue_delivery(
                session=session, broadcast_id=pending.broadcast_id, chat_id=new_chat_id
            )
        return replace(pending, status="skipped", error=f"migrated to {new_chat_id}")

    async def _record(self, batch: list[Outcome]) -> None:
        async with unit_of_work(self.sessionmaker) as session:
            await broadcasts.record_outcomes(session=session, outcomes=batch)
        if self.on_recorded is not None:
            self.on_recorded(batch)


def _as_timedelta(value: int | timedelta) -> timedelta:
    """retry_after is a timedelta once PTB_TIMEDELTA is set, an int before."""
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


def _reason(error: Exception) -> str:
    """An error as stored with a delivery: its kind and Telegram's words, shortened."""
    return f"{type(error).__name__}: {error}"[:ERROR_TEXT_LIMIT]
