"""`newsbot run` as a real process, for tests of signals, logs and several processes at once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.newsroom.clock import utcnow
from bot.sandbox.botapi.server import FakeBotApi
from db import broadcasts
from db.session import unit_of_work
from tests.integration.delivery_fixtures import DeliveryWorld


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class BotProcess:
    """One `python -m bot run`; its output goes to a file, so a chatty bot never blocks."""

    process: asyncio.subprocess.Process
    log_path: Path
    health_url: str | None

    @classmethod
    async def start(
        cls,
        api: FakeBotApi,
        database_url: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        health_port: int | None = None,
    ) -> BotProcess:
        """Start the bot against the fake API; `health_port` is where /healthz answers."""
        variables = {
            key: value for key, value in os.environ.items() if not key.startswith("NEWSBOT_")
        }
        variables.update(
            {
                "NEWSBOT_TOKEN": api.token,
                "NEWSBOT_API_URL": api.url,
                "NEWSBOT_DATABASE_URL": database_url,
                "NEWSBOT_LOG_FORMAT": "json",
                **(env or {}),
            }
        )
        with log_path.open("ab") as output:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=variables,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                cwd=log_path.parent,  # away from the checkout's own .env
            )
        health = None if health_port is None else f"http://127.0.0.1:{health_port}/healthz"
        return cls(process, log_path, health)

    async def health(self) -> dict[str, object] | None:
        """The /healthz answer, or None while nothing listens."""
        assert self.health_url is not None
        try:
            async with aiohttp.ClientSession() as http, http.get(self.health_url) as response:
                body: dict[str, object] = await response.json()
                return body
        except aiohttp.ClientConnectionError:
            return None

    async def wait_healthy(self, *, delivering: bool | None = None, within: float = 20) -> None:
        """Wait until /healthz says ok (and, if given, whether this process delivers)."""
        async with asyncio.timeout(within):
            while True:
                assert self.process.returncode is None, self.output()[-3000:]
                body = await self.health() or {}
                wanted = delivering is None or body.get("delivering") is delivering
                if body.get("status") == "ok" and wanted:
                    return
                await asyncio.sleep(0.05)

    async def terminate(self, within: float = 15) -> float:
        """SIGTERM; how many seconds the process took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.process.wait(), within)
        return time.monotonic() - started

    async def kill(self) -> None:
        """SIGKILL: no chance to clean up."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    def output(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


async def broadcast_status(
    sessionmaker: async_sessionmaker[AsyncSession], broadcast_id: int
) -> str:
    """The broadcast's status as stored."""
    async with unit_of_work(sessionmaker) as session:
        row = await broadcasts.get_broadcast(session=session, broadcast_id=broadcast_id)
    assert row is not None
    return row.status


async def wait_for_status(
    sessionmaker: async_sessionmaker[AsyncSession],
    broadcast_id: int,
    status: str,
    within: float = 60,
) -> None:
    """Poll the database until the broadcast has `status`."""
    async with asyncio.timeout(within):
        # The bot runs in another process: the database is the only thing to watch.
        while await broadcast_status(sessionmaker, broadcast_id) != status:  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def queue_broadcast(
    sessionmaker: async_sessionmaker[AsyncSession], api: FakeBotApi, readers: int
) -> tuple[list[int], int]:
    """Subscribe readers and create a broadcast that is due now."""
    helpers = DeliveryWorld(sessionmaker, api, None, None, None)  # type: ignore[arg-type]
    chat_ids = await helpers.add_readers(range(1, readers + 1))
    article_id = await helpers.add_article()
    async with unit_of_work(sessionmaker) as session:
        row = await broadcasts.create_broadcast(
            session=session, article_id=article_id, due_at=datetime.now(UTC), now=utcnow()
        )
    return chat_ids, row.id
