"""Updates of different chats run side by side; one chat's updates run one after another.

PTB's own concurrent processing runs every update at once, so a reader's "Next" and "Next" could
answer out of order, and an operator's two commands could race. One lock per chat (per user for
updates without a chat, such as inline queries) keeps each conversation in order while 1,000
readers pressing at once no longer wait for each other's database work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import SimpleUpdateProcessor


def conversation_key(update: object) -> int | None:
    """The chat (else the user) whose updates must keep their order; None for neither."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        # Users' and chats' ids never collide in practice, but keep them apart anyway.
        return -(2**62) - update.effective_user.id
    return None


class ChatOrderedUpdates(SimpleUpdateProcessor):
    """Up to `max_concurrent_updates` at once, in arrival order within each chat."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates=max_concurrent_updates)
        # Per chat: its lock and how many of its updates hold or wait for it.
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}

    @property
    def conversations(self) -> int:
        """How many chats have an update running or waiting."""
        return len(self._chats)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update once the previous update of its chat has finished."""
        key = conversation_key(update)
        if key is None:
            await self.handle(update, coroutine)
            return
        # PTB starts the updates' tasks in arrival order and asyncio's locks are FIFO, so the
        # updates of one chat take the lock in the order they arrived: no await comes before.
        lock, users = self._chats.get(key, (asyncio.Lock(), 0))
        self._chats[key] = (lock, users + 1)
        try:
            async with lock:
                await self.handle(update, coroutine)
        finally:
            # Counted, not asked of the lock: a released lock looks free before its next
            # waiter wakes, and dropping it then would let a newer update overtake that waiter.
            lock, users = self._chats[key]
            if users == 1:
                del self._chats[key]
            else:
                self._chats[key] = (lock, users - 1)

    async def handle(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the handlers of one update; subclasses add what they measure around it."""
        await coroutine
