"""`newsbot sandbox`: the fake Bot API, the real bot polling it, and the web chat, in one loop.

The bot is the one `newsbot run` starts (``running_bot``), given the fake server's URL and token.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bot.newsroom.ingest import Stored, store_sources
from bot.newsroom.sources import load_sources
from bot.ops.addresses import ANY_ADDRESSES, http_url, reachable_host
from bot.ops.runtime import running_bot
from bot.ops.serving import Service
from bot.sandbox.botapi.server import DEFAULT_TOKEN, FakeBotApi
from bot.sandbox.panel import StoreNewsroom
from bot.sandbox.web import SANDBOX_CHANNEL_ID, SANDBOX_CHANNEL_NAME, Reader, WebChat
from bot.settings import Settings
from bot.telegram.app import NewsApp
from db import store
from db.migrate import upgrade

__all__ = [
    "DEFAULT_DATABASE_URL",
    "READERS",
    "ListenError",
    "Sandbox",
    "SandboxOptions",
    "find_samples",
    "run_sandbox",
    "sandbox_readers",
    "sandbox_settings",
]

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///sandbox.db"
BOT_USERNAME = "newsbot_sandbox_bot"
BOT_NAME = "newsbot"
POLL_TIMEOUT = 10  # seconds a getUpdates waits; an update or the server's stop ends it early

# Simulated readers: two Arabic clients, an English one, and an editor (the operator when
# NEWSBOT_OPERATORS names nobody).
READERS = (
    Reader(1001, "ليلى", "ar"),
    Reader(1002, "Sam", "en"),
    Reader(1003, "عمر", "ar"),
    Reader(1004, "Editor", "en"),
)
DEFAULT_OPERATOR = 1004

_CHECKOUT_SAMPLES = Path(__file__).resolve().parents[2] / "samples"
# The samples' lead images name this made-up publisher; the fake Bot API plays its image host
# with the files of samples/images/, so photo cards work with no network.
SAMPLE_IMAGES_URL = "https://example.org/images/"


class ListenError(Exception):
    """A server of the sandbox could not listen on its address (a port in use, say)."""


def find_samples() -> Path | None:
    """The project's samples/ folder: beside the package in a checkout, else in the cwd."""
    for candidate in (_CHECKOUT_SAMPLES, Path.cwd() / "samples"):
        if candidate.is_dir():
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class SandboxOptions:
    """What `newsbot sandbox` was asked for."""

    host: str = "127.0.0.1"
    port: int = 8080  # the web chat; 0 picks a free port
    api_port: int = 8081  # the fake Bot API; 0 picks a free port
    api_only: bool = False
    samples: Path | None = field(default_factory=find_samples)

    def check(self) -> None:
        """Raise ValueError with a one-line reason when the options cannot work."""
        for name, port in (("--port", self.port), ("--api-port", self.api_port)):
            if not 0 <= port <= 65535:
                raise ValueError(f"{name} must be between 0 and 65535, not {port}")
        if self.port == self.api_port and self.port != 0:
            raise ValueError(f"the web chat and the Bot API cannot share port {self.port}")
        if self.samples is not None and not self.samples.is_dir():
            raise ValueError(f"no samples folder at {self.samples}")
        try:
            socket.getaddrinfo(self.host, None)
        except (socket.gaierror, UnicodeError):
            raise ValueError(f"cannot listen on {self.host!r}: unknown address") from None


def sandbox_settings(settings: Settings, api_url: str) -> Settings:
    """The bot's settings against the fake server: its token, its URL, polling, own database."""
    update: dict[str, object] = {
        "token": SecretStr(DEFAULT_TOKEN),
        "api_url": api_url,
        "webhook_url": None,
    }
    # Unless told otherwise, keep the sandbox's readers and pushes out of the real bot's store.
    if "database_url" not in settings.model_fields_set:
        update["database_url"] = DEFAULT_DATABASE_URL
    if not settings.operators:
        update["operators"] = frozenset({DEFAULT_OPERATOR})
    return settings.model_copy(update=update)


def cli_database_url(url: str) -> str:
    """The database URL for a command run from any folder: a SQLite file's path made absolute."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    return parsed.set(database=str(Path(database).resolve())).render_as_string(hide_password=False)


def sandbox_readers(operators: frozenset[int], language: str) -> tuple[Reader, ...]:
    """The fixed readers plus every operator, marked as such."""
    readers = [Reader(r.id, r.name, r.language, operator=r.id in operators) for r in READERS]
    known = {r.id for r in readers}
    readers += [
        Reader(user_id, f"Operator {user_id}", language, operator=True)
        for user_id in sorted(operators)
        if user_id not in known and user_id > 0
    ]
    if operators:  # a bot runs: its channel can be shown
        readers.append(Reader(SANDBOX_CHANNEL_ID, "📢 Channel", language, channel=True))
    return tuple(readers)


def _is_loopback(host: str) -> bool:
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _client_url(url: str, host: str) -> str:
    """A URL to connect to: a server bound to every address is reached on loopback."""
    if host not in ANY_ADDRESSES:
        return url
    return http_url(reachable_host(host), int(url.rsplit(":", 1)[1]))


def host_sample_images(api: FakeBotApi, folder: Path) -> int:
    """Serve every image of the folder at SAMPLE_IMAGES_URL + its name; how many."""
    if not folder.is_dir():
        return 0
    images = [path for path in sorted(folder.iterdir()) if path.is_file()]
    for path in images:
        api.host_image(SAMPLE_IMAGES_URL + path.name, path.read_bytes())
    return len(images)


class Sandbox(Service):
    """Everything `newsbot sandbox` runs; an async context manager."""

    def __init__(self, settings: Settings, options: SandboxOptions) -> None:
        self.options = options
        self.base_settings = settings
        self.settings: Settings | None = None  # the bot's, once the fake server has a URL
        self.api = FakeBotApi(
            DEFAULT_TOKEN,
            bot_username=BOT_USERNAME,
            bot_name=BOT_NAME,
            host=options.host,
            port=options.api_port,
        )
        if options.samples is not None:
            host_sample_images(self.api, options.samples / "images")
        self.app: NewsApp | None = None
        self.web: WebChat | None = None
        self.loaded: list[Stored] = []
        self._stack = AsyncExitStack()

    async def start(self) -> None:
        """Start the fake Bot API, then (unless api_only) the bot, then the web chat."""
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise

    async def _listen(
        self, what: str, option: str, port: int, start: Callable[[], Awaitable[None]]
    ) -> None:
        try:
            await start()
        except OSError as error:
            # asyncio words it "error while attempting to bind on address …": name the cause.
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise ListenError(
                f"the {what} cannot listen on {self.options.host}:{port} ({reason.lower()}); "
                f"choose another with {option}"
            ) from None

    async def _start(self) -> None:
        await self._listen("Bot API", "--api-port", self.options.api_port, self.api.start)
        self._stack.push_async_callback(self.api.stop)
        api_url = _client_url(self.api.url, self.options.host)
        settings = sandbox_settings(self.base_settings, api_url)
        self.settings = settings
        newsroom = None
        if self.options.api_only:
            operators: frozenset[int] = frozenset()
        else:
            app = await self._start_bot(settings)
            newsroom = StoreNewsroom(app.bot_data.unit_of_work, timezone=settings.timezone)
            operators = settings.operators
        readers = sandbox_readers(operators, settings.language)
        self.web = WebChat(
            self.api,
            readers,
            newsroom=newsroom,
            host=self.options.host,
            port=self.options.port,
        )
        await self._listen("web chat", "--port", self.options.port, self.web.start)
        self._stack.push_async_callback(self.web.stop)

    async def _start_bot(self, settings: Settings) -> NewsApp:
        await asyncio.to_thread(upgrade, settings.database_url)
        runtime = await self._stack.enter_async_context(running_bot(settings))
        app = self.app = runtime.app
        self.loaded = await self._load_samples(app, settings)
        await runtime.poll(poll_timeout=POLL_TIMEOUT)
        return app

    async def _load_samples(self, app: NewsApp, settings: Settings) -> list[Stored]:
        """Store the sample articles when the store holds none."""
        folder = self.options.samples
        if folder is None:
            return []
        async with app.bot_data.unit_of_work() as session:
            if await store.list_articles(session=session, limit=1):
                return []
        sources = await asyncio.to_thread(load_sources, [str(folder)])
        async with app.bot_data.unit_of_work() as session:
            return await store_sources(
                session=session,
                sources=sources,
                target=settings.section_target,
                now=app.bot_data.clock(),
            )

    async def stop(self) -> None:
        """Stop the web chat, the bot and the fake Bot API, in that order."""
        await self._stack.aclose()

    def banner(self) -> str:
        """What the sandbox prints once it is up: addresses, token, database, readers."""
        assert self.web is not None and self.settings is not None
        api_url = _client_url(self.api.url, self.options.host)
        lines = [f"newsbot sandbox: open {self.web.url} in a browser"]
        if not _is_loopback(self.options.host):
            lines.append("  note       no login: anyone who can reach this address can use it")
        if self.options.api_only:
            # The ids the web chat's readers use, so that one of them is that bot's editor.
            operators = ",".join(str(user) for user in sorted(self.settings.operators))
            lines += [
                f"  Bot API    {api_url}  (a Telegram lookalike; no bot runs here)",
                f"  token      {self.api.token}",
                f"  try it     NEWSBOT_API_URL={api_url} NEWSBOT_TOKEN={self.api.token} "
                f"NEWSBOT_OPERATORS={operators} newsbot run",
            ]
        else:
            url = make_url(self.settings.database_url).render_as_string(hide_password=True)
            stored = f"; stored {len(self.loaded)} sample articles" if self.loaded else ""
            lines += [
                f"  Bot API    {api_url}",
                f"  database   {url}{stored}",
                # The command line's default is newsbot.db: this is how to reach this store.
                f"  CLI        NEWSBOT_DATABASE_URL={cli_database_url(url)} newsbot articles",
            ]
        readers = ", ".join(
            f"{r.id} {r.name} ({r.language}{', operator' if r.operator else ''})"
            for r in self.web.readers.values()
            if not r.channel
        )
        lines.append(f"  readers    {readers}")
        if any(r.channel for r in self.web.readers.values()):
            lines.append(
                f"  channel    @{SANDBOX_CHANNEL_NAME}: /channels add @{SANDBOX_CHANNEL_NAME}"
            )
        lines.append("Press Ctrl-C to stop.")
        return "\n".join(lines)


async def serve(
    settings: Settings,
    options: SandboxOptions,
    *,
    out: TextIO = sys.stdout,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the sandbox until SIGINT or SIGTERM (or until ``stop`` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        # Turn Ctrl-C into an orderly stop instead of a cancellation mid-request.
        loop.add_signal_handler(number, stop.set)
    try:
        async with Sandbox(settings, options) as sandbox:
            print(sandbox.banner(), file=out, flush=True)
            await stop.wait()
            print("stopping…", file=out, flush=True)
    finally:
        for number in signals:
            loop.remove_signal_handler(number)


def run_sandbox(settings: Settings, options: SandboxOptions) -> None:
    """Run the sandbox in a new event loop until Ctrl-C."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, options))
