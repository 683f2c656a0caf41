"""`newsbot ingest URL` against a hostile server: seconds and peak memory. Prints; asserts nothing.

Run: .venv/bin/python bench/ingest_bounds.py [--bomb-mib 1024] [--drip 5] [--deadline 30]
                                             [--entry-mb 15]

- gzip bomb: a body of about 1 KB per MiB that decompresses to --bomb-mib MiB of zeros.
- slow server: one byte every --drip seconds, forever; NEWSBOT_FETCH_TIMEOUT is --deadline.
- big feed entry: one poll of a feed file whose one entry is --entry-mb MB of text, by the bot's
  feed poller on a fresh SQLite file, while a timer measures how long the event loop stalls.

Each `newsbot` runs as its own process (NEWSBOT_FETCH_PRIVATE=true, as the server is local);
its peak is the maximum resident set size its parent reads with getrusage(RUSAGE_CHILDREN).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the hostile server lives with the tests that use it

from bot.newsroom.feeds import FeedPoller  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.session import create_engine, create_sessionmaker  # noqa: E402
from tests.integration.hostile_http import (  # noqa: E402
    HostileServer,
    Measured,
    gzip_bomb,
    measure_newsbot,
    start,
)


def report(label: str, result: Measured) -> None:
    """One line per case: exit status, seconds, peak MB and what newsbot said."""
    said = (result.stderr or result.stdout).strip().splitlines()
    print(
        f"{label}: exit {result.status} in {result.seconds:.1f} s, peak {result.peak_mb:.0f} MB"
        f" | {said[-1] if said else ''}"
    )


async def ingest(url: str, deadline: float, folder: Path) -> Measured:
    """`newsbot ingest URL` with fetching from 127.0.0.1 allowed."""
    env = {
        "NEWSBOT_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'bench.db'}",
        "NEWSBOT_FETCH_PRIVATE": "true",
        "NEWSBOT_FETCH_TIMEOUT": f"{deadline:g}",
    }
    return await measure_newsbot("ingest", url, env=env, cwd=folder)


def big_feed(megabytes: float) -> bytes:
    """An RSS feed with one entry of about `megabytes` MB of paragraphs."""
    paragraph = "<p>" + "The council met again about the river and its bridges. " * 12 + "</p>"
    body = paragraph * int(megabytes * 1_000_000 // len(paragraph))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Big</title>'
        "<link>https://big.example/</link><description>One big entry</description>"
        "<item><title>A very big entry</title><link>https://big.example/1</link>"
        f"<guid>urn:big:1</guid><description><![CDATA[{body}]]></description></item>"
        "<item><title>A small entry</title><link>https://big.example/2</link>"
        "<guid>urn:big:2</guid><description><![CDATA[<p>The ferry runs again from Monday, "
        "every hour between six and ten.</p>]]></description></item></channel></rss>"
    ).encode()


async def poll_big_entry(megabytes: float, folder: Path) -> None:
    """Poll a feed file with one huge entry; print the poll's time and the loop's worst stall."""
    path = folder / "big.xml"
    path.write_bytes(big_feed(megabytes))
    url = f"sqlite+aiosqlite:///{folder / 'feed.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    poller = FeedPoller(
        sessionmaker=create_sessionmaker(engine),
        sources=[str(path)],
        interval=timedelta(minutes=5),
        target=1200,
    )
    worst = 0.0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal worst
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            worst = max(worst, now - last - 0.01)
            last = now

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    try:
        pushed = await poller.poll_due()
    finally:
        elapsed = time.monotonic() - started
        done.set()
        await ticker
        await poller.close()
        await engine.dispose()
    print(
        f"feed entry of {path.stat().st_size / 1e6:.0f} MB: poll took {elapsed:.1f} s "
        f"({len(pushed)} pushed, the big entry refused), longest event-loop stall "
        f"{worst * 1000:.0f} ms"
    )


async def main(options: argparse.Namespace) -> None:
    server = HostileServer(drip_interval=options.drip)
    runner = await start(server)
    try:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            wire = len(gzip_bomb(options.bomb_mib))
            bomb = server.url(f"/bomb?mib={options.bomb_mib}")
            result = await ingest(bomb, options.deadline, folder)
            label = f"gzip bomb ({wire / 1024:.0f} KB sent, {options.bomb_mib} MiB decoded)"
            report(label, result)
            result = await ingest(server.url("/drip"), options.deadline, folder)
            report(
                f"slow server (1 byte every {options.drip:g} s, deadline {options.deadline:g} s)",
                result,
            )
            await poll_big_entry(options.entry_mb, folder)
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bomb-mib", type=int, default=1024)
    parser.add_argument("--drip", type=float, default=5.0, help="seconds between bytes")
    parser.add_argument("--deadline", type=float, default=30.0, help="NEWSBOT_FETCH_TIMEOUT")
    parser.add_argument("--entry-mb", type=float, default=15.0)
    asyncio.run(main(parser.parse_args()))
