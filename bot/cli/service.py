"""Running the bot: `newsbot run`, `newsbot healthcheck` and `newsbot db upgrade`."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import typer

from bot.cli.common import UsageError, fail, guarded
from bot.ops.addresses import http_url, reachable_host, split_address
from bot.ops.logs import register_secrets
from bot.settings import Settings
from db.migrate import upgrade

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


def run() -> None:
    """Run the bot: updates by polling (or webhook when NEWSBOT_WEBHOOK_URL is set)."""
    from bot.ops.logs import configure_logging
    from bot.ops.runner import ListenError, serve

    def start() -> None:
        settings = Settings()
        if settings.token is None:
            raise UsageError("NEWSBOT_TOKEN is not set (the bot token from @BotFather)")
        configure_logging(settings)
        upgrade(settings.database_url)
        try:
            asyncio.run(serve(settings))
        except ListenError as error:
            fail(str(error), status=1)

    guarded(start)


def healthcheck() -> None:
    """Ask the running bot's /healthz (for a container's health check): exit 0 if healthy."""

    def check() -> None:
        settings = Settings()
        address = settings.listen if settings.webhook_url else settings.metrics_listen
        if address is None:
            raise UsageError("no health endpoint: set NEWSBOT_METRICS_LISTEN in polling mode")
        host, port = split_address(address)
        url = f"{http_url(reachable_host(host), port)}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                print(response.read().decode())
        except urllib.error.HTTPError as error:
            fail(f"unhealthy: {error.read().decode()}", status=1)
        except OSError as error:
            fail(f"{url} did not answer: {error}", status=1)

    guarded(check)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""

    def run() -> None:
        settings = Settings()
        register_secrets(settings)  # a failed connection's message may quote the URL
        upgrade(settings.database_url)

    guarded(run)
    print("database is up to date")
