"""The bot's life in one `async with`: every part opened in order, and closed in the reverse.

`running_bot(settings)` opens the database, builds the Application, the Deliverer, the
BroadcastScheduler and (when NEWSBOT_FEEDS names some) the FeedPoller, publishes the command
menus, schedules the repeating jobs and starts the Application. What it hands out, a Runtime,
has every part open. Updates are taken only when asked for (`poll` or `take_webhook`), so the
caller decides what comes first (`newsbot run` starts its web server before).

On the way out: no new updates; the handlers finish the updates already taken; the Deliverer
finishes the sends in flight within the delivery budget (what was claimed and not sent goes back
to the queue) and the running broadcasts say where they paused; then the feed poller's
connections, the Application and the database close.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram.ext import JobQueue, Updater

from bot.delivery.deliverer import Deliverer
from bot.delivery.digests import DIGEST_INTERVAL, DigestSender
from bot.delivery.listener import BroadcastListener
from bot.delivery.scheduler import TICK_INTERVAL, BroadcastScheduler
from bot.newsroom.clock import Clock, utcnow
from bot.newsroom.feeds import FeedPoller
from bot.ops import logs
from bot.ops.metrics import Metrics
from bot.settings import Settings
from bot.telegram import updates
from bot.telegram.app import (
    NewsApp,
    build_application,
    publish_menus,
    report_feed_failure,
    report_missed,
)
from bot.telegram.channels import sync_channels
from bot.telegram.context import Context, Services
from db import broadcasts, checkpoints, signals
from db.lock import delivery_lock
from db.session import create_sessionmaker, unit_of_work

log = logging.getLogger(__name__)

# Sends in flight take at most a request timeout; the delivery stop gets the most of the ten
# seconds a container runtime waits after SIGTERM.
DELIVERY_STOP_BUDGET = 7.0
JOB_INTERVAL = 10.0  # seconds between the feed job's looks at which feeds are due
JOB_FIRST = 1.0


@dataclass(frozen=True, slots=True)
class Runtime(Services):
    """The running bot: the services handlers share, and the parts only the runtime handles."""

    app: NewsApp
    engine: AsyncEngine
    # Only when NEWSBOT_FEEDS names some; only the runtime polls it and closes it.
    feeds: FeedPoller | None
    # Builds and sends readers' digests; its job runs only in the process that delivers.
    digests: DigestSender | None = None
    # SQLite (a file): copies the write-ahead log into the database beside the bot's commits.
    checkpointer: checkpoints.Checkpointer | None = None

    async def poll(
        self, *, poll_interval: float = 0.0, poll_timeout: int = 10, limit_updates: bool = True
    ) -> None:
        """Take updates by getUpdates, asking only for what the handlers take.

        `limit_updates=False` asks for Telegram's default set instead (a test shows that the
        handlers leave the rest alone).
        """
        wanted = updates.allowed_updates(self.app) if limit_updates else None
        await _updater(self.app).start_polling(
            poll_interval=poll_interval, timeout=poll_timeout, allowed_updates=wanted
        )
        log.info("taking updates by polling")

    async def take_webhook(self) -> None:
        """Ask Telegram to post updates to NEWSBOT_WEBHOOK_URL, only what the handlers take."""
        url, secret = self.settings.webhook_url, self.settings.webhook_secret
        if url is None or secret is None:
            raise ValueError("a webhook needs NEWSBOT_WEBHOOK_URL and NEWSBOT_WEBHOOK_SECRET")
        # Every replica registers the same URL and secret; none deletes it on the way out.
        await self.app.bot.set_webhook(
            url,
            secret_token=secret.get_secret_value(),
            allowed_updates=updates.allowed_updates(self.app),
        )
        log.info("taking updates by webhook at %s", self.settings.webhook_path)


@asynccontextmanager
async def running_bot(
    settings: Settings,
    *,
    clock: Clock = utcnow,
    delivery_stop_budget: float = DELIVERY_STOP_BUDGET,
    configure: Callable[[NewsApp], None] | None = None,
    tick_interval: float = TICK_INTERVAL,
) -> AsyncIterator[Runtime]:
    """Open the bot, start it (without taking updates) and close it in order on the way out.

    `configure` may adjust the built Application before it opens (a bench replaces Telegram
    with an in-process answerer); `tick_interval` spaces the scheduler's fallback tick (a test
    makes it long to show that the listener alone starts broadcasts written elsewhere).
    """
    async with AsyncExitStack() as stack:
        engine, checkpointer = await stack.enter_async_context(
            checkpoints.bot_engine(settings.database_url)
        )
        sessionmaker = create_sessionmaker(engine)
        metrics = Metrics()
        app = build_application(settings, metrics)
        if configure is not None:
            configure(app)
        jobs = _job_queue(app)
        await app.initialize()
        stack.push_async_callback(app.shutdown)
        await publish_menus(app, settings.language)
        feeds = None
        if settings.feeds:
            feeds = FeedPoller(
                sessionmaker=sessionmaker,
                sources=settings.feeds,
                interval=settings.feed_interval,
                target=settings.section_target,
                clock=clock,
                fetch_private=settings.fetch_private,
                fetch_deadline=settings.fetch_timeout,
                on_failure=functools.partial(report_feed_failure, app),
            )
            stack.push_async_callback(feeds.close)
        deliverer = Deliverer.for_settings(
            settings,
            bot=app.bot,
            sessionmaker=sessionmaker,
            clock=clock,
            on_recorded=metrics.count_outcomes,
        )
        stack.push_async_callback(deliverer.close)  # after delivery has stopped
        scheduler = BroadcastScheduler(
            sessionmaker=sessionmaker,
            deliverer=deliverer,
            lock=delivery_lock(engine),
            grace=settings.broadcast_grace,
            clock=clock,
            job_queue=jobs,
            on_missed=functools.partial(report_missed, app),
            zone=settings.timezone,
        )
        stack.push_async_callback(_stop_delivery, scheduler, sessionmaker, delivery_stop_budget)
        digest_sender = DigestSender(
            bot=app.bot,
            sessionmaker=sessionmaker,
            clock=clock,
            default_language=settings.language,
            default_zone=settings.timezone,
        )
        runtime = Runtime(
            settings=settings,
            sessionmaker=sessionmaker,
            scheduler=scheduler,
            metrics=metrics,
            clock=clock,
            app=app,
            engine=engine,
            feeds=feeds,
            digests=digest_sender,
            checkpointer=checkpointer,
        )
        app.bot_data.services = runtime
        if settings.channels:
            await sync_channels(app.bot, sessionmaker, settings.channels, clock)
        _schedule_jobs(jobs, scheduler, feeds, tick_interval)
        _schedule_digests(jobs, scheduler, digest_sender)
        await app.start()
        stack.push_async_callback(_stop_handling, app)
        watcher = signals.watcher_for(engine)
        if watcher is not None:
            listener = BroadcastListener(watcher=watcher, scheduler=scheduler)
            listener.start()
            # Closed first: no tick of its own starts while delivery stops.
            stack.push_async_callback(listener.close)
        # What is alive once the bot runs (libraries, the Application, the engine) lives as
        # long as it does: frozen, it is left out of every full collection, which would walk
        # it again and again while a broadcast sends (bench/fanout.py: a broadcast in a process
        # carrying a larger heap sent 3,100 msg/s instead of 4,000). Unfrozen on the way out,
        # so a process that starts the bot again (the tests) can still collect it.
        gc.collect()
        gc.freeze()
        stack.callback(gc.unfreeze)
        yield runtime


def _updater(app: NewsApp) -> Updater:
    if app.updater is None:
        raise RuntimeError("the Application was built without an Updater")
    return app.updater


def _job_queue(app: NewsApp) -> JobQueue[Context]:
    if app.job_queue is None:
        raise RuntimeError("python-telegram-bot's job-queue extra is not installed")
    return app.job_queue


def _schedule_jobs(
    jobs: JobQueue[Context],
    scheduler: BroadcastScheduler,
    feeds: FeedPoller | None,
    tick_interval: float = TICK_INTERVAL,
) -> None:
    """The scheduler's heartbeat (every second by default); the feeds' poll when there are feeds.

    The listener starts what other processes write at once; the heartbeat is its fallback, and
    what takes the delivery lock when another process lets it go.
    """

    async def tick(context: Context) -> None:
        # Start due broadcasts; keep or take the delivery lock. A task, not an await: a tick
        # slowed by a busy database must not outlive the next run, which APScheduler would skip
        # with a warning; a tick still running is simply not doubled. The job queue stops
        # after the application does: a run in between starts nothing that no one awaits.
        if scheduler.ticking or not context.application.running:
            return
        context.application.create_task(scheduler.tick(), name="broadcast-tick")

    jobs.run_repeating(tick, interval=tick_interval, first=0, name="broadcast-tick")
    if feeds is None:
        return

    async def poll_feeds(context: Context) -> None:
        # Only the holder of the delivery lock polls, so two processes never ingest one feed.
        if not scheduler.delivering or feeds.busy or not context.application.running:
            return
        # A task, not an await: a slow feed (up to the 30 s deadline) must not keep the job
        # running past its next run, which APScheduler would skip with a warning. The
        # Application's stop awaits the task.
        context.application.create_task(feeds.poll_due(), name="feed-poll")

    jobs.run_repeating(poll_feeds, interval=JOB_INTERVAL, first=JOB_FIRST, name="feed-poll")


def _schedule_digests(
    jobs: JobQueue[Context], scheduler: BroadcastScheduler, sender: DigestSender
) -> None:
    """Readers' digests: built and sent by the process that delivers, never two runs at once."""
    running: set[asyncio.Task[int]] = set()

    async def digests(context: Context) -> None:
        if not scheduler.delivering or running:
            return
        # A task, as for the tick: a slow round must not make APScheduler skip the next run.
        task = context.application.create_task(sender.run(), name="digests")
        running.add(task)
        task.add_done_callback(running.discard)

    jobs.run_repeating(digests, interval=DIGEST_INTERVAL, first=JOB_FIRST, name="digests")


async def _stop_handling(app: NewsApp) -> None:
    """No new updates; the handlers finish the updates already taken."""
    updater = _updater(app)
    if updater.running:
        try:
            await updater.stop()
        except Exception:
            # Its last getUpdates only confirms what was taken; the rest of the stop (handlers,
            # sends in flight) matters more than a repeat the next start skips.
            log.exception("polling did not stop cleanly")
    await app.stop()


async def _stop_delivery(
    scheduler: BroadcastScheduler,
    sessionmaker: async_sessionmaker[AsyncSession],
    budget: float,
) -> None:
    """Let the sends in flight finish within `budget`, then say where each broadcast paused."""
    try:
        async with asyncio.timeout(budget):
            await scheduler.close()
    except TimeoutError:
        # What is still claimed is requeued by whichever process delivers next.
        log.error("sends in flight did not finish in %.0f s; leaving them", budget)
    await _log_where_broadcasts_paused(sessionmaker)


async def _log_where_broadcasts_paused(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """One line per running broadcast: how far it came; the next deliverer goes on from there."""
    try:
        async with unit_of_work(sessionmaker) as session:
            running = await broadcasts.running_counts(session=session)
    except Exception:
        log.exception("could not read where the broadcasts stopped")
        return
    for broadcast_id, counts in sorted(running.items()):
        log.info(
            "broadcast %s paused: %d sent, %d waiting",
            broadcast_id,
            counts.get("sent", 0),
            counts.get("queued", 0) + counts.get("sending", 0),
            extra=logs.about(broadcast_id),
        )
