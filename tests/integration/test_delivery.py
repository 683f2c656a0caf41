"""The delivery engine against a misbehaving fake Telegram: exactly one copy to every reachable
subscriber, whatever the server answers."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.newsroom.clock import utcnow
from db import broadcasts, store
from db.broadcasts import Claim
from db.models import DeliveryRow
from db.session import unit_of_work
from tests.integration.delivery_fixtures import DeliveryWorld


async def test_every_subscriber_of_the_articles_topics_gets_one_copy(world: DeliveryWorld) -> None:
    everything = await world.add_readers(range(1, 21))
    transport = await world.add_readers(range(100, 110), topic="transport")
    await world.add_readers(range(200, 205), topic="sport")  # not this article's topic
    article_id = await world.add_article(topics=["transport"])
    broadcast_id = await world.start_broadcast(article_id)

    await world.deliver_all()

    assert world.copies() == {chat_id: 1 for chat_id in everything + transport}
    async with unit_of_work(world.sessionmaker) as session:
        progress = await broadcasts.broadcast_progress(session=session, broadcast_id=broadcast_id)
    assert progress is not None
    assert progress.broadcast.status == "done"
    assert (progress.sent, progress.broadcast.target_count) == (30, 30)
    card = world.api.messages(1)[0]
    assert card.text.startswith("City approves")
    assert card.buttons()[0]["text"] == "Read more"


async def test_a_topic_broadcast_reaches_that_topic_and_readers_of_everything(
    world: DeliveryWorld,
) -> None:
    everything = await world.add_readers([1, 2])
    sport = await world.add_readers([10, 11], topic="sport")
    await world.add_readers([20], topic="transport")
    article_id = await world.add_article(topics=["transport"])
    await world.start_broadcast(article_id, topic="sport")
    await world.deliver_all()
    assert set(world.copies()) == set(everything + sport)


async def test_429_bursts_and_5xx_are_retried_until_each_reader_has_one_copy(
    world: DeliveryWorld,
) -> None:
    readers = await world.add_readers(range(1, 41))
    article_id = await world.add_article()
    world.api.fail_next("sendMessage", 3, status=429, retry_after=1)
    world.api.fail_next("sendMessage", 4, status=500)
    world.api.fail_next("sendMessage", 2, status=502)
    broadcast_id = await world.start_broadcast(article_id)

    await world.deliver_all()

    assert world.copies() == {chat_id: 1 for chat_id in readers}
    assert set((await world.statuses(broadcast_id)).values()) == {"sent"}
    assert world.pacer.retry_after_count >= 1


async def test_blocked_vanished_and_migrated_chats(world: DeliveryWorld) -> None:
    readers = await world.add_readers([1, 2, 3, 4])
    group = (await world.add_readers([-5]))[0]
    article_id = await world.add_article()
    world.api.block_chat(2)
    world.api.forget_chat(3)
    world.api.migrate_chat(group, -1_000_000_000_005)

    broadcast_id = await world.start_broadcast(article_id)
    await world.deliver_all()

    assert world.copies() == {1: 1, 4: 1, -1_000_000_000_005: 1}
    statuses = await world.statuses(broadcast_id)
    assert statuses == {
        1: "sent",
        2: "skipped",
        3: "skipped",
        4: "sent",
        group: "skipped",
        -1_000_000_000_005: "sent",
    }
    async with unit_of_work(world.sessionmaker) as session:
        blocked = await store.get_chat(session=session, chat_id=2)
        vanished = await store.get_chat(session=session, chat_id=3)
        migrated = await store.get_chat(session=session, chat_id=-1_000_000_000_005)
        old_group = await store.get_chat(session=session, chat_id=group)
        subscriptions = await store.subscriptions(session=session, chat_id=-1_000_000_000_005)
    assert blocked is not None and not blocked.active
    assert vanished is not None and not vanished.active
    assert old_group is None and migrated is not None and migrated.kind == "supergroup"
    assert subscriptions == ["*"]
    assert readers  # the rest of the readers were not held up by these


async def test_a_chat_that_disappears_mid_broadcast_is_skipped_and_the_rest_continue(
    world: DeliveryWorld,
) -> None:
    readers = await world.add_readers(range(1, 61))
    article_id = await world.add_article()
    # Slow the first sends so the chat can vanish while the broadcast runs.
    world.api.delay_next("sendMessage", 8, 0.2)
    broadcast_id = await world.start_broadcast(article_id)
    delivering = asyncio.create_task(world.deliver_all())
    await world.api.wait_for(lambda: len(world.api.timeline) >= 1)
    world.api.forget_chat(60)
    await delivering

    copies = world.copies()
    assert copies == {chat_id: 1 for chat_id in readers if chat_id != 60}
    assert (await world.statuses(broadcast_id))[60] == "skipped"


async def test_timeouts_are_retried_and_only_a_timed_out_send_can_repeat(
    world: DeliveryWorld,
) -> None:
    readers = await world.add_readers(range(1, 11))
    article_id = await world.add_article()
    # Longer than the bot's 0.5 s read timeout: the client gives up, the server still sends,
    # as Telegram may. The bot cannot know, so it retries.
    world.api.delay_next("sendMessage", 2, 1.0)
    broadcast_id = await world.start_broadcast(article_id)
    await world.deliver_all()
    await asyncio.sleep(1.1)  # let the slow sends land on the server

    copies = world.copies()
    assert set(copies) == set(readers)
    assert sum(copies.values()) - len(readers) <= 2  # at most the two timed-out sends
    assert set((await world.statuses(broadcast_id)).values()) == {"sent"}


async def test_a_delivery_that_keeps_failing_is_failed_with_its_reason(
    world: DeliveryWorld,
) -> None:
    await world.add_readers([1])
    article_id = await world.add_article()
    world.api.fail_next("sendMessage", 10, status=500)
    broadcast_id = await world.start_broadcast(article_id)
    await world.deliver_all()
    assert world.copies() == {}
    async with unit_of_work(world.sessionmaker) as session:
        progress = await broadcasts.broadcast_progress(session=session, broadcast_id=broadcast_id)
    assert progress is not None and progress.failed == 1
    assert progress.broadcast.status == "done"


async def test_cancel_drops_what_was_not_sent(world: DeliveryWorld) -> None:
    await world.add_readers(range(1, 101))
    article_id = await world.add_article()
    world.api.delay_next("sendMessage", 100, 0.05)
    broadcast_id = await world.start_broadcast(article_id)
    delivering = asyncio.create_task(world.deliver_all())
    await world.api.wait_for(lambda: len(world.api.timeline) >= 5)
    async with unit_of_work(world.sessionmaker) as session:
        dropped = await broadcasts.cancel_broadcast(
            session=session, broadcast_id=broadcast_id, now=datetime.now(UTC)
        )
    await delivering
    sent_after_cancel = len(world.api.timeline)
    assert dropped is not None
    statuses = Counter((await world.statuses(broadcast_id)).values())
    assert statuses["sent"] == sent_after_cancel < 100
    assert statuses["sent"] + statuses["dropped"] == 100
    async with unit_of_work(world.sessionmaker) as session:
        again = await broadcasts.cancel_broadcast(
            session=session, broadcast_id=broadcast_id, now=datetime.now(UTC)
        )
    assert again is None


async def test_starting_twice_queues_once_and_inactive_chats_are_left_out(
    world: DeliveryWorld,
) -> None:
    await world.add_readers([1, 2, 3])
    article_id = await world.add_article()
    async with unit_of_work(world.sessionmaker) as session:
        await store.mark_chats_blocked(session=session, chat_ids={3}, now=utcnow())
        row = await broadcasts.create_broadcast(
            session=session, article_id=article_id, due_at=datetime.now(UTC), now=utcnow()
        )
        first = await broadcasts.start_broadcast(
            session=session, broadcast_id=row.id, now=datetime.now(UTC)
        )
        second = await broadcasts.start_broadcast(
            session=session, broadcast_id=row.id, now=datetime.now(UTC)
        )
    assert (first, second) == (2, None)


async def test_outcomes_in_flight_at_a_crash_are_requeued(world: DeliveryWorld) -> None:
    await world.add_readers(range(1, 6))
    article_id = await world.add_article()
    broadcast_id = await world.start_broadcast(article_id)
    async with unit_of_work(world.sessionmaker) as session:
        claims = await broadcasts.claim_deliveries(session=session, limit=3, now=datetime.now(UTC))
    assert len(claims) == 3
    # The deliverer that claimed them died; the next one puts them back and sends all five.
    async with unit_of_work(world.sessionmaker) as session:
        assert await broadcasts.requeue_claimed(session=session) == 3
    await world.deliver_all()
    assert world.copies() == {chat_id: 1 for chat_id in range(1, 6)}
    assert set((await world.statuses(broadcast_id)).values()) == {"sent"}


async def test_a_failed_database_write_is_retried_and_nothing_is_sent_twice(
    world: DeliveryWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    readers = await world.add_readers(range(1, 21))
    article_id = await world.add_article()
    real_record = broadcasts.record_outcomes
    real_claim = broadcasts.claim_deliveries
    record_failures = [RuntimeError("the database went away")] * 2
    claim_failures = [RuntimeError("the database went away")]

    async def flaky_record(**kwargs: Any) -> None:
        if record_failures:
            raise record_failures.pop()
        await real_record(**kwargs)

    async def flaky_claim(**kwargs: Any) -> list[Claim]:
        if claim_failures:
            raise claim_failures.pop()
        return await real_claim(**kwargs)

    monkeypatch.setattr(broadcasts, "record_outcomes", flaky_record)
    monkeypatch.setattr(broadcasts, "claim_deliveries", flaky_claim)
    broadcast_id = await world.start_broadcast(article_id)
    await world.deliver_all()

    assert (record_failures, claim_failures) == ([], [])
    assert world.copies() == {chat_id: 1 for chat_id in readers}
    assert set((await world.statuses(broadcast_id)).values()) == {"sent"}


async def test_a_batch_of_outcomes_is_written_field_by_field_and_the_last_of_a_row_wins(
    world: DeliveryWorld,
) -> None:
    await world.add_readers(range(1, 5))
    article_id = await world.add_article()
    broadcast_id = await world.start_broadcast(article_id)
    async with unit_of_work(world.sessionmaker) as session:
        claims = await broadcasts.claim_deliveries(session=session, limit=10, now=utcnow())
    assert len(claims) == 4
    sent_at = datetime(2026, 11, 30, 21, 5, 7, 123456, tzinfo=UTC)
    later = datetime(2026, 11, 30, 21, 6, 0, 1, tzinfo=UTC)
    error = "BadRequest: can't parse entities: 'ü' & \"quotes\" \\ 😀"
    outcomes = [
        broadcasts.Outcome(broadcast_id, 1, "sent", 1, message_id=9_000_000_001, sent_at=sent_at),
        broadcasts.Outcome(broadcast_id, 2, "queued", 2, not_before=later, error=error),
        broadcasts.Outcome(broadcast_id, 3, "failed", 1, error="first"),
        # Row 3 again in the same batch: the later outcome is the one that stands.
        broadcasts.Outcome(broadcast_id, 3, "skipped", 1, error="second"),
    ]
    async with unit_of_work(world.sessionmaker) as session:
        await broadcasts.record_outcomes(session=session, outcomes=outcomes, now=utcnow())
    async with unit_of_work(world.sessionmaker) as session:
        rows = {
            row.chat_id: row
            for row in await session.scalars(
                select(DeliveryRow).where(DeliveryRow.broadcast_id == broadcast_id)
            )
        }
    written = {
        chat_id: (row.status, row.attempts, row.claims, row.message_id, row.sent_at)
        for chat_id, row in rows.items()
    }
    assert written == {
        1: ("sent", 1, 0, 9_000_000_001, sent_at),
        2: ("queued", 2, 0, None, None),
        3: ("skipped", 1, 0, None, None),
        4: ("sending", 0, 1, None, None),  # no outcome yet: still claimed
    }
    assert (rows[2].not_before, rows[2].error) == (later, error)
    assert (rows[1].error, rows[3].error) == (None, "second")
    # The queued row is claimed again once its time has come, and not before.
    async with unit_of_work(world.sessionmaker) as session:
        early = await broadcasts.claim_deliveries(session=session, limit=10, now=sent_at)
        due = await broadcasts.claim_deliveries(
            session=session, limit=10, now=later + timedelta(seconds=1)
        )
    assert (early, [claim.chat_id for claim in due]) == ([], [2])
