"""`newsbot run`: the bot's whole life in one process, from start to a graceful stop.

Updates come by polling, or by webhook when NEWSBOT_WEBHOOK_URL is set. SIGTERM or SIGINT
stops taking updates, lets the handlers finish the ones already taken, lets the Deliverer finish
the sends in flight and write their outcomes (what was claimed and not sent goes back to the
queue, so a broadcast resumes where it stopped), and exits within SHUTDOWN_BUDGET.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from bot.ops import logs
from bot.ops.webserver import WebServer
from bot.settings import Settings
from bot.telegram.app import NewsApp, build_application
from bot.telegram.updates import allowed_updates
from db import broadcasts
from db.session import unit_of_work

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET = 10.0  # seconds from SIGTERM to exit: what container runtimes wait by default
# Sends in flight take at most a request timeout; the delivery stop gets the most of the budget.
DELIVERY_STOP_BUDGET = 7.0


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set or SIGTERM/SIGINT arrives, then shut down in order."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    app = build_application(settings)
    try:
        await app.initialize()
        try:
            await _run(app, settings, stop)
        finally:
            await app.shutdown()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def _run(app: NewsApp, settings: Settings, stop: asyncio.Event) -> None:
    assert app.post_init is not None and app.post_stop is not None
    assert app.post_shutdown is not None and app.updater is not None
    await app.post_init(app)
    server = _web_server(app, settings)
    wanted = allowed_updates(app)
    try:
        if server is not None:
            await server.start()
        if settings.webhook_url is not None:
            assert settings.webhook_secret is not None
            # Every replica registers the same URL and secret; none deletes it on the way out.
            await app.bot.set_webhook(
                settings.webhook_url,
                secret_token=settings.webhook_secret.get_secret_value(),
                allowed_updates=wanted,
            )
            log.info("taking updates by webhook at %s", settings.webhook_path)
        else:
            await app.updater.start_polling(allowed_updates=wanted)
            log.info("taking updates by polling")
        await app.start()
        await stop.wait()
        started = time.monotonic()
        log.info("stopping: no new updates; finishing handlers and sends in flight")
        if server is not None:
            server.accepting = False
        if app.updater.running:
            try:
                await app.updater.stop()
            except Exception:
                # Its last getUpdates only confirms what was taken; the rest of the stop
                # (handlers, sends in flight) matters more than a repeat the next start skips.
                log.exception("polling did not stop cleanly")
        await app.stop()  # handles the updates already taken
        try:
            async with asyncio.timeout(DELIVERY_STOP_BUDGET):
                await app.post_stop(app)
        except TimeoutError:
            # What is still claimed is requeued by whichever process delivers next.
            log.error(
                "sends in flight did not finish in %.0f s; leaving them", DELIVERY_STOP_BUDGET
            )
        await _log_where_broadcasts_stopped(app)
        log.info("stopped in %.1f s", time.monotonic() - started)
    finally:
        if server is not None:
            await server.stop()
        await app.post_shutdown(app)


def _web_server(app: NewsApp, settings: Settings) -> WebServer | None:
    metrics = app.bot_data.metrics
    assert metrics is not None
    if settings.webhook_url is not None:
        assert settings.webhook_secret is not None
        return WebServer(
            app,
            metrics,
            listen=settings.listen,
            webhook_path=settings.webhook_path,
            webhook_secret=settings.webhook_secret.get_secret_value(),
        )
    if settings.metrics_listen is not None:
        return WebServer(app, metrics, listen=settings.metrics_listen)
    return None


async def _log_where_broadcasts_stopped(app: NewsApp) -> None:
    """One line per running broadcast: how far it came; the next deliverer goes on from there."""
    if app.bot_data.sessionmaker is None:
        return
    try:
        async with unit_of_work(app.bot_data.sessionmaker) as session:
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
