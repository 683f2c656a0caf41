"""A hostile web server on 127.0.0.1 for the fetch tests and the ingest bench.

Routes: `/bomb?mib=N` (a gzip body of about 1 KB per MiB that expands to N MiB of zeros),
`/drip` (headers, then one byte every `drip_interval` seconds), `/redirect/N`
(a chain of N redirects ending at the feed), `/to?url=U` (a redirect to U), `/feed.xml` (a small
valid RSS feed) and `/article.html`. Every request is counted by path. `measure_newsbot` runs
the command line and reports its time and peak memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from aiohttp import web

MIB = 2**20
DRIP_LIMIT = 600  # bytes: the drip ends by itself even if nobody hangs up

FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Hostile news</title><link>http://127.0.0.1/</link>
<description>Stories from a test server</description>
<item><title>The harbour opens a new ferry line</title>
<link>https://news.example/ferry</link><guid isPermaLink="false">urn:hostile:ferry</guid>
<description><![CDATA[<p>A new ferry line links the harbour to the islands from Monday.</p>
<p>Boats leave every hour between six in the morning and ten at night.</p>]]></description>
</item></channel></rss>
"""
ARTICLE = b"""<!doctype html><html><head><title>Internal page</title></head><body><article>
<h1>Internal page</h1><p>This page lives on an internal address and only there.</p>
<p>It must never become a story that is pushed to readers.</p></article></body></html>
"""


@cache
def gzip_bomb(mebibytes: int) -> bytes:
    """A valid gzip stream of `mebibytes` MiB of zeros, about 1 KB per MiB."""
    zeros = bytes(MIB)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    # After a full flush the compressor starts afresh, so every MiB compresses to the same
    # bytes: one block repeated makes a bomb of any size in no time.
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    last = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (mebibytes * MIB) & 0xFFFFFFFF)
    return header + block * mebibytes + last + trailer


@dataclass
class HostileServer:
    """The server's state: its address, how slow the drip is, and the requests it got."""

    base: str = ""
    drip_interval: float = 1.0
    hits: Counter[str] = field(default_factory=Counter)

    def url(self, path: str) -> str:
        """The absolute URL of a path on this server."""
        return f"{self.base}{path}"

    def app(self) -> web.Application:
        """The aiohttp application serving the routes."""
        app = web.Application()
        app.router.add_get("/bomb", self.bomb)
        app.router.add_get("/drip", self.drip)
        app.router.add_get("/redirect/{hops}", self.redirect)
        app.router.add_get("/to", self.to)
        app.router.add_get("/feed.xml", self.feed)
        app.router.add_get("/article.html", self.article)
        return app

    async def bomb(self, request: web.Request) -> web.Response:
        """A small gzip body that expands to `mib` MiB of zeros."""
        self.hits["/bomb"] += 1
        body = gzip_bomb(int(request.query.get("mib", "64")))
        return web.Response(
            body=body,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"},
        )

    async def drip(self, request: web.Request) -> web.StreamResponse:
        """Headers at once, then one byte every drip_interval seconds."""
        self.hits["/drip"] += 1
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        try:
            for _ in range(DRIP_LIMIT):
                await response.write(b" ")
                await asyncio.sleep(self.drip_interval)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up, as it should
        return response

    async def redirect(self, request: web.Request) -> web.Response:
        """302 to /redirect/N-1, and /redirect/0 to the feed."""
        self.hits["/redirect"] += 1
        hops = int(request.match_info["hops"])
        target = f"/redirect/{hops - 1}" if hops > 1 else "/feed.xml"
        raise web.HTTPFound(target)

    async def to(self, request: web.Request) -> web.Response:
        """302 to the URL in the query."""
        self.hits["/to"] += 1
        raise web.HTTPFound(request.query["url"])

    async def feed(self, request: web.Request) -> web.Response:
        """A small valid RSS feed."""
        self.hits["/feed.xml"] += 1
        return web.Response(body=FEED, content_type="application/rss+xml")

    async def article(self, request: web.Request) -> web.Response:
        """A small HTML article."""
        self.hits["/article.html"] += 1
        return web.Response(body=ARTICLE, content_type="text/html")


async def start(server: HostileServer, port: int = 0) -> web.AppRunner:
    """Serve on 127.0.0.1 (any free port by default); set server.base; return the runner."""
    runner = web.AppRunner(server.app(), shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    host, bound = runner.addresses[0][:2]
    server.base = f"http://{host}:{bound}"
    return runner


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    """The hostile server, dripping one byte a second."""
    server = HostileServer(drip_interval=1.0)
    runner = await start(server)
    try:
        yield server
    finally:
        await runner.cleanup()


@dataclass(frozen=True)
class Measured:
    """How a `newsbot` command ended, how long it took and its peak resident memory."""

    status: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


# Run in a process of its own, so that RUSAGE_CHILDREN covers `newsbot` alone, not every
# child the caller (a test run, say) has had.
_MEASURE = """
import json, resource, subprocess, sys, time
started = time.monotonic()
result = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=600)
print(json.dumps({
    "status": result.returncode, "stdout": result.stdout, "stderr": result.stderr,
    "seconds": time.monotonic() - started,
    "peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
}))
"""


async def measure_newsbot(*args: str, env: Mapping[str, str], cwd: Path) -> Measured:
    """Run `python -m bot ARGS` with only `env`'s NEWSBOT_ settings; time and peak memory."""
    variables = {key: value for key, value in os.environ.items() if not key.startswith("NEWSBOT_")}
    variables.update(env)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _MEASURE,
        sys.executable,
        "-m",
        "bot",
        *args,
        env=variables,
        cwd=cwd,  # away from the checkout's own .env
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    report = json.loads(output)
    return Measured(
        status=report["status"],
        stdout=report["stdout"],
        stderr=report["stderr"],
        seconds=report["seconds"],
        peak_mb=report["peak_kib"] / 1024,
    )
