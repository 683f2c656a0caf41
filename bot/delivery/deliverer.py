"""The delivery engine: claims queued deliveries, sends story cards, records every outcome.

Three kinds of task share one queue: a claimer keeps the local queue topped up from the outbox,
`concurrency` senders send (the Pacer on the bot spaces them), and a recorder writes outcomes
back in batches (a group commit: what arrived within RECORD_GATHER, or half the unrecorded
slots' worth, goes in one write). A message can be sent twice only if the process
dies after it left and before the recorder wrote Telegram's answer; a semaphore caps those at
`max_unrecorded` (twice the sends in flight by default), however slow the database is, and the
claim count in the outbox caps how often one message can be caught that way (MAX_CLAIMS).

Every send ends in an outcome, whatever it raises: one chat's failure is never the round's. A
round that fails all the same (the database gave up while stopping) keeps its outcomes and its
unsent claims in memory and settles them before anything is claimed again: what left is
recorded, never requeued.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import InlineKeyboardMarkup, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ExtBot

from bot.delivery import answers, edits, routing
from bot.delivery.cards import ArticlePhoto, CardSender, preview_options
from bot.delivery.pacing import Pace, retry_delay
from bot.delivery.prepared import PreparedText
from bot.newsroom.clock import Clock, utcnow
from bot.ops import logs
from bot.settings import Settings
from bot.telegram.messages import MAX_CAPTION_UTF16, MAX_TEXT_UTF16, link_card, story_card
from bot.telegram.texts import choose_language
from db import broadcasts, store
from db.broadcasts import Claim, Outcome
from db.models import ArticleRow, BroadcastRow
from db.session import unit_of_work

log = logging.getLogger(__name__)
T = TypeVar("T")

DELIVERY_CONCURRENCY = 16  # broadcast sends in flight
MAX_ATTEMPTS = 5  # transient failures before a delivery is failed
BACKOFF_BASE = 1.0  # seconds; doubles with each attempt
BACKOFF_CAP = 60.0
DATABASE_RETRY = 0.5  # seconds before a failed claim or write is tried again (grows)
GIVE_UP_WHEN_STOPPING = 3
OPEN_CHECK_INTERVAL = 0.5  # seconds between looks for cancelled broadcasts while sending
# A write costs about as much for one outcome as for dozens: a few outcomes wait at most this
# long for others to share theirs (what a crash can repeat is bounded by max_unrecorded).
RECORD_GATHER = 0.05
ERROR_TEXT_LIMIT = 500


def max_unrecorded_for(rate: float, concurrency: int) -> int:
    """The crash window for a sending rate: a quarter second of sending, at least twice the
    sends in flight (fewer would leave a high rate waiting on database writes)."""
    return max(2 * concurrency, int(rate / 4))


def batch_size_for(rate: float) -> int:
    """Claims per round for a sending rate: about a second of sending, so a cancel stops within
    about a second."""
    return max(10, min(200, int(rate)))


@dataclass(frozen=True)
class _Story:
    """What a broadcast sends, rendered once per interface language."""

    broadcast_id: int
    article: ArticleRow
    cards: dict[str, tuple[str, InlineKeyboardMarkup | None]]
    # push sends the card; correct and retract edit or delete the cards pushes sent.
    kind: str = "push"
    topic: str | None = None
    # A job's time: the "updated HH:MM" line says it, the same however often a row is retried.
    created_at: datetime | None = None
    # The article's photo as this broadcast sends it (None: text cards), shared by its sends.
    photo: ArticlePhoto | None = None
    captions: dict[str, tuple[str, InlineKeyboardMarkup | None]] = field(default_factory=dict)
    # The text cards encoded for sending, keyed as `cards`.
    prepared: dict[str, PreparedText] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Job:
    """A claimed delivery with what sending it needs to know about the chat."""

    claim: Claim
    active: bool
    language: str
    route: routing.Route = routing.PLAIN


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
        clock: Clock = utcnow,
        on_recorded: Callable[[Sequence[Outcome]], None] | None = None,
        max_claims: int = broadcasts.MAX_CLAIMS,
        zone: str = "UTC",
        cards: CardSender | None = None,
    ) -> None:
        self.bot = bot
        self.cards = cards or CardSender(bot=bot, sessionmaker=sessionmaker)
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
        self.max_claims = max_claims
        self.editor = edits.Editor(bot=bot, clock=clock, zone=zone, backoff_base=backoff_base)
        # Left by a round that failed: outcomes not yet written, and claims that never reached
        # a sender. Both are settled before the next claim (see _settle).
        self._unwritten: list[Outcome] = []
        self._unsent: dict[tuple[int, int], Claim] = {}
        self._settling = asyncio.Lock()
        self._stories: dict[int, _Story] = {}
        self._open: set[int] = set()  # running broadcasts, as of the last claim
        self._wake = asyncio.Event()
        self._stopping = False

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        *,
        bot: ExtBot[Pace],
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        on_recorded: Callable[[Sequence[Outcome]], None] | None = None,
        concurrency: int = DELIVERY_CONCURRENCY,
        batch_size: int | None = None,
        backoff_base: float = BACKOFF_BASE,
    ) -> Deliverer:
        """The Deliverer the settings call for; tests and benches may override its sizes."""
        return cls(
            bot=bot,
            sessionmaker=sessionmaker,
            default_language=settings.language,
            paid_broadcast=settings.paid_broadcast,
            concurrency=concurrency,
            max_unrecorded=max_unrecorded_for(settings.rate, concurrency),
            batch_size=batch_size or batch_size_for(settings.rate),
            backoff_base=backoff_base,
            clock=clock,
            on_recorded=on_recorded,
            zone=settings.timezone,
            cards=CardSender.for_settings(settings, bot=bot, sessionmaker=sessionmaker),
        )

    async def close(self) -> None:
        """Let go of what sending opened (the image fetcher of upload mode)."""
        await self.cards.close()

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
                # A database hiccup must not end delivery for good: log, wait, try again. The
                # round's outcomes wait in memory; the next round writes them first.
                log.exception("delivery round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle_interval)
        if self._unwritten or self._unsent:
            try:
                await self._settle()
            except Exception:
                # Then the rows stay claimed, and the next deliverer requeues them (counted).
                log.exception(
                    "could not record %d outcomes before stopping; the next start requeues them",
                    len(self._unwritten),
                )

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

    async def _settle(self) -> None:
        """Write what a failed round left: its outcomes, and its unsent claims back in the queue.

        Only claims that never reached a sender are requeued, and only after the outcomes are
        written (in the same transaction): a message that left is never sent again from here.
        """
        async with self._settling:  # two rounds starting together settle once
            outcomes = list(self._unwritten)
            unsent = list(self._unsent)
            if not outcomes and not unsent:
                return
            async with unit_of_work(self.sessionmaker) as session:
                await broadcasts.record_outcomes(
                    session=session, outcomes=outcomes, now=self.clock()
                )
                requeued = await broadcasts.requeue_deliveries(session=session, keys=unsent)
            del self._unwritten[: len(outcomes)]
            for key in unsent:
                self._unsent.pop(key, None)
        log.info(
            "settled a failed round: %d outcomes written, %d requeued", len(outcomes), requeued
        )
        self._report(outcomes)

    async def deliver_available(self) -> int:
        """Send every delivery that is due now; return how many outcomes were recorded."""
        if self._unwritten or self._unsent:
            await self._persist(self._settle)
        # Bounded: the claimer stays about one batch ahead of the senders, so a cancel is
        # noticed quickly and little is claimed-but-unsent at any time.
        queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=self.batch_size)
        # This round's own: rounds may overlap (a caller besides run), each claims other rows.
        pending: list[Outcome] = []  # outcomes not yet written, oldest first
        unsent: dict[tuple[int, int], Claim] = {}  # claimed, not yet taken by a sender
        recorded = 0
        failure: BaseException | None = None  # the first; once set, nothing more is sent
        recording_failed = False
        senders_done = asyncio.Event()
        have_outcomes = asyncio.Event()
        # Set once half the unrecorded slots are taken: senders then still have room while the
        # batch is written.
        gather = max(1, self.max_unrecorded // 2)
        batch_ready = asyncio.Event()
        # A send holds one of these from before it leaves until its outcome is written: the
        # sends that a crash could repeat never number more than max_unrecorded.
        unrecorded = asyncio.Semaphore(self.max_unrecorded)

        async def claimer() -> None:
            nonlocal failure
            try:
                # The first claim is small, so sending starts after a short query; the claimer
                # then keeps a whole batch ahead of the senders.
                limit = min(self.batch_size, 2 * self.concurrency)
                while not self._stopping and failure is None:
                    claimed, jobs = await self._persist(functools.partial(self._claim, limit))
                    limit = self.batch_size
                    if not claimed:
                        return
                    for job in jobs:
                        unsent[job.claim.key] = job.claim
                        await queue.put(job)
            except Exception as error:
                failure = failure or error

        async def sender() -> None:
            # Ends only by cancellation, when the queue is drained (see below).
            while True:
                job = await queue.get()
                try:
                    if failure is None:
                        await unrecorded.acquire()
                        if failure is None:
                            unsent.pop(job.claim.key, None)
                            pending.append(await self._deliver(job))
                            have_outcomes.set()
                            if len(pending) >= gather:
                                batch_ready.set()
                        else:
                            unrecorded.release()
                    # Otherwise the claim stays unsent: settled after the round's failure.
                finally:
                    queue.task_done()

        async def recorder() -> None:
            # Group commit: write what has arrived once half the unrecorded slots are taken or
            # RECORD_GATHER has passed, and again as soon as the previous write is done. An
            # answer waits at most that long and one write to be recorded.
            nonlocal recorded, failure, recording_failed
            checked = time.monotonic()
            while True:
                await have_outcomes.wait()
                if len(pending) < gather and not senders_done.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(batch_ready.wait(), RECORD_GATHER)
                have_outcomes.clear()
                batch_ready.clear()
                finished = senders_done.is_set()
                if pending and not recording_failed:
                    batch = pending[:]
                    try:
                        await self._persist(functools.partial(self._record, batch))
                    except Exception as error:
                        # Kept in pending for _settle. Freeing the slots lets waiting senders
                        # see the failure and leave their claims unsent.
                        failure = failure or error
                        recording_failed = True
                    else:
                        del pending[: len(batch)]
                        recorded += len(batch)
                        self._report(batch)
                    for _ in batch:
                        unrecorded.release()
                if finished and (recording_failed or not pending):
                    return
                # A cancel from another process shows only in the database: look now and then.
                if time.monotonic() - checked >= OPEN_CHECK_INTERVAL:
                    checked = time.monotonic()
                    await self._look_for_cancels()

        try:
            async with asyncio.TaskGroup() as group:
                workers = [group.create_task(sender()) for _ in range(self.concurrency)]
                group.create_task(recorder())
                await claimer()
                # Every claimed job has been sent, or left unsent after a failure.
                await queue.join()
                for worker in workers:
                    worker.cancel()
                senders_done.set()
                have_outcomes.set()
                batch_ready.set()
        finally:
            # What the round could not finish waits for the next one (empty when it succeeded).
            self._unwritten.extend(pending)
            self._unsent.update(unsent)
        if failure is not None:
            raise failure
        done = await self._persist(self._finish)
        for broadcast_id in done:
            self._stories.pop(broadcast_id, None)
            log.info("broadcast %s finished", broadcast_id, extra=logs.about(broadcast_id))
        return recorded

    async def _look_for_cancels(self) -> None:
        try:
            async with unit_of_work(self.sessionmaker) as session:
                self._open = await broadcasts.running_broadcast_ids(session=session)
        except Exception as error:
            # Only a cancel waits for the next look; the round goes on.
            log.warning("could not look for cancelled broadcasts: %s", _reason(error))

    async def _finish(self) -> list[int]:
        async with unit_of_work(self.sessionmaker) as session:
            return await broadcasts.finish_broadcasts(session=session, now=self.clock())

    async def _claim(self, limit: int) -> tuple[int, list[_Job]]:
        """Claim up to `limit` rows: how many it took (given-up ones too) and the jobs to send."""
        chats: dict[int, tuple[bool, str | None, str | None]] = {}
        async with unit_of_work(self.sessionmaker) as session:
            claimed = await broadcasts.claim_deliveries(
                session=session,
                limit=limit,
                now=self.clock(),
                max_claims=self.max_claims,
            )
            self._open = await broadcasts.running_broadcast_ids(session=session)
            claims = [claim for claim in claimed if not claim.given_up]
            if claims:
                chats = await broadcasts.chat_languages(
                    session=session, chat_ids={claim.chat_id for claim in claims}
                )
            wanted = {claim.broadcast_id for claim in claims}
            stale = set(await routing.stale(session=session, known=self._known(wanted)))
            # A stale story is replaced, never removed first: senders of the last round may be
            # reading it across these awaits, and a missing story fails their delivery.
            for broadcast_id in stale | (wanted - self._stories.keys()):
                if not await self._load_story(session, broadcast_id):
                    self._stories.pop(broadcast_id, None)
            routes = await routing.routes(
                session=session, claims=claims, known=self._known(wanted)
            )
        return len(claimed), self._jobs(claimed, chats, routes)

    def _known(self, broadcast_ids: set[int]) -> dict[int, routing.Known]:
        return {
            bid: routing.Known(s.kind, s.article.id, s.article.revision, s.topic)
            for bid in broadcast_ids
            if (s := self._stories.get(bid)) is not None
        }

    def _jobs(
        self,
        claimed: list[Claim],
        chats: dict[int, tuple[bool, str | None, str | None]],
        routes: dict[tuple[int, int], routing.Route] | None = None,
    ) -> list[_Job]:
        """The claims (now committed) as jobs; those given up on are only logged."""
        jobs = []
        for claim in claimed:
            if claim.given_up:
                log.error(
                    "delivery to chat %s %s: failed, not sent again",
                    claim.chat_id,
                    broadcasts.given_up_reason(self.max_claims),
                    extra=logs.about(claim.broadcast_id),
                )
                continue
            if claim.claims > 1:
                log.warning(
                    "delivery to chat %s claimed again after %d claims without an outcome "
                    "(it may have been sent already)",
                    claim.chat_id,
                    claim.claims - 1,
                    extra=logs.about(claim.broadcast_id),
                )
            active, chosen, telegram_language = chats.get(claim.chat_id, (True, None, None))
            language = choose_language(chosen, telegram_language, self.default_language)
            route = (routes or {}).get(claim.key, routing.PLAIN)
            jobs.append(_Job(claim, active, language, route))
        return jobs

    async def _load_story(self, session: AsyncSession, broadcast_id: int) -> bool:
        """Load (or replace) a broadcast's story; False when there is none to send."""
        broadcast = await session.get(BroadcastRow, broadcast_id)
        if broadcast is None:
            return False
        article = await store.get_article(session=session, article_id=broadcast.article_id)
        if article is not None and (broadcast.kind == "retract" or article.retracted_at is None):
            # A file_id from an earlier send is in the row; a refusal holds for the broadcast
            # it happened in, and a new one tries the photo once more.
            photo = ArticlePhoto.of(article, try_again=True)
            self._stories[broadcast_id] = _Story(
                broadcast_id,
                article,
                {},
                broadcast.kind,
                broadcast.topic,
                broadcast.created_at,
                photo,
            )
            return True
        return False

    def _card(
        self, story: _Story, language: str, channel: bool = False, *, caption: bool = False
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        """The card as text, or as a photo's caption (1024 UTF-16 units); built once each."""
        cache = story.captions if caption else story.cards
        key = _card_key(language, channel)
        card = cache.get(key)
        if card is None:
            limit = MAX_CAPTION_UTF16 if caption else MAX_TEXT_UTF16
            build = link_card if channel else story_card
            card = cache[key] = build(
                story.article, language, bot_username=self.bot.username, limit=limit
            )
        return card

    async def _deliver(self, job: _Job) -> Outcome:
        """Send one story card and say what happened; never raises (but CancelledError)."""
        claim = job.claim
        logs.broadcast_id.set(claim.broadcast_id)  # this sender task's log lines name it
        pending = Outcome(claim.broadcast_id, claim.chat_id, "failed", claim.attempts)
        try:
            outcome = await self._attempt(job, pending)
        except Exception as error:
            # A fault of ours or of a library, not of the chat: trying again would fail again
            # (or, had the message left, send it twice). Recorded and logged once.
            log.exception(
                "delivery to chat %s failed unexpectedly; not retried",
                claim.chat_id,
                extra=logs.about(claim.broadcast_id),
            )
            return replace(pending, attempts=claim.attempts + 1, error=_reason(error))
        story = self._stories.get(claim.broadcast_id)
        # A push to a channel; an inactive channel keeps the refusal that made it so.
        pushed = story is not None and story.kind == "push" and outcome.status != "queued"
        if job.route.channel and pushed and job.active:
            await routing.note_channel(self.sessionmaker, outcome, self.clock())
        return outcome

    async def _attempt(self, job: _Job, pending: Outcome) -> Outcome:
        claim = job.claim
        story = self._stories.get(claim.broadcast_id)
        if self._stopping:
            return replace(pending, status="queued")
        if claim.broadcast_id not in self._open:
            return replace(pending, status="dropped", error="cancelled")
        if story is None:
            return replace(pending, error="the article is gone")
        if not job.active:
            return replace(pending, status="skipped", error="chat is inactive")
        if story.kind != "push":
            return await self.editor.job_row(
                kind=story.kind,
                article=story.article,
                language=job.language,
                chat_id=claim.chat_id,
                targets=job.route.targets,
                moment=story.created_at or self.clock(),
                channel=job.route.channel,
                pending=pending,
            )
        photo = story.photo
        with answers.watch() as answer:
            try:
                if photo is None or not photo.wanted:
                    # The common case, and the hot one: a text card encoded once per language.
                    message = await self._prepared(story, job.language, job.route.channel).send(
                        self.bot,
                        claim.chat_id,
                        silent=claim.silent,
                        thread_id=job.route.thread_id,
                    )
                else:
                    message = await self._photo_card(story, job)
            except Exception as error:
                if answer.received:
                    # Telegram said ok; only reading its answer failed. The message is there.
                    return self._sent(pending, answer.message_id(), unreadable=error)
                thread = job.route.thread_id
                if isinstance(error, BadRequest) and thread and "thread not found" in str(error):
                    # Sent again at once, to the group itself.
                    await routing.forget_thread(self.sessionmaker, claim, thread)
                    return replace(pending, status="queued", error=_reason(error))
                if isinstance(error, TelegramError):
                    return await self._refused(pending, error)
                raise
        if isinstance(message, Message):
            return self._sent(pending, message.message_id)
        message_id = answers.message_id_of(message)
        if message_id is not None:
            return self._sent(pending, message_id)
        return self._sent(pending, answer.message_id(), unreadable=message)

    def _prepared(self, story: _Story, language: str, channel: bool) -> PreparedText:
        """The text card encoded for sending; built once per language (and for channels)."""
        key = _card_key(language, channel)
        prepared = story.prepared.get(key)
        if prepared is None:
            body, keyboard = self._card(story, language, channel)
            prepared = story.prepared[key] = PreparedText.of(
                body,
                keyboard,
                preview_options(self.cards.link_preview, story.article.url),
                paid_broadcast=self.paid_broadcast,
            )
        return prepared

    async def _photo_card(self, story: _Story, job: _Job) -> Any:
        """The card with the article's photo (as text when the photo is refused)."""
        extra: dict[str, Any] = {"allow_paid_broadcast": True} if self.paid_broadcast else {}
        if job.claim.silent:
            extra["disable_notification"] = True
        if job.route.thread_id is not None:
            extra["message_thread_id"] = job.route.thread_id
        return await self.cards.send(
            job.claim.chat_id,
            text=self._card(story, job.language, job.route.channel),
            caption=functools.partial(
                self._card, story, job.language, job.route.channel, caption=True
            ),
            url=story.article.url,
            photo=story.photo,
            rate_limit_args=Pace.BROADCAST,
            **extra,
        )

    def _sent(
        self, pending: Outcome, message_id: int | None, *, unreadable: object = None
    ) -> Outcome:
        if unreadable is not None:
            reason = (
                _reason(unreadable)
                if isinstance(unreadable, Exception)
                else f"result {unreadable!r}"[:ERROR_TEXT_LIMIT]
            )
            log.warning(
                "Telegram accepted the message to chat %s but its answer could not be read "
                "(%s); recorded as sent, message id %s",
                pending.chat_id,
                reason,
                "unknown" if message_id is None else message_id,
                extra=logs.about(pending.broadcast_id),
            )
        # Built directly, not by dataclasses.replace: once per message sent, it shows.
        return Outcome(
            pending.broadcast_id,
            pending.chat_id,
            "sent",
            pending.attempts + 1,
            message_id=message_id,
            sent_at=self.clock(),
        )

    async def _refused(self, pending: Outcome, error: TelegramError) -> Outcome:
        """The outcome of a send that Telegram refused, or that did not get an answer."""
        if isinstance(error, ChatMigrated):
            try:
                return await self._migrated(pending, error.new_chat_id)
            except Exception as failure:
                # Nothing was sent; the old id will answer "migrated" again next time.
                log.warning("could not move migrated chat %s: %s", pending.chat_id, failure)
                return self._retry_later(pending, failure)
        if isinstance(error, Forbidden):
            return replace(pending, status="skipped", error=_reason(error), chat_gone=True)
        if isinstance(error, BadRequest):
            # BadRequest is a NetworkError: it has to be told apart before the transient ones.
            if "chat not found" in error.message.lower():
                return replace(pending, status="skipped", error=_reason(error), chat_gone=True)
            return replace(pending, attempts=pending.attempts + 1, error=_reason(error))
        if isinstance(error, RetryAfter):
            # The pacer already paused every send and retried; this one waits its turn again.
            return replace(
                pending,
                status="queued",
                not_before=self.clock() + retry_delay(error),
                error=_reason(error),
            )
        if isinstance(error, NetworkError):
            # Timeouts, lost connections (a reset after the request arrived, too) and 5xx: the
            # message may or may not have left. Sent again, at most MAX_ATTEMPTS times; a
            # deliverer that dies meanwhile is bounded by the claim cap as well.
            return self._retry_later(pending, error)
        # Anything else (InvalidToken, a 200 whose body is not JSON, …): the outcome is unknown
        # and would be the same again. Failed once, never repeated.
        log.error(
            "delivery to chat %s failed: %s; not retried",
            pending.chat_id,
            _reason(error),
            extra=logs.about(pending.broadcast_id),
        )
        return replace(pending, attempts=pending.attempts + 1, error=_reason(error))

    def _retry_later(self, pending: Outcome, error: Exception) -> Outcome:
        attempts = pending.attempts + 1
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
            await broadcasts.record_outcomes(session=session, outcomes=batch, now=self.clock())

    def _report(self, batch: list[Outcome]) -> None:
        # Outside the retried database step: a failing observer must not write twice.
        if self.on_recorded is not None and batch:
            self.on_recorded(batch)


def _card_key(language: str, channel: bool) -> str:
    """Where a story keeps a built card: one per language, and another for channels."""
    return f"{language}:channel" if channel else language


def _reason(error: BaseException) -> str:
    """An error as stored with a delivery: its kind and Telegram's words, shortened."""
    return f"{type(error).__name__}: {error}"[:ERROR_TEXT_LIMIT]
