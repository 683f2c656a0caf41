"""What one update python-telegram-bot cannot read does to a polling `newsbot run`. Prints a table.

The bot runs as its own process against the fake Bot API (in this process) on a fresh SQLite
file, which `run` migrates. Once it polls, the fake queues an unreadable update and then a
reader's /start; after --seconds the bot gets SIGTERM. Printed: getUpdates calls in that time,
the log's size, whether the /start was answered, the exit status and how long the stop took.

Run: .venv/bin/python bench/unreadable_update.py [--seconds 10] [--checkout PATH]
(--checkout runs the bot's code from another checkout of newsbot, e.g. an older one, with
this checkout's fake Bot API.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from bot.sandbox.botapi.server import FakeBotApi

READER = 4242


async def measure(seconds: float, checkout: Path | None) -> list[tuple[str, object]]:
    """Run the bot through one unreadable update; the figures."""
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite+aiosqlite:///{Path(folder) / 'newsbot.db'}"
        log_path = Path(folder) / "bot.log"
        async with FakeBotApi() as api:
            env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
            env.update(
                NEWSBOT_TOKEN=api.token,
                NEWSBOT_API_URL=api.url,
                NEWSBOT_DATABASE_URL=database_url,
                NEWSBOT_LOG_FORMAT="json",
            )
            if checkout is not None:
                env["PYTHONPATH"] = str(checkout)
            with log_path.open("wb") as output:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "run",
                    env=env,
                    cwd=folder,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=output,
                    stderr=output,
                )
            try:
                await api.wait_for(lambda: api.calls("getUpdates"), timeout=30)
                polls = len(api.calls("getUpdates"))
                api.send_unreadable_update(READER + 1)
                api.send_user_message(READER, "/start")
                await asyncio.sleep(seconds)
                polled = len(api.calls("getUpdates")) - polls
                answered = len(api.messages(READER))
                started = time.monotonic()
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 30)
                stop = time.monotonic() - started
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        log = log_path.read_bytes()
    return [
        ("seconds after the update", seconds),
        ("getUpdates calls", polled),
        ("log bytes", len(log)),
        ("log lines", log.count(b"\n")),
        ("/start answered", answered),
        ("exit status after SIGTERM", process.returncode),
        ("stop took (s)", f"{stop:.2f}"),
    ]


def main() -> None:
    """Parse the options, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--checkout", type=Path, default=None)
    options = parser.parse_args()
    checkout = options.checkout.resolve() if options.checkout else None
    rows = asyncio.run(measure(options.seconds, checkout))
    width = max(len(name) for name, _ in rows)
    print(f"bot code: {options.checkout or 'this checkout'}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
