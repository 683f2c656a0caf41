"""`newsbot sandbox`: the one command that runs the Bot API emulator (bot.sandbox)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import UsageError, fail, guarded
from bot.settings import Settings


def sandbox(
    host: Annotated[
        str, typer.Option("--host", help="address to listen on (no login: keep it local)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="the web chat's port (0: any free)")] = 8080,
    api_port: Annotated[
        int, typer.Option("--api-port", help="the fake Bot API's port (0: any free)")
    ] = 8081,
    api_only: Annotated[
        bool, typer.Option("--api-only", help="no bot: serve the fake Bot API for another one")
    ] = False,
    samples: Annotated[
        Path | None,
        typer.Option("--samples", help="articles to store when the store is empty"),
    ] = None,
) -> None:
    """Run the bot against a local Telegram lookalike with a web chat: no token, no network."""
    from bot.ops.logs import configure_logging
    from bot.sandbox.runner import ListenError, SandboxOptions, find_samples, run_sandbox

    def start() -> None:
        options = SandboxOptions(host, port, api_port, api_only, samples or find_samples())
        try:
            options.check()
        except ValueError as error:
            raise UsageError(str(error)) from None
        settings = Settings()
        # The bot's routine lines would bury the sandbox's addresses: warnings only, by default.
        if "log_level" not in settings.model_fields_set:
            settings = settings.model_copy(update={"log_level": "WARNING"})
        configure_logging(settings)
        try:
            run_sandbox(settings, options)
        except ListenError as error:
            fail(str(error), status=1)

    guarded(start)
