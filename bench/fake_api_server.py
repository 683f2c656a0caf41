"""The fake Bot API in a process of its own, for benchmarks: serves until SIGTERM or SIGINT.

Prints its URL as the first line of stdout once it accepts connections, and on exit a line
"sendMessage: N" with the number of messages it stored. Chats are created on first use and flood
control stays off, so every well-formed sendMessage is answered 200.

Run: .venv/bin/python bench/fake_api_server.py [--port 0]   (token: $FAKE_API_TOKEN or default)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

from bot.sandbox.fake_api import DEFAULT_TOKEN, FakeBotApi


async def serve(host: str, port: int, token: str) -> None:
    """Start the fake API, print its URL, and stop it on SIGTERM/SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    api = FakeBotApi(token, host=host, port=port)
    api.disable_flood_control()  # already the default; a benchmark must never see a 429
    async with api:
        print(api.url, flush=True)
        await stop.wait()
        stored = sum(len(chat.messages) for chat in api.chats.values())
    print(f"sendMessage: {stored}", flush=True)


def main() -> None:
    """Parse the arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    # From the environment rather than argv, so the token is not in the process list.
    token = os.environ.get("FAKE_API_TOKEN", DEFAULT_TOKEN)
    asyncio.run(serve(args.host, args.port, token))


if __name__ == "__main__":
    main()
