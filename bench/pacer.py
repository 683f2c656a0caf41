"""The Pacer's own cost per request while many per-chat windows are live.

A paid broadcast to groups keeps a window per group for a minute (20 messages a minute each):
at 1,000 sends a second that is 60,000 live windows. This drives `Pacer.process_request` with
a callback that answers at once and a hand-moved clock, so only the pacer's bookkeeping is
timed. Each scenario first fills N windows over one window period, then keeps sending to new
groups at the same rate (the oldest windows expire as new ones come: about N stay live) and
prints the microseconds per request (mean and median: the machine may be busy with other
work) and how many windows the pacer holds at the end.

Run: .venv/bin/python bench/pacer.py [--live 1000 20000 100000] [--budget 2.0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Iterator
from typing import Any

from bot.delivery import pacing
from bot.delivery.pacing import GROUP_PERIOD, Pace, Pacer

MAX_REQUESTS = 20_000  # timed requests per scenario, at most
MIN_REQUESTS = 20  # … and at least, however slow each one is


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def answer(*_args: Any, **_kwargs: Any) -> bool:
    """Telegram's answer, at once."""
    return True


@contextlib.contextmanager
def filling() -> Iterator[None]:
    """While filling, lift an old pacer's 10,000-window prune threshold (if it has one).

    Such a pacer rescans every window for each new chat past the threshold, so filling 100,000
    windows would take hours; the timed requests afterwards run with the threshold in place.
    """
    old = getattr(pacing, "PRUNE_AT", None)
    if old is not None:
        pacing.PRUNE_AT = 10**12  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if old is not None:
            pacing.PRUNE_AT = old  # type: ignore[attr-defined]


async def send(pacer: Pacer, chat_id: int) -> None:
    """One broadcast message to a group."""
    await pacer.process_request(
        answer, (), {}, "sendMessage", {"chat_id": chat_id}, Pace.BROADCAST
    )


def held(pacer: Pacer) -> int:
    """How many per-chat windows the pacer keeps (an older pacer kept them in one dict)."""
    live = getattr(pacer, "live_windows", None)
    return int(live) if live is not None else len(pacer._chats)  # type: ignore[attr-defined]


async def scenario(live: int, budget: float) -> tuple[float, float, int, int]:
    """(mean and median µs per request, requests timed, windows held), `live` windows live."""
    clock = Clock()
    pacer = Pacer(rate=None, paid_rate=None, clock=clock)
    step = GROUP_PERIOD / live  # the send rate that keeps `live` group windows live
    chat_id = -1_000_000_000_000
    with filling():
        for _ in range(live):
            await send(pacer, chat_id)
            chat_id -= 1
            clock.now += step
    timings: list[float] = []
    started = time.perf_counter()
    while len(timings) < MAX_REQUESTS and (
        len(timings) < MIN_REQUESTS or time.perf_counter() - started < budget
    ):
        before = time.perf_counter()
        await send(pacer, chat_id)
        timings.append(time.perf_counter() - before)
        chat_id -= 1
        clock.now += step
    mean, median = statistics.fmean(timings), statistics.median(timings)
    return mean * 1e6, median * 1e6, len(timings), held(pacer)


async def main(lives: list[int], budget: float) -> None:
    """Print one line per scenario."""
    print(
        f"{'live windows':>12}  {'µs/request':>10}  {'(median)':>8}  {'requests':>8}  "
        f"{'windows held':>12}"
    )
    for live in lives:
        mean, median, count, windows = await scenario(live, budget)
        print(f"{live:>12,}  {mean:>10.1f}  {median:>8.1f}  {count:>8,}  {windows:>12,}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", type=int, nargs="+", default=[1_000, 20_000, 100_000])
    parser.add_argument("--budget", type=float, default=2.0, help="seconds timed per scenario")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.live, arguments.budget))
