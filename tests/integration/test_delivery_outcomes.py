"""Every send ends in one recorded outcome, whatever it raises, and nothing loops.

Faults come from the fake Bot API (`misanswer_next`): an `ok` answer python-telegram-bot cannot
read, a 200 that is not JSON, a connection reset after the message was stored, and an answer
that never comes while the deliverer is killed. Each test bounds its wall time: before these
outcomes were total, the first fault sent the same story again every round, forever.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import deliverer as delivery
from bot.delivery.deliverer import MAX_ATTEMPTS, Deliverer
from bot.delivery.pacing import Pacer
from bot.newsroom.clock import utcnow
from db import broadcasts
from db.broadcasts import MAX_CLAIMS, Outcome
from db.models import DeliveryRow
from db.session import unit_of_work
from tests.integration.delivery_fixtures import DeliveryWorld, make_bot, make_deliverer

DEADLINE = 60  # seconds: generous, only to prove that a round never loops

UNREADABLE = "could not be read"
UNEXPECTED = "failed unexpectedly"
ROUND_FAILED = "delivery round failed"


async def rows(world: DeliveryWorld, broadcast_id: int) -> dict[int, DeliveryRow]:
    """Each delivery row of the broadcast, by chat."""
    async with unit_of_work(world.sessionmaker) as session:
        result = await session.scalars(
            select(DeliveryRow).where(DeliveryRow.broadcast_id == broadcast_id)
        )
        return {row.chat_id: row for row in result}


def lines(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    """The captured records whose message contains text."""
    return [record for record in caplog.records if text in record.getMessage()]


def chats_named(records: list[logging.LogRecord]) -> Counter[int]:
    """How many of the records name each chat (the first argument of every delivery line)."""
    return Counter(int(record.args[0]) for record in records if isinstance(record.args, tuple))


@pytest.mark.parametrize("how", ["unreadable", "not_object"])
async def test_an_ok_answer_the_client_cannot_read_counts_as_sent_once(
    world: DeliveryWorld, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    readers = await world.add_readers(range(1, 31))
    article_id = await world.add_article()
    world.api.misanswer_next("sendMessage", len(readers), how=how)
    broadcast_id = await world.start_broadcast(article_id)

    with caplog.at_level(logging.INFO, logger="bot.delivery.deliverer"):
        async with asyncio.timeout(DEADLINE):
            await world.deliver_all()

    assert world.copies() == {chat_id: 1 for chat_id in readers}
    assert len(world.api.calls("sendMessage")) == len(readers)  # nothing was sent again
    stored = await rows(world, broadcast_id)
    assert {row.status for row in stored.values()} == {"sent"}
    if how == "unreadable":
        # The raw answer still held the id: kept, so the message can be edited or deleted later.
        assert {c: row.message_id for c, row in stored.items()} == {
            c: world.api.messages(c)[0].message_id for c in readers
        }
    else:
        assert {row.message_id for row in stored.values()} == {None}
    assert chats_named(lines(caplog, UNREADABLE)) == {chat_id: 1 for chat_id in readers}
    assert not lines(caplog, ROUND_FAILED)


async def test_an_unexpected_exception_fails_that_delivery_and_the_others_go_on(
    world: DeliveryWorld, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    english = await world.add_readers(range(1, 11), language="en")
    arabic = await world.add_readers(range(11, 16), language="ar")
    article_id = await world.add_article()
    real_card = delivery.story_card

    def broken_arabic_card(article: Any, language: str, **options: Any) -> Any:
        if language == "ar":
            raise RuntimeError("the Arabic card could not be built")
        return real_card(article, language, **options)

    monkeypatch.setattr(delivery, "story_card", broken_arabic_card)
    broadcast_id = await world.start_broadcast(article_id)
    with caplog.at_level(logging.INFO, logger="bot.delivery.deliverer"):
        async with asyncio.timeout(DEADLINE):
            await world.deliver_all()

    assert world.copies() == {chat_id: 1 for chat_id in english}
    stored = await rows(world, broadcast_id)
    assert {c: row.status for c, row in stored.items()} == {
        **dict.fromkeys(english, "sent"),
        **dict.fromkeys(arabic, "failed"),
    }
    assert {stored[c].error for c in arabic} == {
        "RuntimeError: the Arabic card could not be built"
    }
    assert {stored[c].attempts for c in arabic} == {1}  # not retried
    failures = lines(caplog, UNEXPECTED)
    assert chats_named(failures) == {chat_id: 1 for chat_id in arabic}
    assert all(record.exc_info for record in failures)  # with the traceback
    assert not lines(caplog, ROUND_FAILED)


async def test_a_200_that_is_not_json_fails_that_delivery_without_a_retry(
    world: DeliveryWorld, caplog: pytest.LogCaptureFixture
) -> None:
    readers = await world.add_readers(range(1, 6))
    article_id = await world.add_article()
    world.api.misanswer_next("sendMessage", how="not_json", chat_id=3)
    broadcast_id = await world.start_broadcast(article_id)
    with caplog.at_level(logging.INFO, logger="bot.delivery.deliverer"):
        async with asyncio.timeout(DEADLINE):
            await world.deliver_all()

    # The server stored it, but nothing in the answer says so: one copy, recorded as failed.
    assert world.copies() == {chat_id: 1 for chat_id in readers}
    stored = await rows(world, broadcast_id)
    assert stored[3].status == "failed"
    assert stored[3].error == "TelegramError: Invalid server response"
    assert {stored[c].status for c in readers if c != 3} == {"sent"}
    assert chats_named(lines(caplog, "not retried")) == {3: 1}


async def test_a_reset_after_the_message_left_is_retried_within_the_retry_cap(
    world: DeliveryWorld,
) -> None:
    readers = await world.add_readers(range(1, 11))
    article_id = await world.add_article()
    # Chat 4: one reset, then a normal answer. Chat 7: reset on every try.
    world.api.misanswer_next("sendMessage", how="reset", chat_id=4)
    world.api.misanswer_next("sendMessage", 100, how="reset", chat_id=7)
    broadcast_id = await world.start_broadcast(article_id)
    async with asyncio.timeout(DEADLINE):
        await world.deliver_all()

    # A reset is the one outcome nobody knows: the bot sends again, and the reader may see
    # the story twice. Every other reader sees it once.
    copies = world.copies()
    assert copies == {**{c: 1 for c in readers}, 4: 2, 7: MAX_ATTEMPTS}
    stored = await rows(world, broadcast_id)
    assert stored[4].status == "sent" and stored[4].attempts == 2
    assert stored[7].status == "failed" and stored[7].attempts == MAX_ATTEMPTS
    assert stored[7].error is not None and stored[7].error.startswith("NetworkError")


async def test_a_round_that_fails_for_the_database_resends_nothing(
    world: DeliveryWorld, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers = await world.add_readers(range(1, 41))
    article_id = await world.add_article()
    real_record = broadcasts.record_outcomes
    writes_failed = 0
    failed_thrice = asyncio.Event()

    async def database_away(**kwargs: Any) -> None:
        nonlocal writes_failed
        writes_failed += 1
        if writes_failed >= 3:
            failed_thrice.set()
        raise RuntimeError("the database went away")

    monkeypatch.setattr(broadcasts, "record_outcomes", database_away)
    monkeypatch.setattr(delivery, "DATABASE_RETRY", 0.01)
    broadcast_id = await world.start_broadcast(article_id)
    deliverer = world.deliverer

    with caplog.at_level(logging.INFO, logger="bot.delivery.deliverer"):
        async with asyncio.timeout(DEADLINE):
            running = asyncio.create_task(deliverer.run(idle_interval=0.05))
            # Sends go on until max_unrecorded are waiting for their outcome to be written.
            await world.api.wait_for(lambda: len(world.api.timeline) >= deliverer.max_unrecorded)
            await failed_thrice.wait()
            # Stopping while the database is away: the round gives up and fails.
            deliverer.stop()
            await running
            sent_while_away = len(world.api.timeline)
            assert lines(caplog, ROUND_FAILED)
            assert await broadcasts_status(world, broadcast_id) == "running"

            # The database is back; delivery starts again in this process.
            monkeypatch.setattr(broadcasts, "record_outcomes", real_record)
            running = asyncio.create_task(deliverer.run(idle_interval=0.05))
            await until(lambda: has_status(world, broadcast_id, "done"))
            deliverer.stop()
            await running

    assert sent_while_away == deliverer.max_unrecorded  # the cap held while nothing was written
    assert world.copies() == {chat_id: 1 for chat_id in readers}
    stored = await rows(world, broadcast_id)
    assert {row.status for row in stored.values()} == {"sent"}
    assert {row.claims for row in stored.values()} == {0}
    assert len(lines(caplog, ROUND_FAILED)) == 1


async def broadcasts_status(world: DeliveryWorld, broadcast_id: int) -> str:
    """The broadcast's status as stored."""
    async with unit_of_work(world.sessionmaker) as session:
        row = await broadcasts.get_broadcast(session=session, broadcast_id=broadcast_id)
    assert row is not None
    return row.status


async def has_status(world: DeliveryWorld, broadcast_id: int, status: str) -> bool:
    """Whether the broadcast has this status now."""
    return await broadcasts_status(world, broadcast_id) == status


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll a database condition until it holds (the caller bounds the time)."""
    # The deliverer writes from its own tasks and connections: nothing to wait on but the rows.
    while not await check():  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def test_a_check_for_cancels_that_fails_does_not_fail_the_round(
    world: DeliveryWorld, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers = await world.add_readers(range(1, 31))
    article_id = await world.add_article()
    real_running = broadcasts.running_broadcast_ids
    looks = 0

    async def flaky_running(**kwargs: Any) -> set[int]:
        # Only the look for cancels made between writes fails, every other time from the
        # first: the claims' own reads go through, so the fault always meets that look.
        nonlocal looks
        if sys._getframe(1).f_code.co_name == "_look_for_cancels":
            looks += 1
            if looks % 2 == 1:
                raise RuntimeError("the database went away")
        return await real_running(**kwargs)

    monkeypatch.setattr(broadcasts, "running_broadcast_ids", flaky_running)
    monkeypatch.setattr(delivery, "OPEN_CHECK_INTERVAL", 0.0)  # look after every write
    monkeypatch.setattr(delivery, "DATABASE_RETRY", 0.01)
    world.api.delay_next("sendMessage", 30, 0.01)
    broadcast_id = await world.start_broadcast(article_id)
    with caplog.at_level(logging.INFO, logger="bot.delivery.deliverer"):
        async with asyncio.timeout(DEADLINE):
            while await broadcasts_status(world, broadcast_id) != "done":
                await world.deliverer.deliver_available()

    assert lines(caplog, "could not look for cancelled broadcasts")
    assert not lines(caplog, ROUND_FAILED)
    assert world.copies() == {chat_id: 1 for chat_id in readers}
    assert {row.status for row in (await rows(world, broadcast_id)).values()} == {"sent"}


# --- the claim cap ------------------------------------------------------------------------


async def test_claims_are_counted_when_taken_and_given_back_with_an_outcome(
    sessionmaker: async_sessionmaker[AsyncSession], world: DeliveryWorld
) -> None:
    await world.add_readers([1, 2, 3])
    article_id = await world.add_article()
    broadcast_id = await world.start_broadcast(article_id)
    now = datetime.now(UTC)

    async def claim() -> list[broadcasts.Claim]:
        async with unit_of_work(sessionmaker) as session:
            return await broadcasts.claim_deliveries(session=session, limit=10, now=now)

    async def requeue_after_crash() -> None:
        async with unit_of_work(sessionmaker) as session:
            await broadcasts.requeue_claimed(session=session)

    first = await claim()
    assert [(c.chat_id, c.claims, c.given_up) for c in first] == [
        (1, 1, False),
        (2, 1, False),
        (3, 1, False),
    ]
    # Chat 1 gets an outcome (a retry), chat 2 is put back unsent, chat 3's deliverer dies.
    async with unit_of_work(sessionmaker) as session:
        retry = Outcome(broadcast_id, 1, "queued", 1)
        await broadcasts.record_outcomes(session=session, outcomes=[retry], now=utcnow())
        # Written twice:
        await broadcasts.record_outcomes(session=session, outcomes=[retry], now=utcnow())
        assert await broadcasts.requeue_deliveries(session=session, keys=[(broadcast_id, 2)]) == 1
    await requeue_after_crash()
    assert {c: row.claims for c, row in (await rows(world, broadcast_id)).items()} == {
        1: 0,
        2: 0,
        3: 1,
    }

    for expected in range(2, MAX_CLAIMS + 1):  # chat 3 keeps killing its deliverer
        claims = {c.chat_id: c for c in await claim()}
        assert (claims[3].claims, claims[3].given_up) == (expected, False)
        assert (claims[1].claims, claims[2].claims) == (1, 1)
        async with unit_of_work(sessionmaker) as session:
            await broadcasts.record_outcomes(
                session=session,
                outcomes=[Outcome(broadcast_id, c, "queued", 0) for c in (1, 2)],
                now=utcnow(),
            )
        await requeue_after_crash()

    given_up = {c.chat_id: c for c in await claim()}[3]
    assert (given_up.claims, given_up.given_up) == (MAX_CLAIMS, True)
    row = (await rows(world, broadcast_id))[3]
    assert (row.status, row.error) == ("failed", f"claimed {MAX_CLAIMS} times without an outcome")
    await requeue_after_crash()
    assert [c.chat_id for c in await claim()] == [1, 2]


@pytest.fixture
async def slow_bot(world: DeliveryWorld) -> AsyncIterator[Any]:
    """A bot on the world's server that waits long for answers (a stall is not a timeout)."""
    bot = make_bot(world.api, Pacer(rate=None, paid_rate=None), read_timeout=DEADLINE)
    async with bot:
        yield bot


async def test_a_message_that_kills_every_deliverer_is_sent_at_most_max_claims_times(
    world: DeliveryWorld, slow_bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    readers = await world.add_readers(range(1, 6))
    article_id = await world.add_article()
    victim = 3
    # The send to the victim never gets its answer, whichever deliverer makes it.
    world.api.misanswer_next("sendMessage", MAX_CLAIMS + 1, how="stall", chat_id=victim)
    broadcast_id = await world.start_broadcast(article_id)

    async def others_recorded() -> bool:
        statuses = await world.statuses(broadcast_id)
        return sorted(statuses.values()) == ["sending", *["sent"] * (len(readers) - 1)]

    def deliverer() -> Deliverer:
        # A new one each time: nothing survives in memory, as after a kill -9.
        return make_deliverer(slow_bot, world.sessionmaker, concurrency=4, batch_size=100)

    with caplog.at_level(logging.INFO, logger="bot.delivery.deliverer"):
        async with asyncio.timeout(DEADLINE):
            for start in range(1, MAX_CLAIMS + 2):
                async with unit_of_work(world.sessionmaker) as session:
                    await broadcasts.requeue_claimed(session=session)  # as every start does
                running = asyncio.create_task(deliverer().run(idle_interval=0.05))
                if start > MAX_CLAIMS:
                    await until(lambda: has_status(world, broadcast_id, "done"))
                else:
                    await world.api.wait_for_messages(victim, start, timeout=DEADLINE)
                    if start == 1:  # the others' outcomes are written before the "crash"
                        await until(others_recorded)
                running.cancel()  # the crash: nothing more is written
                with pytest.raises(asyncio.CancelledError):
                    await running

    assert world.copies() == {**{c: 1 for c in readers}, victim: MAX_CLAIMS}
    row = (await rows(world, broadcast_id))[victim]
    assert (row.status, row.error) == ("failed", f"claimed {MAX_CLAIMS} times without an outcome")
    assert len(lines(caplog, "times without an outcome: failed")) == 1
    # Each claim after an unknown outcome says so, once.
    assert len(lines(caplog, "claimed again after")) == MAX_CLAIMS - 1


async def test_rounds_that_overlap_on_one_deliverer_each_finish_and_send_once(
    world: DeliveryWorld,
) -> None:
    # run() in the background and a direct call (the scheduler's tests do both): each round
    # claims other rows, and keeps its own outcomes and slots.
    readers = await world.add_readers(range(1, 61))
    article_id = await world.add_article()
    world.api.delay_next("sendMessage", 60, 0.02)
    broadcast_id = await world.start_broadcast(article_id)
    async with asyncio.timeout(DEADLINE):
        await asyncio.gather(*(world.deliverer.deliver_available() for _ in range(3)))
        await world.deliver_all()
    assert world.copies() == {chat_id: 1 for chat_id in readers}
    assert {row.status for row in (await rows(world, broadcast_id)).values()} == {"sent"}
