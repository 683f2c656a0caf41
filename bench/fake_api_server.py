"""The fake Bot API in a process of its own, for benchmarks: serves until SIGTERM or SIGINT.

Prints its URL as the first line of stdout once it accepts connections, and on exit the lines
"sendMessage: N" (messages stored) and "refused: N" (sendMessage calls not stored), and for
photos "sendPhoto by url: N", "sendPhoto by file_id: N", "sendPhoto by upload: N". Chats are
created on first use. Flood control is off, so every well-formed sendMessage is answered 200,
unless --flood-control N enforces Telegram's limits with N sends per second overall. With
--print-sends, each sendMessage or sendPhoto is also printed as it is served, "sent CHAT_ID
UNIX_TIME" (bench/first_send.py times the first send of a broadcast by it).

Run: .venv/bin/python bench/fake_api_server.py [--port 0] [--flood-control 30]
     [--host-image URL=PATH]… [--print-sends]  (token: $FAKE_API_TOKEN or the default)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from bot.sandbox.botapi.server import DEFAULT_TOKEN, FakeBotApi


async def serve(
    host: str,
    port: int,
    token: str,
    flood_control: int | None = None,
    images: Mapping[str, bytes] | None = None,
    print_sends: bool = False,
) -> None:
    """Start the fake API, print its URL, and stop it on SIGTERM/SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    api = FakeBotApi(token, host=host, port=port)
    for url, data in (images or {}).items():
        api.host_image(url, data)
    if flood_control:
        # Telegram's limits: 1/s to a private chat, 20/min to a group, this many per second.
        api.enable_flood_control(global_per_second=flood_control)
    else:
        api.disable_flood_control()  # the default; a throughput benchmark must never see a 429
    async with api:
        print(api.url, flush=True)
        printing = asyncio.create_task(sends(api)) if print_sends else None
        await stop.wait()
        if printing is not None:
            printing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await printing
        stored = sum(len(chat.messages) for chat in api.chats.values())
        calls = len(api.calls("sendMessage")) + len(api.calls("sendPhoto"))
    print(f"sendMessage: {stored}", flush=True)
    print(f"refused: {calls - stored}", flush=True)
    for how in ("url", "file_id", "upload"):
        print(f"sendPhoto by {how}: {api.photos.sent_by[how]}", flush=True)


async def sends(api: FakeBotApi) -> None:
    """Print "sent CHAT_ID UNIX_TIME" for each message call, as soon as it has been served."""
    done = 0
    version = api.version
    while True:
        version = await api.wait_change(version, 3600)
        now = time.time()
        calls = api.requests[done:]
        done += len(calls)
        for call in calls:
            if call.method in ("sendMessage", "sendPhoto"):
                print(f"sent {call.params.get('chat_id')} {now:.6f}", flush=True)


def main() -> None:
    """Parse the arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--flood-control", type=int, default=None, help="answer 429 above this many sends/s"
    )
    parser.add_argument(
        "--host-image", action="append", default=[], help="URL=PATH: serve PATH at URL"
    )
    parser.add_argument(
        "--print-sends", action="store_true", help="print each send as it is served"
    )
    args = parser.parse_args()
    # From the environment rather than argv, so the token is not in the process list.
    token = os.environ.get("FAKE_API_TOKEN", DEFAULT_TOKEN)
    images = {}
    for image in args.host_image:
        url, _, path = image.partition("=")
        images[url] = Path(path).read_bytes()
    asyncio.run(serve(args.host, args.port, token, args.flood_control, images, args.print_sends))


if __name__ == "__main__":
    main()
