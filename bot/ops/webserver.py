"""The bot's HTTP server: Telegram's webhook, /healthz and /metrics.

In webhook mode it listens on NEWSBOT_LISTEN behind the publisher's reverse proxy (which ends
TLS); in polling mode it serves only /healthz and /metrics, on NEWSBOT_METRICS_LISTEN.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

from aiohttp import web
from sqlalchemy import text
from telegram import Update

from bot.ops import logs
from bot.ops.addresses import split_address
from bot.ops.metrics import CONTENT_TYPE
from bot.ops.runtime import Runtime
from bot.ops.serving import bind
from bot.telegram.updates import log_unreadable
from db import broadcasts
from db.session import READ_ONLY, unit_of_work

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DATABASE_TIMEOUT = 3.0  # seconds a health check waits for the database


class WebServer:
    """An aiohttp server bound to one address; the webhook route only when given a secret."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        listen: str,
        webhook_path: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.app = runtime.app
        self.metrics = runtime.metrics
        self.host, self.port = split_address(listen)
        self.webhook_secret = webhook_secret
        # While stopping, updates are answered 503 so Telegram (or the proxy) sends them again.
        self.accepting = True
        self._runner: web.AppRunner | None = None
        server = web.Application()
        server.router.add_get("/healthz", self.healthz)
        server.router.add_get("/metrics", self.render_metrics)
        if webhook_path is not None:
            if webhook_secret is None:
                raise ValueError("a webhook needs a secret")
            server.router.add_post(webhook_path, self.take_update)
        self._server = server

    async def start(self) -> None:
        """Bind and serve; the port actually bound is in `self.port` afterwards."""
        bound = await bind(self._server, self.host, self.port, shutdown_timeout=2.0)
        self.port = bound.port
        self._runner = bound.runner
        log.info("serving /healthz and /metrics on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Stop serving."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def take_update(self, request: web.Request) -> web.Response:
        """Telegram's POST: refused without the secret, else queued for the handlers."""
        given = request.headers.get(SECRET_HEADER, "")
        assert self.webhook_secret is not None
        if not hmac.compare_digest(given.encode(), self.webhook_secret.encode()):
            log.warning("refused a webhook request from %s: wrong secret", request.remote)
            return web.Response(status=403, text="forbidden")
        if not self.accepting:
            return web.Response(status=503, text="shutting down")
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.Response(status=400, text="not a Telegram update")
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return web.Response(status=400, text="not a Telegram update")
        try:
            update = Update.de_json(data, self.app.bot)
        except Exception as error:
            # An update this client cannot read: anything but a 2xx would have Telegram send
            # it again and again.
            log_unreadable(data, error)
            return web.Response(text="ok")
        await self.app.update_queue.put(update)
        return web.Response(text="ok")

    async def healthz(self, _request: web.Request) -> web.Response:
        """200 while the process runs and the database answers; 503 otherwise."""
        runtime = self.runtime
        body: dict[str, object] = {"status": "ok", "database": "ok"}
        status = 200
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT), runtime.engine.connect() as connection:
                # Read-only: on SQLite it must not queue for the write lock behind a writer.
                await connection.execution_options(**{READ_ONLY: True})
                await connection.execute(text("SELECT 1"))
        except Exception as error:
            status = 503
            body = {"status": "unavailable", "database": logs.redact(f"{error}")[:200]}
        body["delivering"] = runtime.scheduler.delivering
        return web.json_response(body, status=status)

    async def render_metrics(self, _request: web.Request) -> web.Response:
        """Prometheus exposition, with the database's numbers read now."""
        await self.refresh()
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def refresh(self) -> None:
        """Read the outbox and the lock into the metrics snapshot."""
        snapshot = self.metrics.snapshot
        snapshot.lock_held = self.runtime.scheduler.delivering
        limiter = self.app.bot.rate_limiter
        snapshot.retry_afters = getattr(limiter, "retry_after_count", 0)
        try:
            async with (
                asyncio.timeout(DATABASE_TIMEOUT),
                unit_of_work(self.runtime.sessionmaker, read_only=True) as s,
            ):
                snapshot.running = await broadcasts.running_counts(session=s)
            snapshot.database_up = True
        except Exception as error:
            log.warning("metrics: the database did not answer: %s", error)
            snapshot.database_up = False
            snapshot.running = {}
