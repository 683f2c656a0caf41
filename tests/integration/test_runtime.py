"""running_bot: the one lifecycle of the bot, on every configured database."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import CallbackContext

from bot.ops.runtime import running_bot
from bot.sandbox.botapi.server import FakeBotApi
from bot.settings import Settings
from db import store
from db.session import unit_of_work
from tests.integration.bot_fixtures import TOKEN

THEN = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


def settings_for(api: FakeBotApi, database_url: str) -> Settings:
    """The bot on the fake Bot API and the test database."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        token=TOKEN,
        api_url=api.url,
        database_url=database_url,
        language="en",
    )


async def delivering(settings: Settings) -> bool:
    """Whether a new runtime on these settings takes the delivery lock within a few ticks."""
    async with running_bot(settings) as runtime:
        for _ in range(100):
            if runtime.scheduler.delivering:
                return True
            await asyncio.sleep(0.05)
    return False


async def test_a_failing_body_still_closes_the_bot_and_frees_the_delivery_lock(
    fake_api: FakeBotApi, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    settings = settings_for(fake_api, database_url)
    with pytest.raises(RuntimeError, match="the body failed"):
        async with running_bot(settings) as runtime:
            assert runtime.app.bot_data.services is runtime
            async with asyncio.timeout(5):
                while not runtime.scheduler.delivering:  # noqa: ASYNC110 (the tick takes it)
                    await asyncio.sleep(0.02)
            raise RuntimeError("the body failed")
    assert not runtime.app.running
    assert not runtime.scheduler.delivering
    # Another runtime (another replica, the next start) takes the lock the first one left.
    assert await delivering(settings)
    # The menus were published in each language on each start.
    assert len(fake_api.calls("setMyCommands")) == 2 * 3


async def test_handlers_stamp_times_with_the_runtime_clock(
    fake_api: FakeBotApi, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    settings = settings_for(fake_api, database_url)
    async with running_bot(settings, clock=lambda: THEN) as runtime:
        await runtime.poll(poll_timeout=1)
        fake_api.send_user_message(4242, "/start", language_code="en")
        await fake_api.wait_for_messages(4242, 1)
    async with unit_of_work(sessionmaker) as session:
        chat = await store.get_chat(session=session, chat_id=4242)
    assert chat is not None
    assert chat.joined_at == THEN


async def test_a_heartbeat_that_fires_while_the_bot_stops_starts_nothing(
    fake_api: FakeBotApi, database_url: str
) -> None:
    # The application stops taking tasks before its job queue stops (it first waits for the
    # updates in hand): a tick in between must not start a tick no one would await.
    async with running_bot(settings_for(fake_api, database_url)) as runtime:
        assert runtime.app.job_queue is not None
        (job,) = runtime.app.job_queue.get_jobs_by_name("broadcast-tick")
        context = CallbackContext.from_job(job, runtime.app)
    assert not runtime.app.running
    await job.callback(context)  # warnings are errors here: a task made now would be one
    assert not runtime.scheduler.ticking


async def test_what_lives_when_the_bot_starts_is_left_out_of_collections_until_it_stops(
    fake_api: FakeBotApi, database_url: str
) -> None:
    async with running_bot(settings_for(fake_api, database_url)):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
