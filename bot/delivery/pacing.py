"""Pacing every request to Telegram: a global rate, per-chat limits, and pauses on 429.

python-telegram-bot's AIORateLimiter is the obvious candidate, but it does not pace one message
per second to a private chat, and its aiolimiter buckets start full: after a quiet spell they
admit a whole second's worth at once and then the steady rate, close to twice the rate within
one second. Telegram counts over any one-second window, so this limiter keeps a sliding window
of the last sends instead, and plugs into PTB through the same `BaseRateLimiter` interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.delivery import answers

log = logging.getLogger(__name__)

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]

PRIVATE_INTERVAL = 1.0  # seconds between two messages to one private chat
GROUP_LIMIT = 20  # messages to one group or channel …
GROUP_PERIOD = 60.0  # … per this many seconds
RETRY_MARGIN = 0.1  # Telegram's retry_after is rounded to whole seconds
# Windows in use that one prune moves out of its way at most (each moves to the back anyway once
# its request is answered), so that a prune's cost stays bounded.
PRUNE_SKIPS = 2


class SlidingWindow:
    """At most `limit` requests arriving in any `period` seconds, wherever the network delays them.

    Telegram counts requests when they arrive, somewhere between our sending and its answer. So a
    request occupies the window from the moment it is sent until `period` after its answer:
    `delay` counts those in flight and those answered within the last period. Two requests
    that Telegram saw less than a period apart were then both counted when the later one left.
    """

    def __init__(self, limit: int, period: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.period = period
        self._clock = clock
        self._answered: deque[float] = deque()
        self.in_flight = 0
        self.holders = 0  # requests that hold this window: waiting for their turn or in flight
        self.replies_waiting = 0  # requests someone is waiting for: broadcasts let them go first

    def delay(self) -> float:
        """Seconds until one more request may go (0: now; inf: when one in flight returns)."""
        now = self._clock()
        while self._answered and self._answered[0] <= now - self.period:
            self._answered.popleft()
        excess = self.in_flight + len(self._answered) - self.limit + 1
        if excess <= 0:
            return 0.0
        if excess > len(self._answered):
            return math.inf
        return self._answered[excess - 1] + self.period - now

    def begin(self) -> None:
        """A request leaves now."""
        self.in_flight += 1

    def end(self) -> None:
        """Its answer (or failure) arrived now."""
        self.in_flight -= 1
        self._answered.append(self._clock())

    @property
    def busy(self) -> bool:
        """A request holds the window or is in flight."""
        return self.holders > 0 or self.in_flight > 0

    def expired(self, now: float) -> bool:
        """Not busy, and nothing answered within the period before `now`."""
        if self.holders or self.in_flight:
            return False
        return not self._answered or self._answered[-1] <= now - self.period

    @property
    def idle(self) -> bool:
        """Expired now: forgetting the window changes nothing."""
        return self.expired(self._clock())


def window_for_rate(rate: float, clock: Callable[[], float]) -> SlidingWindow:
    """A window admitting `rate` events per second (a fractional rate spreads over longer)."""
    limit = max(1, math.floor(rate))
    return SlidingWindow(limit, limit / rate, clock)


class ChatWindows:
    """The per-chat windows of one kind, least recently used first.

    Every window of one kind lasts equally long after its last answer, so in this order the
    first to expire is in front: forgetting expired windows looks at the front only, and
    each window is forgotten once, so the cost per request stays constant however many chats
    are live (a scan of every window per new chat cost milliseconds past 10,000 of them).
    """

    def __init__(self, limit: int, period: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.period = period
        self._clock = clock
        self._windows: OrderedDict[int | str, SlidingWindow] = OrderedDict()

    def __len__(self) -> int:
        return len(self._windows)

    def get(self, chat_id: int | str) -> SlidingWindow:
        """The chat's window, new if it had none (and then expired ones are forgotten)."""
        window = self._windows.get(chat_id)
        if window is None:
            self.prune()
            window = SlidingWindow(self.limit, self.period, self._clock)
            self._windows[chat_id] = window
        return window

    def used(self, chat_id: int | str) -> None:
        """The chat's request was answered now: its window expires last of all."""
        self._windows.move_to_end(chat_id)  # there: a window in use is never forgotten

    def prune(self) -> None:
        """Forget the expired windows at the front."""
        now = self._clock()
        skips = 0
        while self._windows:
            chat_id, window = next(iter(self._windows.items()))
            if window.expired(now):
                del self._windows[chat_id]
            elif window.busy and skips < PRUNE_SKIPS:
                # In use (it moves to the back itself once answered): look past it.
                self._windows.move_to_end(chat_id)
                skips += 1
            else:
                return  # answered within the period: every window behind it was later


class Pace(enum.Enum):
    """How a request is paced; passed as PTB's `rate_limit_args`."""

    # A push the reader did not ask for: it waits for its chat's turn (1/s, 20/min in groups).
    BROADCAST = "broadcast"


class Pacer(BaseRateLimiter[Pace]):
    """Telegram's limits for every request that names a chat; 429 pauses all sending.

    Every request counts in the global window and in its chat's. Only broadcasts wait for the
    chat's turn: a reply to a reader's own press goes at once (the reader is waiting for it),
    and a broadcast message then keeps its distance from that reply. For the same reason a
    reply waiting for the bot's window goes before every broadcast waiting there: hundreds of
    a correction's edits queued at 30/s would otherwise hold an operator's answer for seconds.
    """

    def __init__(
        self,
        *,
        rate: float | None,
        paid_rate: float | None = 1000,
        max_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._global = window_for_rate(rate, clock) if rate else None
        self._paid = window_for_rate(paid_rate, clock) if paid_rate else None
        # Private chats have positive ids; groups, supergroups and channels negative ones,
        # and a channel may also be named by its @username.
        self._private = ChatWindows(1, PRIVATE_INTERVAL, clock)
        self._groups = ChatWindows(GROUP_LIMIT, GROUP_PERIOD, clock)
        self._paused_until = 0.0
        self._answered = asyncio.Event()
        self.max_retries = max_retries
        self.retry_after_count = 0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def pause(self, seconds: float) -> None:
        """Stop every paced request for `seconds` (Telegram answered 429)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    @property
    def live_windows(self) -> int:
        """How many per-chat windows are kept (expired ones are forgotten as new chats come)."""
        return len(self._private) + len(self._groups)

    def _windows_of(self, chat_id: int | str) -> ChatWindows:
        return self._private if isinstance(chat_id, int) and chat_id > 0 else self._groups

    def _chat_window(self, chat_id: int | str) -> SlidingWindow:
        return self._windows_of(chat_id).get(chat_id)

    async def _take_turn(
        self, waits_for: list[SlidingWindow], windows: list[SlidingWindow], *, yields: bool
    ) -> None:
        """Wait until those windows have room and no pause holds, then enter all at once.

        Entering all at one instant matters: a request that took the chat's turn and then
        waited for the global one would reach the chat later than its window believes.
        A request that `yields` (a broadcast) also waits while a reply waits on its windows.
        """
        if not yields:
            for window in waits_for:
                window.replies_waiting += 1
        entered = False
        try:
            while True:
                wait = max([self._paused_until - self._clock(), *(w.delay() for w in waits_for)])
                if yields and wait <= 0 and any(w.replies_waiting for w in waits_for):
                    wait = math.inf  # until the reply has gone: its answer wakes us
                if wait <= 0:
                    break
                answered = self._answered
                # An answer can open a window before any timer would: wake on either.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered.wait(), None if math.isinf(wait) else wait)
            entered = True
        finally:
            if not yields:
                for window in waits_for:
                    window.replies_waiting -= 1
                if not entered:
                    # A reply given up (cancelled) sends nothing whose answer would wake the
                    # broadcasts it held back.
                    self._wake()
        for window in windows:
            window.begin()

    def _wake(self) -> None:
        self._answered.set()
        self._answered = asyncio.Event()

    def _leave(self, windows: list[SlidingWindow]) -> None:
        for window in windows:
            window.end()
        self._wake()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Pace | None,
    ) -> JSONResult:
        """Wait for the chat's and the bot's turn, send, and on 429 pause everyone and retry."""
        chat_id = data.get("chat_id")
        window = self._paid if data.get("allow_paid_broadcast") else self._global
        windows: list[SlidingWindow] = []  # the request counts in these
        waits_for: list[SlidingWindow] = []  # and waits for room in these
        yields = rate_limit_args is Pace.BROADCAST
        if chat_id is None:
            return await self._send(callback, args, kwargs, endpoint, waits_for, windows, yields)
        chats = self._windows_of(chat_id)
        chat = chats.get(chat_id)
        windows.append(chat)
        if rate_limit_args is Pace.BROADCAST:
            waits_for.append(chat)
        if window is not None:
            windows.append(window)
            waits_for.append(window)
        # Held while waiting too: forgetting a window a request waits on would let the next
        # request to that chat start a fresh one and go too soon.
        chat.holders += 1
        try:
            return await self._send(callback, args, kwargs, endpoint, waits_for, windows, yields)
        finally:
            chat.holders -= 1
            chats.used(chat_id)

    async def _send(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        waits_for: list[SlidingWindow],
        windows: list[SlidingWindow],
        yields: bool,
    ) -> JSONResult:
        for attempt in range(self.max_retries + 1):
            await self._take_turn(waits_for, windows, yields=yields)
            try:
                result = await callback(*args, **kwargs)
                answers.note(result)  # before PTB parses it, which may fail
                return result
            except RetryAfter as error:
                self.retry_after_count += 1
                seconds = retry_delay(error).total_seconds() + RETRY_MARGIN
                self.pause(seconds)
                log.warning("429 on %s: every send waits %.1f s", endpoint, seconds)
                if attempt == self.max_retries:
                    raise
            finally:
                self._leave(windows)
        raise AssertionError("unreachable")  # pragma: no cover


def retry_delay(error: RetryAfter) -> timedelta:
    """How long Telegram asks to wait: retry_after is a timedelta once PTB_TIMEDELTA is set."""
    value: int | timedelta = error.retry_after
    return value if isinstance(value, timedelta) else timedelta(seconds=value)
