"""Publish → first send: how long after `newsbot publish` the first story card reaches Telegram.

Starts the fake Bot API in its own process (printing each send as it is served) and `newsbot run`
as another, against a fresh database holding one article and R subscribed readers; then runs
`newsbot publish ID` as a process of its own N times, one after the other, each once the last
broadcast has been sent whole (and a second later: one message a second to a chat). For each
publish it takes the time from the publish process's start, from its answer ("broadcast #N: …",
printed unbuffered right after its commit: the bot's own share), and from the process's exit, to
the first send the fake API served; prints p50 and max of each, and of the publish process's
own run time, per database. A first send before the publish process has exited (after its
commit it checks that a bot delivers) shows as a negative "from exit".

Run: .venv/bin/python bench/first_send.py [--publishes 20] [--readers 20]
     [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test ...] [--bot-source DIR]
`--bot-source` runs `newsbot run` from another checkout (the commit before a change, say), for
a comparison; the publishes always come from this one. PostgreSQL databases are wiped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import aiohttp
from fanout import SERVER, TOKEN, backend, fresh_database, seed

from db.session import create_engine, create_sessionmaker

PACE_GAP = 1.1  # seconds between a round's last send and the next publish: 1 message/s a chat
ROUND_TIMEOUT = 60.0


@dataclass(frozen=True)
class Round:
    """One publish: seconds from its start, its commit and its exit to the first send."""

    from_start: float
    from_commit: float
    from_exit: float
    publish_run: float


class SendClock:
    """bench/fake_api_server.py --print-sends in a child process; the time of every send."""

    def __init__(self) -> None:
        self.url = ""
        self.sends: list[float] = []
        self._arrived = asyncio.Event()
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SERVER),
            "--print-sends",
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "FAKE_API_TOKEN": TOKEN},
        )
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), timeout=30)
        if not line.startswith(b"http"):
            raise RuntimeError("the fake API did not start")
        self.url = line.decode().strip()
        self._reader = asyncio.create_task(self._read(self._process.stdout))
        return self

    async def _read(self, stdout: asyncio.StreamReader) -> None:
        # Read all along: a pipe left unread would stall the server once full.
        async for line in stdout:
            word, _, rest = line.decode().partition(" ")
            if word == "sent":
                self.sends.append(float(rest.split()[1]))
                self._arrived.set()

    async def wait_for(self, count: int) -> None:
        """Wait until `count` sends have been served in all."""
        async with asyncio.timeout(ROUND_TIMEOUT):
            while len(self.sends) < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.send_signal(signal.SIGTERM)
            await self._process.wait()
        if self._reader is not None:
            await self._reader


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def bot_environment(database_url: str, api_url: str, extra: dict[str, str]) -> dict[str, str]:
    """This environment without NEWSBOT_* settings, plus the given ones."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSBOT_")}
    env.update({"NEWSBOT_DATABASE_URL": database_url, "NEWSBOT_API_URL": api_url, **extra})
    return env


async def wait_delivering(health_url: str, bot: asyncio.subprocess.Process) -> None:
    """Wait until the bot's /healthz says that it delivers."""
    async with asyncio.timeout(60), aiohttp.ClientSession() as http:
        while True:
            if bot.returncode is not None:
                raise RuntimeError(f"newsbot run exited with {bot.returncode}")
            try:
                async with http.get(health_url) as response:
                    body = json.loads(await response.text())
                    if body.get("delivering") is True:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


async def publish(
    env: dict[str, str], article_id: int, folder: Path
) -> tuple[float, float, float]:
    """Run `newsbot publish ID` as a process: wall-clock times of its start, answer and exit."""
    started = time.time()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "publish",
        str(article_id),
        env={**env, "PYTHONUNBUFFERED": "1"},  # its answer leaves when printed, after the commit
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    answer = await process.stdout.readline()
    answered = time.time()
    stderr = await process.stderr.read()
    await process.wait()
    ended = time.time()
    if process.returncode != 0 or not answer.startswith(b"broadcast #"):
        raise RuntimeError(f"newsbot publish failed: {answer.decode()}{stderr.decode()}")
    return started, answered, ended


async def measure(
    database_url: str, publishes: int, readers: int, bot_source: Path | None
) -> list[Round]:
    """Start the fake API and the bot on a fresh database; publish `publishes` times."""
    await fresh_database(database_url)
    engine = create_engine(database_url)
    try:
        article_id = await seed(create_sessionmaker(engine), readers)
    finally:
        await engine.dispose()
    return await publish_rounds(database_url, article_id, publishes, readers, bot_source)


async def publish_rounds(
    database_url: str,
    article_id: int,
    publishes: int,
    readers: int,
    bot_source: Path | None,
) -> list[Round]:
    """Start the fake API and the bot; publish `publishes` times, one round at a time."""
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)  # away from the checkout's .env
        async with SendClock() as clock:
            port = free_port()
            bot_env = bot_environment(
                database_url,
                clock.url,
                {
                    "NEWSBOT_TOKEN": TOKEN,
                    "NEWSBOT_LOG_LEVEL": "WARNING",
                    "NEWSBOT_METRICS_LISTEN": f"127.0.0.1:{port}",
                },
            )
            if bot_source is not None:
                bot_env["PYTHONPATH"] = str(bot_source)
            with (folder / "bot.log").open("wb") as log:
                bot = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "run",
                    env=bot_env,
                    cwd=folder,
                    stdout=log,
                    stderr=log,
                )
            try:
                await wait_delivering(f"http://127.0.0.1:{port}/healthz", bot)
                publish_env = bot_environment(database_url, clock.url, {})
                for number in range(publishes):
                    before = len(clock.sends)
                    started, answered, ended = await publish(publish_env, article_id, folder)
                    await clock.wait_for(before + readers)
                    first = min(clock.sends[before:])
                    rounds.append(
                        Round(first - started, first - answered, first - ended, ended - started)
                    )
                    print(
                        f"publish {number + 1}: first send {first - started:.3f} s after its "
                        f"start, {first - answered:.3f} s after its commit, "
                        f"{first - ended:+.3f} s after its exit",
                        file=sys.stderr,
                        flush=True,
                    )
                    await asyncio.sleep(PACE_GAP)
            finally:
                bot.send_signal(signal.SIGTERM)
                await bot.wait()
    return rounds


def print_rows(rows: Sequence[tuple[str, list[Round]]]) -> None:
    """One line per database: p50 and max of each figure, in milliseconds."""

    def ms(values: list[float]) -> str:
        return f"p50 {statistics.median(values) * 1000:.0f} ms max {max(values) * 1000:.0f} ms"

    for name, rounds in rows:
        print(
            f"first send, {name}, {len(rounds)} publishes: "
            f"from publish start {ms([r.from_start for r in rounds])}; "
            f"from its commit {ms([r.from_commit for r in rounds])}; "
            f"from publish exit {ms([r.from_exit for r in rounds])}; "
            f"publish runs {ms([r.publish_run for r in rounds])}"
        )


def main() -> None:
    """Parse the arguments, measure each database, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--publishes", type=int, default=20, help="per database (default 20)")
    parser.add_argument("--readers", type=int, default=20, help="subscribed chats (default 20)")
    parser.add_argument(
        "--database-url",
        action="append",
        default=None,
        help="repeatable (default: a temporary SQLite file); PostgreSQL ones are wiped",
    )
    parser.add_argument("--bot-source", type=Path, default=None, help="run the bot from DIR")
    args = parser.parse_args()

    async def run(urls: list[str]) -> list[tuple[str, list[Round]]]:
        rows = []
        for url in urls:
            rounds = await measure(url, args.publishes, args.readers, args.bot_source)
            rows.append((backend(url), rounds))
        return rows

    with tempfile.TemporaryDirectory() as folder:
        default = [f"sqlite+aiosqlite:///{Path(folder) / 'first_send.db'}"]
        rows = asyncio.run(run(args.database_url or default))
    print_rows(rows)


if __name__ == "__main__":
    main()
