"""SIGTERM and logs of a real `newsbot run` process against the fake Bot API in this test.

SIGTERM in the middle of a broadcast: the process exits within 10 s, every message it sent is
recorded as sent, nothing is left claimed, and a restart finishes the broadcast with no reader
getting the story twice. Then a full webhook run's output is searched for the secrets.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ops.runner import SHUTDOWN_BUDGET
from bot.sandbox.botapi.server import FakeBotApi
from db import broadcasts
from db.session import unit_of_work
from tests.integration.processes import (
    BotProcess,
    broadcast_status,
    free_port,
    queue_broadcast,
    wait_for_status,
)

TOKEN = "626262626:AAHsecret-part-of-the-token_xyz"
SECRET = "hook-secret_Zq7"
READERS = 300  # at Telegram's free 30/s, ten seconds of sending


@pytest.fixture
async def term_api() -> AsyncIterator[FakeBotApi]:
    """The fake Bot API the bot process talks to."""
    async with FakeBotApi(token=TOKEN) as api:
        yield api


async def test_sigterm_mid_broadcast_records_where_it_stopped(
    term_api: FakeBotApi,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    readers, broadcast_id = await queue_broadcast(sessionmaker, term_api, READERS)
    first = await BotProcess.start(term_api, database_url, tmp_path / "first.log")
    try:
        await term_api.wait_for(lambda: len(term_api.timeline) >= 60, timeout=30)
        took = await first.terminate()
    finally:
        await first.kill()
    assert first.process.returncode == 0, first.output()[-3000:]
    assert took < SHUTDOWN_BUDGET, f"took {took:.1f} s to stop"

    sent = Counter(chat_id for _, chat_id, _ in term_api.timeline)
    assert len(sent) < READERS, "the broadcast finished before the signal"
    async with unit_of_work(sessionmaker) as session:
        progress = await broadcasts.broadcast_progress(session=session, broadcast_id=broadcast_id)
    assert progress is not None
    # Every message that left was recorded, nothing is left half-claimed, the rest waits.
    assert progress.sent == len(sent)
    assert progress.sending == 0
    assert progress.queued == READERS - len(sent)
    assert await broadcast_status(sessionmaker, broadcast_id) == "running"
    lines = [json.loads(line) for line in first.output().splitlines() if line.strip()]
    assert any(line.get("broadcast_id") == broadcast_id for line in lines)

    second = await BotProcess.start(term_api, database_url, tmp_path / "second.log")
    try:
        await wait_for_status(sessionmaker, broadcast_id, "done")
        await second.terminate()
    finally:
        await second.kill()
    assert second.process.returncode == 0, second.output()[-3000:]
    copies = Counter(chat_id for _, chat_id, _ in term_api.timeline)
    assert set(copies) == set(readers)
    # A graceful stop repeats nothing.
    assert set(copies.values()) == {1}
    print(f"SIGTERM after {len(sent)} of {READERS} sent: exited in {took:.2f} s; no repeats")


async def test_no_log_line_shows_the_token_or_the_webhook_secret(
    term_api: FakeBotApi,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    readers, broadcast_id = await queue_broadcast(sessionmaker, term_api, 5)
    term_api.block_chat(readers[0])
    term_api.fail_next("sendMessage", 1, status=500, description="Internal Server Error")
    port = free_port()
    bot = await BotProcess.start(
        term_api,
        database_url,
        tmp_path / "bot.log",
        env={
            "NEWSBOT_WEBHOOK_URL": "https://news.example.org/hook",
            "NEWSBOT_WEBHOOK_SECRET": SECRET,
            "NEWSBOT_LISTEN": f"127.0.0.1:{port}",
            "NEWSBOT_LOG_LEVEL": "DEBUG",
        },
        health_port=port,
    )
    try:
        await bot.wait_healthy()
        await wait_for_status(sessionmaker, broadcast_id, "done", within=30)
        term_api.send_user_message(900, "/start")
        (update,) = term_api.updates.peek(1)
        async with aiohttp.ClientSession() as http:
            for secret in ("wrong", SECRET):
                async with http.post(
                    f"http://127.0.0.1:{port}/hook",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": secret},
                ) as response:
                    assert response.status == (200 if secret == SECRET else 403)
        await term_api.wait_for_messages(900, 1)
        await bot.terminate()
    finally:
        await bot.kill()
    output = bot.output()
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    # The run did log what matters, tagged with its update and broadcast.
    assert any("refused a webhook request" in line["message"] for line in lines)
    assert any(line.get("update_id") == update["update_id"] for line in lines)
    assert any(line.get("broadcast_id") == broadcast_id for line in lines)
    token_secret = TOKEN.split(":", 1)[1]
    for secret in (TOKEN, quote(TOKEN, safe=""), token_secret, SECRET):
        assert secret not in output, f"{secret!r} appears in the log"
