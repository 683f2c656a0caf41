"""`newsbot run`: the bot's whole life in one process, from start to a graceful stop.

Updates come by polling, or by webhook when NEWSBOT_WEBHOOK_URL is set. SIGTERM or SIGINT
stops taking updates, lets the handlers finish the ones already taken, lets the Deliverer finish
the sends in flight and write their outcomes (what was claimed and not sent goes back to the
queue, so a broadcast resumes where it stopped), and exits within SHUTDOWN_BUDGET.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

from sqlalchemy.engine import make_url

from bot.ops.runtime import Runtime, running_bot
from bot.ops.webserver import WebServer
from bot.settings import Settings

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET = 10.0  # seconds from SIGTERM to exit: what container runtimes wait by default


class ListenError(Exception):
    """The health/metrics or webhook server could not listen; the message names the setting."""


def startup_summary(settings: Settings, username: str | None) -> str:
    """The one line `newsbot run` logs once up: who, where, how, and for whom."""
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    mode = f"webhook on {settings.listen}" if settings.webhook_url else "polling"
    rate = f"{settings.rate:g}/s" + (" (paid broadcasts)" if settings.paid_broadcast else "")
    return (
        f"newsbot started: bot @{username or '?'}, database {database}, {mode}, "
        f"{len(settings.operators)} operators, {len(settings.feeds)} feeds, rate {rate}"
    )


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set or SIGTERM/SIGINT arrives, then shut down in order."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await _run(settings, stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def _run(settings: Settings, stop: asyncio.Event) -> None:
    server: WebServer | None = None
    try:
        async with running_bot(settings) as runtime:
            server = _web_server(runtime)
            if server is not None:
                await _start_server(server, settings)
            if settings.webhook_url is not None:
                await runtime.take_webhook()
            else:
                await runtime.poll()
            log.info(startup_summary(settings, runtime.app.bot.username))
            if not settings.operators:
                log.warning(
                    "NEWSBOT_OPERATORS is empty: nobody can use the operator commands "
                    "(/publish, /schedule, /broadcasts, /cancel, /stats); set it to your "
                    "Telegram user id"
                )
            await stop.wait()
            started = time.monotonic()
            log.info("stopping: no new updates; finishing handlers and sends in flight")
            if server is not None:
                server.accepting = False
        log.info("stopped in %.1f s", time.monotonic() - started)
    finally:
        # Last: /healthz and /metrics answer, and webhook posts get a 503, while stopping.
        if server is not None:
            await server.stop()


async def _start_server(server: WebServer, settings: Settings) -> None:
    try:
        await server.start()
    except OSError as error:
        setting = "NEWSBOT_LISTEN" if settings.webhook_url else "NEWSBOT_METRICS_LISTEN"
        # asyncio words it "error while attempting to bind on address …": name the cause.
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise ListenError(
            f"cannot listen on {server.host}:{server.port} ({reason.lower()}); "
            f"set {setting} to a free address"
        ) from None


def _web_server(runtime: Runtime) -> WebServer | None:
    settings = runtime.settings
    if settings.webhook_url is not None:
        assert settings.webhook_secret is not None
        return WebServer(
            runtime,
            listen=settings.listen,
            webhook_path=settings.webhook_path,
            webhook_secret=settings.webhook_secret.get_secret_value(),
        )
    if settings.metrics_listen is not None:
        return WebServer(runtime, listen=settings.metrics_listen)
    return None
