"""A running bot: the real PTB Application polling the fake Bot API over HTTP, on each database.

Loaded from tests/conftest.py. `make_update`-style helpers live on the harness: tests act as a
reader (`say`, `press`) and assert on what the bot sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import pytest

from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import Stored, store_sources
from bot.newsroom.sources import load_sources
from bot.ops.runtime import running_bot
from bot.sandbox.botapi.server import FakeBotApi
from bot.sandbox.botapi.state import BotMessage
from bot.settings import Settings
from bot.telegram.app import NewsApp
from db import store
from db.migrate import upgrade
from tests.texts import SAMPLES

TOKEN = "123456:TEST-token-for-the-fake-api"
OPERATOR = 7007  # the one user id in NEWSBOT_OPERATORS


@dataclass
class BotHarness:
    """The running bot, its fake Telegram, and a reader's actions."""

    app: NewsApp
    api: FakeBotApi
    settings: Settings
    language_code: str = "en"  # the reader's Telegram client language

    async def say(
        self, chat_id: int, words: str, *, count: int = 1, language_code: str | None = None
    ) -> list[BotMessage]:
        """Send a message as the reader; return the `count` bot messages that answer it."""
        before = len(self.api.messages(chat_id))
        self.api.send_user_message(
            chat_id, words, language_code=language_code or self.language_code
        )
        messages = await self.api.wait_for_messages(chat_id, before + count)
        return messages[before:]

    async def press(
        self, chat_id: int, message: BotMessage, data: str, *, count: int = 1
    ) -> list[BotMessage]:
        """Press a button of a bot message; return the `count` new bot messages."""
        before = len(self.api.messages(chat_id))
        query_id = self.api.press_button(
            chat_id, message.message_id, data, language_code=self.language_code
        )
        await self.answered(query_id)
        messages = await self.api.wait_for_messages(chat_id, before + count)
        return messages[before:]

    async def answered(self, query_id: str) -> str | None:
        """Wait for the bot to answer a button press; the text it showed."""
        answers = await self.api.wait_for(
            lambda: [a for a in self.api.callback_answers if a.query_id == query_id],
            description=f"an answer to callback query {query_id}",
        )
        return answers[0].text

    async def eventually(
        self, check: Callable[[], Awaitable[bool]], what: str, within: float = 5.0
    ) -> None:
        """Wait for state the bot writes after its last request (a database row, say)."""
        async with asyncio.timeout(within):
            # A database has no change notification to wait on, so this one wait polls.
            while not await check():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert await check(), what

    async def chat_active(self, chat_id: int) -> bool | None:
        """Whether the bot counts the chat as reachable; None when it does not know the chat."""
        async with self.app.bot_data.unit_of_work() as session:
            chat = await store.get_chat(session=session, chat_id=chat_id)
        return None if chat is None else chat.active

    async def ingest(self, *names: str, topics: Sequence[str] = ()) -> list[Stored]:
        """Store sample articles through the same path as `newsbot ingest`."""
        sources = load_sources([str(SAMPLES / name) for name in names])
        async with self.app.bot_data.unit_of_work() as session:
            return await store_sources(
                session=session,
                sources=sources,
                topics=topics,
                target=self.settings.section_target,
                now=utcnow(),
            )


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    """The fake Telegram Bot API on 127.0.0.1."""
    async with FakeBotApi(token=TOKEN) as api:
        yield api


@pytest.fixture
async def bot(fake_api: FakeBotApi, database_url: str) -> AsyncIterator[BotHarness]:
    """The bot polling the fake API, started and stopped as `newsbot run` does."""
    await asyncio.to_thread(upgrade, database_url)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        token=TOKEN,
        api_url=fake_api.url,
        database_url=database_url,
        language="ar",
        operators=frozenset({OPERATOR}),
        section_target=400,  # short sections, so a sample article needs several "Next" presses
    )
    async with running_bot(settings) as runtime:
        # Telegram's default set of updates, not only what the handlers take: the tests show
        # that the handlers leave the rest alone.
        await runtime.poll(poll_timeout=1, limit_updates=False)
        yield BotHarness(runtime.app, fake_api, settings)
