"""Updates of different chats run side by side; one chat's keep their arrival order."""

import asyncio
from datetime import UTC, datetime

from telegram import Chat, InlineQuery, Message, Update, User

from bot.telegram.ordering import ChatOrderedUpdates, conversation_key


def message_update(update_id: int, chat_id: int) -> Update:
    chat = Chat(id=chat_id, type=Chat.PRIVATE)
    message = Message(message_id=update_id, date=datetime.now(UTC), chat=chat, text="/more")
    return Update(update_id=update_id, message=message)


async def run_all(processor: ChatOrderedUpdates, updates: list[tuple[Update, float]]) -> list[str]:
    """Start every update in arrival order, as PTB does; return the start/end events."""
    events: list[str] = []

    async def work(update: Update, seconds: float) -> None:
        events.append(f"start {update.update_id}")
        await asyncio.sleep(seconds)
        events.append(f"end {update.update_id}")

    async with processor:
        tasks = [
            asyncio.create_task(processor.process_update(update, work(update, seconds)))
            for update, seconds in updates
        ]
        await asyncio.gather(*tasks)
    return events


async def test_one_chats_updates_run_in_arrival_order() -> None:
    processor = ChatOrderedUpdates(max_concurrent_updates=8)
    # The first is the slowest: without the chat's lock the others would finish before it.
    updates = [(message_update(1, 10), 0.05), (message_update(2, 10), 0.0)]
    updates.append((message_update(3, 10), 0.01))
    events = await run_all(processor, updates)
    assert events == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]
    assert processor.conversations == 0


async def test_other_chats_do_not_wait() -> None:
    processor = ChatOrderedUpdates(max_concurrent_updates=8)
    updates = [(message_update(1, 10), 0.05), (message_update(2, 20), 0.0)]
    events = await run_all(processor, updates)
    assert events.index("end 2") < events.index("end 1")


async def test_a_chat_joining_while_its_lock_is_handed_on_keeps_order() -> None:
    # Update 3 arrives just as 1 finishes and hands the lock to 2: it must still wait for 2.
    processor = ChatOrderedUpdates(max_concurrent_updates=8)
    events: list[str] = []

    async def work(name: str, seconds: float) -> None:
        events.append(f"start {name}")
        await asyncio.sleep(seconds)
        events.append(f"end {name}")

    async with processor:
        first = asyncio.create_task(processor.process_update(message_update(1, 5), work("1", 0)))
        second = asyncio.create_task(
            processor.process_update(message_update(2, 5), work("2", 0.03))
        )
        await first
        third = asyncio.create_task(processor.process_update(message_update(3, 5), work("3", 0)))
        await asyncio.gather(second, third)
    assert events == ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]


async def test_the_limit_still_caps_updates_in_flight() -> None:
    processor = ChatOrderedUpdates(max_concurrent_updates=2)
    running = 0
    most = 0

    async def work() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1

    async with processor:
        await asyncio.gather(
            *(processor.process_update(message_update(n, n), work()) for n in range(1, 7))
        )
    assert most == 2


def test_updates_without_a_chat_are_keyed_by_their_user() -> None:
    user = User(id=42, first_name="R", is_bot=False)
    inline = Update(update_id=9, inline_query=InlineQuery("q", user, "words", ""))
    assert conversation_key(inline) not in (None, 42)
    assert conversation_key(message_update(1, 42)) == 42
    assert conversation_key(object()) is None
