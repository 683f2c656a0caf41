"""What `newsbot run` says as it starts: one summary line, a warning without operators, and a
taken port named by its setting."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from bot.ops.runner import ListenError, serve
from bot.sandbox.botapi.server import FakeBotApi
from db.migrate import upgrade
from tests.integration.test_webhook import settings_for


async def test_the_start_up_line_and_the_missing_operators_warning(
    fake_api: FakeBotApi, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await asyncio.to_thread(upgrade, database_url)
    url = database_url.replace("postgres@", "postgres:hunter2@")
    settings = settings_for(fake_api, url, feeds=("a.xml", "b.xml"))
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="bot.ops.runner")
    task = asyncio.create_task(serve(settings, stop))
    try:
        polls = len(fake_api.calls("getUpdates"))
        await fake_api.wait_for(
            lambda: len(fake_api.calls("getUpdates")) > polls, description="a poll"
        )
        await fake_api.wait_for(
            lambda: any("newsbot started" in r.message for r in caplog.records),
            description="the start-up line",
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    (line,) = [r.message for r in caplog.records if r.message.startswith("newsbot started")]
    assert line.startswith(f"newsbot started: bot @{fake_api.bot_username}, database ")
    assert ", polling, 0 operators, 2 feeds, rate 30/s" in line
    assert "hunter2" not in line
    (warning,) = [r for r in caplog.records if "NEWSBOT_OPERATORS is empty" in r.message]
    assert warning.levelno == logging.WARNING


async def test_a_taken_metrics_port_names_its_setting(
    fake_api: FakeBotApi, database_url: str
) -> None:
    await asyncio.to_thread(upgrade, database_url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = settings_for(
            fake_api,
            database_url,
            operators=frozenset({7}),
            metrics_listen=f"127.0.0.1:{port}",
        )
        with pytest.raises(ListenError) as raised:
            await asyncio.wait_for(serve(settings, asyncio.Event()), 30)
    assert str(raised.value) == (
        f"cannot listen on 127.0.0.1:{port} (address already in use); "
        "set NEWSBOT_METRICS_LISTEN to a free address"
    )
