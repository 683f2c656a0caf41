"""What every handler and job shares: the running bot's services, handed over all at once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import ApplicationHandlerStop, CallbackContext, ContextTypes, ExtBot

from bot.delivery.pacing import Pace
from bot.newsroom.clock import Clock
from bot.settings import Settings
from db import updates
from db.session import unit_of_work, writer_turn

if TYPE_CHECKING:
    from bot.delivery.scheduler import BroadcastScheduler
    from bot.ops.metrics import Metrics


log = logging.getLogger(__name__)


@dataclass(slots=True)
class PendingUpdate:
    """An update whose id is to be remembered by the first unit of work its handler opens."""

    update_id: int
    now: datetime
    # Set while a unit of work that writes the id is open or once it committed; cleared when
    # that unit of work rolls back, so that a later one (or the last resort) writes it.
    taken: bool = False


# The update being handled in this task, when its id waits for the handler's unit of work.
# Mutable on purpose: a task the handler starts sees the same marker, so the id is written once.
PENDING_UPDATE: ContextVar[PendingUpdate | None] = ContextVar("pending_update", default=None)


@asynccontextmanager
async def _handler_unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A unit of work of the bot's handlers and jobs, taking its turn among them on SQLite
    (`writer_turn`); the first one of an update with a pending id also remembers that id, in
    the same transaction: one commit per button press instead of two. A repeat stops the
    update here, before the handler has read or written anything (its transaction is rolled
    back)."""
    pending = PENDING_UPDATE.get()
    claimed = pending is not None and not pending.taken
    try:
        async with writer_turn(sessionmaker), unit_of_work(sessionmaker) as session:
            if pending is not None and claimed:
                pending.taken = True
                first = await updates.remember_update(
                    session=session, update_id=pending.update_id, now=pending.now
                )
                if not first:
                    claimed = False  # recorded before: nothing is left to write
                    PENDING_UPDATE.set(None)
                    log.info("update %s was taken before; skipped", pending.update_id)
                    raise ApplicationHandlerStop
            yield session
    except BaseException:
        if pending is not None and claimed:
            pending.taken = False
        raise


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
        """One session for one update: commits when the block succeeds.

        The first one an update's handler opens also remembers the update's id, when
        `skip_repeats` left it pending (see PENDING_UPDATE).
        """
        return _handler_unit_of_work(self.sessionmaker)


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
