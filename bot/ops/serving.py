"""Servers a process starts: the start/stop lifecycle, and an aiohttp application on an address."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from aiohttp import web

from bot.ops.addresses import http_url


class Service(abc.ABC):
    """Started and stopped by hand, or by `async with`."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Start serving."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop serving; nothing to do when not started."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


@dataclass(frozen=True, slots=True)
class Bound:
    """An application being served, and the address it was bound to."""

    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        """http://host:port of the bound address."""
        return http_url(self.host, self.port)


async def bind(app: web.Application, host: str, port: int, *, shutdown_timeout: float) -> Bound:
    """Serve `app` on host:port (port 0: any free one); nothing is left open if binding fails."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    return Bound(runner, bound_host, bound_port)
