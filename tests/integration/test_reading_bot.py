"""ReadingBot's getUpdates on the fake Bot API: PTB's long poll, updates read one by one."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import pytest

from bot.delivery.request import AiohttpRequest
from bot.sandbox.botapi.server import FakeBotApi
from bot.telegram.updates import ReadingBot

USER = 1001


@pytest.fixture
async def reading_bot(fake_api: FakeBotApi) -> AsyncIterator[ReadingBot]:
    bot = ReadingBot(
        fake_api.token,
        base_url=f"{fake_api.url}/bot",
        get_updates_request=AiohttpRequest(connection_pool_size=1, read_timeout=0.5),
    )
    async with bot:
        yield bot


async def test_a_long_poll_waits_longer_than_the_read_timeout(
    fake_api: FakeBotApi, reading_bot: ReadingBot
) -> None:
    started = time.monotonic()
    assert await reading_bot.get_updates(timeout=1.5) == ()
    assert 1.4 <= time.monotonic() - started < 3


async def test_unreadable_updates_are_skipped_logged_and_confirmed(
    fake_api: FakeBotApi, reading_bot: ReadingBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.telegram.updates")
    first = fake_api.send_user_message(USER, "one")
    bad = fake_api.send_unreadable_update(USER)
    second = fake_api.send_user_message(USER, "two")
    last_bad = fake_api.send_unreadable_update(USER)
    taken = await reading_bot.get_updates()
    assert [u.update_id for u in taken] == [first, second]
    assert [m.text for u in taken if (m := u.message)] == ["one", "two"]
    # The caller confirms past the last update it got; the bot confirms past the skipped one.
    assert await reading_bot.get_updates(offset=second + 1, timeout=0) == ()
    assert len(fake_api.updates) == 0
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith(f"update {bad} (message) could not be read and is skipped")
    assert "MessageEntity" in lines[0] and "date_time" not in lines[0]
    assert lines[1].startswith(f"update {last_bad} (message)")


async def test_a_batch_of_only_unreadable_updates_does_not_spin(
    fake_api: FakeBotApi, reading_bot: ReadingBot
) -> None:
    fake_api.send_unreadable_update(USER)
    assert await reading_bot.get_updates() == ()
    # No offset from the caller (it got nothing): the next poll still moves past it and waits.
    started = time.monotonic()
    poll = asyncio.create_task(reading_bot.get_updates(timeout=1))
    await fake_api.wait_for(lambda: len(fake_api.calls("getUpdates")) == 2)
    good = fake_api.send_user_message(USER, "after")
    assert [u.update_id for u in await poll] == [good]
    assert time.monotonic() - started < 1.5
