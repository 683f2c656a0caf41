"""Pacing on a recorded timeline: the fake server notes when each message arrived."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.pacing import GROUP_LIMIT, GROUP_PERIOD, Pace, Pacer, SlidingWindow
from bot.sandbox.botapi.server import FakeBotApi
from tests.integration.delivery_fixtures import (
    DELIVERY_TOKEN,
    DeliveryWorld,
    make_bot,
    make_deliverer,
)

RATE = 10


@pytest.fixture
async def paced_world(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[DeliveryWorld]:
    """A world whose bot is paced at RATE/s and whose server answers 429 when pushed harder."""
    async with FakeBotApi(token=DELIVERY_TOKEN) as api:
        api.enable_flood_control(global_per_second=RATE)
        pacer = Pacer(rate=RATE, paid_rate=None)
        bot = make_bot(api, pacer)
        async with bot:
            deliverer = make_deliverer(bot, sessionmaker, concurrency=8, batch_size=100)
            yield DeliveryWorld(sessionmaker, api, bot, pacer, deliverer)


def max_in_any_window(times: list[float], window: float) -> int:
    """The most events in any half-open window [t, t + window)."""
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_two_broadcasts_keep_every_limit_and_meet_no_429(paced_world: DeliveryWorld) -> None:
    world = paced_world
    readers = await world.add_readers(range(1, 16))
    first = await world.add_article("en-night-buses.md")
    second = await world.add_article("ar-solar-station.txt")
    await world.start_broadcast(first)
    await world.start_broadcast(second)  # every reader gets two messages: per-chat pacing

    await world.deliver_all()

    assert world.copies() == {chat_id: 2 for chat_id in readers}
    assert world.pacer.retry_after_count == 0  # the server never had to say 429
    times = [moment for moment, _, _ in world.api.timeline]
    assert max_in_any_window(times, 1.0) <= RATE
    by_chat: dict[int, list[float]] = defaultdict(list)
    for moment, chat_id, _ in world.api.timeline:
        by_chat[chat_id].append(moment)
    for chat_id, moments in by_chat.items():
        gap = moments[1] - moments[0]
        assert gap >= 1.0, f"chat {chat_id} got two messages {gap:.3f} s apart"


async def test_a_429_pauses_every_send_for_retry_after(world: DeliveryWorld) -> None:
    readers = await world.add_readers(range(1, 31))
    article_id = await world.add_article()
    world.api.fail_next("sendMessage", 1, status=429, retry_after=1)
    await world.start_broadcast(article_id)
    started = time.monotonic()  # the fake server stamps its timeline with the same clock
    await world.deliver_all()
    assert world.copies() == {chat_id: 1 for chat_id in readers}
    assert world.pacer.retry_after_count == 1
    # The first send was refused. Sends already on the wire land at once (they cannot be
    # recalled); after that nothing starts until retry_after has passed.
    # The pause began when the 429 came back, after `started`, and lasted retry_after: only
    # sends already in flight then (fewer than the deliverer's concurrency) landed inside it.
    offsets = sorted(moment - started for moment, _, _ in world.api.timeline)
    during_pause = [t for t in offsets if t < 1.0]
    assert len(during_pause) < world.deliverer.concurrency
    assert len(offsets) - len(during_pause) >= len(readers) - world.deliverer.concurrency


def test_sliding_window_counts_requests_in_flight_and_answered() -> None:
    now = [100.0]
    window = SlidingWindow(GROUP_LIMIT, GROUP_PERIOD, lambda: now[0])
    for _ in range(GROUP_LIMIT - 1):
        assert window.delay() == 0
        window.begin()
        now[0] += 1.0
        window.end()
    window.begin()
    # 19 answered within the minute and one on its way: the next waits for the oldest answer
    # (at 101.0) to be a full period old.
    assert window.delay() == pytest.approx(101.0 + GROUP_PERIOD - now[0])
    now[0] = 101.0 + GROUP_PERIOD
    assert window.delay() == 0


def test_requests_in_flight_alone_can_fill_a_window() -> None:
    window = SlidingWindow(2, 1.0, lambda: 0.0)
    window.begin()
    window.begin()
    assert window.delay() == math.inf  # only an answer can open it
    window.end()
    assert window.delay() == pytest.approx(1.0)


def test_a_private_chat_gets_one_message_a_second_and_a_group_twenty_a_minute() -> None:
    now = [0.0]
    pacer = Pacer(rate=30, clock=lambda: now[0])
    private = pacer._chat_window(5)
    group = pacer._chat_window(-5)
    private.begin()
    now[0] = 0.3
    private.end()
    assert private.delay() == pytest.approx(1.0)  # a second after the answer, not the send
    for _ in range(GROUP_LIMIT - 1):
        group.begin()
        group.end()
    assert group.delay() == 0
    group.begin()
    group.end()
    assert group.delay() == pytest.approx(GROUP_PERIOD)


async def answer(*_args: object, **_kwargs: object) -> bool:
    """Telegram's answer, at once."""
    return True


async def send(pacer: Pacer, chat_id: int, pace: Pace | None = Pace.BROADCAST) -> None:
    """One paced sendMessage to a chat."""
    await pacer.process_request(answer, (), {}, "sendMessage", {"chat_id": chat_id}, pace)


async def test_expired_windows_are_forgotten_and_live_ones_kept() -> None:
    now = [0.0]
    pacer = Pacer(rate=None, paid_rate=None, clock=lambda: now[0])
    for chat_id in range(1, 101):  # private chats: a window lasts a second after the answer
        await send(pacer, chat_id)
    for chat_id in range(-1, -31, -1):  # groups: a minute
        await send(pacer, chat_id)
    assert pacer.live_windows == 130
    now[0] = 1.5
    await send(pacer, 1000)  # a new private chat: the private windows have all expired
    await send(pacer, -1000)  # a new group: every group window is still live
    assert pacer.live_windows == 1 + 31
    first_group = pacer._chat_window(-1)
    now[0] = 30.0
    await send(pacer, -1)  # used again: now it expires last
    now[0] = 61.0
    await send(pacer, -2000)
    # Chat 1000's window, and of the groups -1000 (live until 61.5 s), -1 and -2000.
    assert pacer.live_windows == 1 + 3
    assert pacer._chat_window(-1) is first_group  # its twenty-a-minute count carries on


async def test_a_window_a_request_waits_on_is_never_forgotten() -> None:
    now = [0.0]
    pacer = Pacer(rate=1, paid_rate=None, clock=lambda: now[0])
    await send(pacer, 1)  # the bot's one request this second
    waiting = asyncio.create_task(send(pacer, 2))  # waits for the global window
    await asyncio.sleep(0)
    window = pacer._chat_window(2)
    assert not window.idle  # nothing sent to chat 2 yet, but a request holds its window
    now[0] = 0.5
    for chat_id in range(3, 10):  # new chats make the pacer forget what has expired
        pacer._chat_window(chat_id)
    assert pacer._chat_window(2) is window
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    assert window.idle  # a cancelled request lets go of it


async def test_a_new_chat_looks_at_a_few_windows_however_many_are_live(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [0.0]
    pacer = Pacer(rate=None, paid_rate=None, clock=lambda: now[0])
    live = 20_000
    for chat_id in range(-1, -live - 1, -1):  # a paid broadcast to 20,000 groups, in 30 s
        await send(pacer, chat_id)
        now[0] += GROUP_PERIOD / live / 2
    looked_at = 0
    expired = SlidingWindow.expired

    def counted(window: SlidingWindow, moment: float) -> bool:
        nonlocal looked_at
        looked_at += 1
        return expired(window, moment)

    monkeypatch.setattr(SlidingWindow, "expired", counted)
    for chat_id in range(-live - 1, -live - 1001, -1):
        await send(pacer, chat_id)
    # Each new chat looks at the oldest window, finds it live and stops: no rescan of all.
    assert looked_at <= 2 * 1000
    assert pacer.live_windows == live + 1000


async def test_a_reply_waiting_for_the_bot_s_window_goes_before_queued_broadcasts() -> None:
    now = [0.0]
    pacer = Pacer(rate=2, paid_rate=None, clock=lambda: now[0])
    gate = asyncio.Event()
    order: list[str] = []

    async def held(*_args: object, **_kwargs: object) -> bool:
        await gate.wait()
        return True

    def recorded(name: str) -> Callable[..., Coroutine[Any, Any, bool]]:
        async def callback(*_args: object, **_kwargs: object) -> bool:
            order.append(name)
            return True

        return callback

    async def request(
        callback: Callable[..., Coroutine[Any, Any, bool]], chat_id: int, pace: Pace | None
    ) -> None:
        await pacer.process_request(callback, (), {}, "sendMessage", {"chat_id": chat_id}, pace)

    in_flight = [asyncio.create_task(request(held, chat, None)) for chat in (1, 2)]
    await asyncio.sleep(0)  # the bot's two requests this second are on their way
    queued = asyncio.create_task(request(recorded("push"), 3, Pace.BROADCAST))
    await asyncio.sleep(0)
    reply = asyncio.create_task(request(recorded("reply"), 5, None))
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*in_flight)  # answered at 0.0: the window opens at 1.0
    now[0] = 1.5
    pacer._wake()
    await asyncio.gather(reply, queued)
    # The push was queued first, and the first woken: without the reply it would go first.
    assert order == ["reply", "push"]


async def test_a_reply_given_up_lets_the_broadcasts_it_held_back_go() -> None:
    now = [0.0]
    pacer = Pacer(rate=1, paid_rate=None, clock=lambda: now[0])
    await send(pacer, 1)  # the bot's one request this second
    reply = asyncio.create_task(send(pacer, 2, pace=None))
    await asyncio.sleep(0)
    now[0] = 1.5  # the window is open again, but the reply is first in line
    push = asyncio.create_task(send(pacer, 3))
    await asyncio.sleep(0)
    assert not push.done()
    reply.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reply
    await asyncio.wait_for(push, 1)  # woken by the cancel, not by an answer that never comes
