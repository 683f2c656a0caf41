"""What every handler and job shares: the running bot's services, handed over all at once."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.delivery.pacing import Pace
from bot.newsroom.clock import Clock
from bot.settings import Settings
from db.session import unit_of_work

if TYPE_CHECKING:
    from bot.delivery.scheduler import BroadcastScheduler
    from bot.ops.metrics import Metrics


@dataclass(frozen=True, slots=True)
class Services:
    """The running bot's shared parts, all open; none is ever missing."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    scheduler: BroadcastScheduler
    metrics: Metrics
    # Every "now" stamped or compared comes from here, so tests can move time by hand.
    clock: Clock

    def unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One session for one update: commits when the block succeeds."""
        return unit_of_work(self.sessionmaker)


class BotData:
    """PTB creates it empty; `running_bot` hands it the services before the first update."""

    __slots__ = ("_services",)

    def __init__(self) -> None:
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        """The running bot's services."""
        if self._services is None:
            raise RuntimeError("the bot is not running (open it with bot.ops.runtime.running_bot)")
        return self._services

    @services.setter
    def services(self, services: Services) -> None:
        self._services = services

    @property
    def settings(self) -> Settings:
        """The settings the bot runs with."""
        return self.services.settings

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """The database's session factory."""
        return self.services.sessionmaker

    @property
    def scheduler(self) -> BroadcastScheduler:
        """The broadcast scheduler (and, in the process holding the lock, the deliverer)."""
        return self.services.scheduler

    @property
    def metrics(self) -> Metrics:
        """The process's metrics."""
        return self.services.metrics

    @property
    def clock(self) -> Clock:
        """The bot's clock."""
        return self.services.clock

    def unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One session for one update: commits when the block succeeds."""
        return self.services.unit_of_work()


Context = CallbackContext[ExtBot[Pace], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = ContextTypes(bot_data=BotData)
