"""Typed shared state of the Application, opened in post_init and closed in post_shutdown."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.delivery.pacing import Pace
from bot.settings import Settings
from db.session import unit_of_work

if TYPE_CHECKING:
    from bot.delivery.scheduler import BroadcastScheduler
    from bot.newsroom.feeds import FeedPoller
    from bot.ops.metrics import Metrics


def utcnow() -> datetime:
    """The wall clock, aware."""
    return datetime.now(UTC)


@dataclass
class BotData:
    """What every handler shares; PTB creates it empty, the wiring fills it in."""

    settings: Settings | None = None
    engine: AsyncEngine | None = None
    sessionmaker: async_sessionmaker[AsyncSession] | None = None
    scheduler: BroadcastScheduler | None = None
    feeds: FeedPoller | None = None
    metrics: Metrics | None = None
    # Every "now" of scheduling comes from here, so tests can move time by hand.
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def config(self) -> Settings:
        """The settings; set when the Application is built."""
        if self.settings is None:
            raise RuntimeError("the Application was built without settings")
        return self.settings

    def unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One session for one update: commits when the block succeeds."""
        if self.sessionmaker is None:
            raise RuntimeError("the database is not open (post_init has not run)")
        return unit_of_work(self.sessionmaker)


Context = CallbackContext[ExtBot[Pace], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = ContextTypes(bot_data=BotData)
