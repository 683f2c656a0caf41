"""SQLite's WAL checkpoints: the bot's commits leave them to its checkpointer (SQLite files only).

A commit that checkpoints copies the log's pages into the database file before it returns, so
the file's size shows whether it did.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.ops.runtime import running_bot
from bot.sandbox.botapi.server import FakeBotApi
from db.checkpoints import Checkpointer, checkpoint
from db.migrate import upgrade
from db.session import create_engine
from tests.integration.test_runtime import settings_for

PAGES = 2_000  # twice what SQLite's default lets the log hold before a commit checkpoints
BLOB = b"x" * 4000  # about a page each


async def write_pages(connection: AsyncConnection) -> None:
    """About PAGES pages into a table of their own, in the connection's transaction."""
    await connection.execute(text("CREATE TABLE scratch (b BLOB)"))
    await connection.execute(text("INSERT INTO scratch (b) VALUES (:b)"), [{"b": BLOB}] * PAGES)


async def test_a_commit_checkpoints_only_where_nobody_else_does(tmp_path: Path) -> None:
    for checkpoint_on_commit, setting in ((True, 1000), (False, 0)):
        path = tmp_path / f"{checkpoint_on_commit}.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(upgrade, url)
        before = path.stat().st_size
        engine = create_engine(url, checkpoint_on_commit=checkpoint_on_commit)
        try:
            async with engine.begin() as connection:
                assert await connection.scalar(text("PRAGMA wal_autocheckpoint")) == setting
                await write_pages(connection)
            # Measured while the engine is open: closing the last connection checkpoints.
            grown_by_commit = path.stat().st_size - before
            done = await asyncio.to_thread(checkpoint, str(path))
            grown_by_checkpoint = path.stat().st_size - before - grown_by_commit
        finally:
            await engine.dispose()
        if checkpoint_on_commit:
            assert grown_by_commit >= PAGES * len(BLOB)  # the commit copied the log
        else:
            assert grown_by_commit == 0  # the pages wait in the log …
            assert grown_by_checkpoint >= PAGES * len(BLOB)  # … for the checkpoint
            assert not done.busy and done.copied_pages == done.log_pages >= PAGES


async def test_the_running_bot_checkpoints_its_own_log(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    path = tmp_path / "newsbot.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    async with running_bot(settings_for(fake_api, url)) as runtime:
        assert runtime.checkpointer is not None
        before = path.stat().st_size
        async with runtime.engine.begin() as connection:
            assert await connection.scalar(text("PRAGMA wal_autocheckpoint")) == 0
            await write_pages(connection)
        checkpointer = runtime.checkpointer

        def copied() -> bool:
            # No connection of the bot checkpoints on commit, so the file grows only by the
            # checkpointer's hand; it grows while the checkpoint runs, before its result is kept.
            grown = path.stat().st_size - before >= PAGES * len(BLOB)
            return grown and checkpointer.last is not None

        async with asyncio.timeout(10):
            while not copied():  # noqa: ASYNC110
                await asyncio.sleep(0.05)


async def test_a_checkpoint_that_fails_is_logged_and_tried_again_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpointer = Checkpointer(str(tmp_path), interval=0.02)  # a folder, not a database
    checkpointer.start()
    try:
        async with asyncio.timeout(5):
            while len(caplog.records) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        await checkpointer.close()
    assert all(
        record.levelno == logging.WARNING and "WAL checkpoint" in record.getMessage()
        for record in caplog.records
    )
    assert checkpointer.last is None
