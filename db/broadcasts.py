"""Store functions for broadcasts and their outbox of deliveries. None of them commits.

A broadcast is scheduled, then started: starting it writes one delivery row per target chat in
a single INSERT … SELECT, so a million subscribers never pass through Python. Workers claim
queued deliveries in batches (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite the claim is one
atomic UPDATE … RETURNING), send them, and record the outcomes in batches. A claimed row is
"sending" until its outcome is written; after a crash the next deliverer puts those back in the
queue (`requeue_claimed`), which is the only way a message can be sent twice. Each claim is
counted in the same statement that takes it, and the count drops again when the claim's outcome
is written: a row left claimed MAX_CLAIMS times (a message that kills the deliverer whenever it
is sent) is failed instead of claimed again, so even a crash loop sends it at most that often.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Integer,
    Text,
    and_,
    bindparam,
    case,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import CursorResult, Dialect, Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.schema import Table
from sqlalchemy.types import TypeEngine

from content.assemble import normalize_topic
from db import audience
from db.models import (
    ArticleRow,
    BroadcastRow,
    ChatRow,
    DeliveryRow,
    ReadingRow,
    UTCDateTime,
)
from db.store import dialect_insert, mark_chats_blocked

OPEN_BROADCAST_STATUSES = ("scheduled", "running")
UNFINISHED_DELIVERY_STATUSES = ("queued", "sending")
# Claims a delivery may be left with, without an outcome, before it is failed instead of claimed.
MAX_CLAIMS = 3


def _rowcount(result: Result[Any]) -> int:
    """Rows an INSERT or UPDATE touched (DML results are cursor results)."""
    return max(cast(CursorResult[Any], result).rowcount, 0)


class UnknownArticle(LookupError):
    """A broadcast names an article that is not stored."""


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery a worker now owns: who gets which broadcast, in which language."""

    broadcast_id: int
    chat_id: int
    attempts: int
    # This claim's number among those that have no outcome yet: above 1, an earlier one ended
    # without a word (its message may have been sent).
    claims: int = 1
    # Not claimed but failed: it had been claimed max_claims times without an outcome.
    given_up: bool = False
    # Sent without a notification: the reader is in quiet hours and chose "silent".
    silent: bool = False

    @property
    def key(self) -> tuple[int, int]:
        """The delivery's primary key."""
        return (self.broadcast_id, self.chat_id)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one claimed delivery; written back by record_outcomes."""

    broadcast_id: int
    chat_id: int
    status: str  # sent, skipped, failed, dropped, or queued again for a retry
    attempts: int
    message_id: int | None = None
    sent_at: datetime | None = None
    not_before: datetime | None = None
    error: str | None = None
    # Telegram said the chat is unreachable (blocked, kicked, deleted): stop sending to it.
    chat_gone: bool = False


# Scheduling


async def create_broadcast(
    *,
    session: AsyncSession,
    article_id: int,
    due_at: datetime,
    now: datetime,
    topic: str | None = None,
    created_by: int | None = None,
    breaking: bool = False,
) -> BroadcastRow:
    """Schedule a broadcast of a stored article; UnknownArticle when there is none."""
    if await session.get(ArticleRow, article_id) is None:
        raise UnknownArticle(f"no article with id {article_id}")
    wanted = normalize_topic(topic) if topic is not None else None
    if wanted == "":
        raise ValueError("empty topic")
    row = BroadcastRow(
        article_id=article_id,
        topic=wanted,
        status="scheduled",
        due_at=due_at,
        created_at=now,
        created_by=created_by,
        target_count=0,
        breaking=breaking,
    )
    session.add(row)
    await session.flush()
    return row


async def get_broadcast(*, session: AsyncSession, broadcast_id: int) -> BroadcastRow | None:
    """Return the broadcast with this id, or None."""
    return await session.get(BroadcastRow, broadcast_id)


async def list_broadcasts(*, session: AsyncSession, limit: int = 20) -> list[BroadcastRow]:
    """Return the newest broadcasts first."""
    stmt = select(BroadcastRow).order_by(BroadcastRow.id.desc()).limit(limit)
    return list(await session.scalars(stmt))


async def scheduled_broadcasts(*, session: AsyncSession) -> list[BroadcastRow]:
    """Return the broadcasts waiting to start, earliest first."""
    stmt = (
        select(BroadcastRow)
        .where(BroadcastRow.status == "scheduled")
        .order_by(BroadcastRow.due_at, BroadcastRow.id)
    )
    return list(await session.scalars(stmt))


async def start_broadcast(
    *, session: AsyncSession, broadcast_id: int, now: datetime, zone: str = "UTC"
) -> int | None:
    """Mark a scheduled broadcast running and queue one delivery per target chat.

    Who the targets are and when each is due is db.audience's (`zone`: readers' default zone).

    Returns how many deliveries were queued, or None when the broadcast was not scheduled (already
    started by another call, cancelled, missed or unknown): starting is idempotent.
    """
    started = await session.scalar(
        update(BroadcastRow)
        .where(BroadcastRow.id == broadcast_id, BroadcastRow.status == "scheduled")
        .values(status="running", started_at=now)
        .returning(BroadcastRow.id)
    )
    if started is None:
        return None
    broadcast = await session.get(BroadcastRow, broadcast_id, populate_existing=True)
    assert broadcast is not None  # updated just above, in this transaction
    queued = await audience.fan_out(session=session, broadcast=broadcast, now=now, zone=zone)
    await session.execute(
        update(BroadcastRow).where(BroadcastRow.id == broadcast_id).values(target_count=queued)
    )
    return queued


async def mark_missed(*, session: AsyncSession, broadcast_id: int, now: datetime) -> bool:
    """Give up on a scheduled broadcast that is too late to send; return whether it was one."""
    missed = await session.scalar(
        update(BroadcastRow)
        .where(BroadcastRow.id == broadcast_id, BroadcastRow.status == "scheduled")
        .values(status="missed", finished_at=now)
        .returning(BroadcastRow.id)
    )
    return missed is not None


async def cancel_broadcast(
    *, session: AsyncSession, broadcast_id: int, now: datetime
) -> int | None:
    """Cancel a scheduled or running broadcast, dropping its unsent deliveries.

    Returns how many deliveries were dropped, or None when there was nothing to cancel (unknown,
    finished or already cancelled). Deliveries already in a worker's hands finish as they go.
    """
    cancelled = await session.scalar(
        update(BroadcastRow)
        .where(
            BroadcastRow.id == broadcast_id,
            BroadcastRow.status.in_(OPEN_BROADCAST_STATUSES),
        )
        .values(status="cancelled", finished_at=now)
        .returning(BroadcastRow.id)
    )
    if cancelled is None:
        return None
    result = await session.execute(
        update(DeliveryRow)
        .where(DeliveryRow.broadcast_id == broadcast_id, DeliveryRow.status == "queued")
        .values(status="dropped", error="cancelled")
    )
    return _rowcount(result)


# Delivering


async def requeue_claimed(*, session: AsyncSession) -> int:
    """Put deliveries claimed by a deliverer that died back in the queue; return how many.

    Only the process holding the delivery lock may call this: it is then the only deliverer, so
    every claimed row belongs to one that is gone.
    """
    result = await session.execute(
        update(DeliveryRow).where(DeliveryRow.status == "sending").values(status="queued")
    )
    return _rowcount(result)


def _end_claim(
    status: ColumnElement[str] | InstrumentedAttribute[str],
    claims: ColumnElement[int] | InstrumentedAttribute[int],
) -> ColumnElement[int]:
    """The claim count once a row's claim has ended: one fewer, if the row is still claimed
    (so that writing the same outcome twice takes off one claim only)."""
    return case((and_(status == "sending", claims > 0), claims - 1), else_=claims)


async def requeue_deliveries(*, session: AsyncSession, keys: Collection[tuple[int, int]]) -> int:
    """Put back claimed deliveries, by (broadcast id, chat id), that were never sent.

    Unlike requeue_claimed this is for claims known not to have left: their claim does not
    count against the cap. Returns how many were put back.
    """
    if not keys:
        return 0
    result = await session.execute(
        update(DeliveryRow)
        .where(
            tuple_(DeliveryRow.broadcast_id, DeliveryRow.chat_id).in_(sorted(keys)),
            DeliveryRow.status == "sending",
        )
        .values(status="queued", claims=_end_claim(DeliveryRow.status, DeliveryRow.claims))
    )
    return _rowcount(result)


def given_up_reason(max_claims: int) -> str:
    """The error stored with a delivery failed for having been claimed too often."""
    return f"claimed {max_claims} times without an outcome"


async def claim_deliveries(
    *, session: AsyncSession, limit: int, now: datetime, max_claims: int = MAX_CLAIMS
) -> list[Claim]:
    """Claim up to limit queued deliveries of running broadcasts that are due, oldest first.

    A row already claimed max_claims times without an outcome is failed by the same statement
    instead, and returned with given_up set (the caller sends nothing for it).
    """
    due = (
        select(DeliveryRow.broadcast_id, DeliveryRow.chat_id)
        .join(BroadcastRow, BroadcastRow.id == DeliveryRow.broadcast_id)
        .where(
            BroadcastRow.status == "running",
            DeliveryRow.status == "queued",
            or_(DeliveryRow.not_before.is_(None), DeliveryRow.not_before <= now),
        )
        .order_by(DeliveryRow.broadcast_id, DeliveryRow.chat_id)
        .limit(limit)
        # PostgreSQL: rows another worker is claiming are skipped, not waited for. SQLite drops
        # the clause; its single UPDATE statement is atomic on its own.
        .with_for_update(skip_locked=True, of=DeliveryRow)
    )
    # SET expressions read the row as it was before this UPDATE, on both databases.
    exhausted = DeliveryRow.claims >= max_claims
    stmt = (
        update(DeliveryRow)
        .where(tuple_(DeliveryRow.broadcast_id, DeliveryRow.chat_id).in_(due))
        .values(
            status=case((exhausted, "failed"), else_="sending"),
            claims=case((exhausted, DeliveryRow.claims), else_=DeliveryRow.claims + 1),
            error=case((exhausted, given_up_reason(max_claims)), else_=DeliveryRow.error),
            claimed_at=now,
        )
        .returning(
            DeliveryRow.broadcast_id,
            DeliveryRow.chat_id,
            DeliveryRow.attempts,
            DeliveryRow.claims,
            DeliveryRow.status,
            DeliveryRow.silent,
        )
    )
    rows = (await session.execute(stmt)).all()
    claims = [
        Claim(
            row.broadcast_id,
            row.chat_id,
            row.attempts,
            row.claims,
            row.status == "failed",
            bool(row.silent),
        )
        for row in rows
    ]
    # RETURNING gives no order; send in the order that was claimed.
    claims.sort(key=lambda claim: (claim.broadcast_id, claim.chat_id))
    return claims


async def record_outcomes(
    *, session: AsyncSession, outcomes: Sequence[Outcome], now: datetime
) -> None:
    """Write what happened to claimed deliveries (one batched UPDATE) and mark gone chats.

    Each outcome ends its claim, so the row's count of claims without an outcome drops by one.
    """
    if not outcomes:
        return
    await mark_chats_blocked(
        session=session, chat_ids={o.chat_id for o in outcomes if o.chat_gone}, now=now
    )
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        await session.execute(_RECORD_FROM_ARRAYS, _as_arrays(outcomes))
    elif dialect.name == "sqlite":
        await session.execute(_RECORD_FROM_JSON, {"outcomes": _as_json(outcomes, dialect)})
    else:
        raise NotImplementedError(f"unsupported database dialect: {dialect.name}")


_DELIVERIES = cast(Table, DeliveryRow.__table__)
# PostgreSQL: the whole batch as one statement over arrays, one array per column: the server
# plans and runs one UPDATE instead of one per row, and asyncpg encodes each array at once.
_OUTCOME_COLUMNS: tuple[tuple[str, TypeEngine[Any]], ...] = (
    ("broadcast_id", BigInteger()),
    ("chat_id", BigInteger()),
    ("status", Text()),
    ("attempts", Integer()),
    ("message_id", BigInteger()),
    ("sent_at", UTCDateTime()),
    ("not_before", UTCDateTime()),
    ("error", Text()),
)
_OUTCOMES = (
    func.unnest(*(bindparam(f"{name}s", type_=ARRAY(kind)) for name, kind in _OUTCOME_COLUMNS))
    .table_valued(*(column(name, kind) for name, kind in _OUTCOME_COLUMNS))
    .render_derived(name="outcome")
)
_RECORD_FROM_ARRAYS = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.broadcast_id == _OUTCOMES.c.broadcast_id,
        _DELIVERIES.c.chat_id == _OUTCOMES.c.chat_id,
    )
    .values(
        status=_OUTCOMES.c.status,
        attempts=_OUTCOMES.c.attempts,
        claims=_end_claim(_DELIVERIES.c.status, _DELIVERIES.c.claims),
        message_id=_OUTCOMES.c.message_id,
        sent_at=_OUTCOMES.c.sent_at,
        not_before=_OUTCOMES.c.not_before,
        error=_OUTCOMES.c.error,
    )
)


# SQLite: the whole batch as one statement over a JSON array, one bound value: each row is then a
# primary-key lookup in C, where one UPDATE per outcome (executemany) spent most of its time in
# Python, converting every row's parameters.
_JSON_ROWS = func.json_each(bindparam("outcomes")).table_valued("value").alias("outcome")


def _field(name: str) -> ColumnElement[Any]:
    return func.json_extract(_JSON_ROWS.c.value, literal_column(f"'$.{name}'"))


_RECORD_FROM_JSON = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.broadcast_id == _field("broadcast_id"),
        _DELIVERIES.c.chat_id == _field("chat_id"),
    )
    .values(
        status=_field("status"),
        attempts=_field("attempts"),
        claims=_end_claim(_DELIVERIES.c.status, _DELIVERIES.c.claims),
        message_id=_field("message_id"),
        sent_at=_field("sent_at"),
        not_before=_field("not_before"),
        error=_field("error"),
    )
)


def _as_json(outcomes: Sequence[Outcome], dialect: Dialect) -> str:
    """The outcomes as _RECORD_FROM_JSON takes them: times as the column stores them.

    The last outcome of a row is kept, as for _as_arrays.
    """
    stored = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)

    def stamp(value: datetime | None) -> Any:
        if value is None or stored is None:
            return value
        return stored(value)

    return json.dumps(
        [
            {
                "broadcast_id": o.broadcast_id,
                "chat_id": o.chat_id,
                "status": o.status,
                "attempts": o.attempts,
                "message_id": o.message_id,
                "sent_at": stamp(o.sent_at),
                "not_before": stamp(o.not_before),
                "error": o.error,
            }
            for o in _last_of_each_row(outcomes)
        ]
    )


def _as_arrays(outcomes: Sequence[Outcome]) -> dict[str, list[Any]]:
    """The outcomes column by column, as _RECORD_FROM_ARRAYS takes them.

    A row joined twice would get one of its outcomes, unpredictably: the last one is kept, as
    one UPDATE per outcome, in order, would leave it.
    """
    latest = _last_of_each_row(outcomes)
    return {f"{name}s": [getattr(o, name) for o in latest] for name, _ in _OUTCOME_COLUMNS}


def _last_of_each_row(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The last outcome of each delivery row, in the order the rows first came."""
    return list({(o.broadcast_id, o.chat_id): o for o in outcomes}.values())


async def queue_delivery(*, session: AsyncSession, broadcast_id: int, chat_id: int) -> bool:
    """Add one chat to a broadcast (a group that migrated); False when it already has a copy."""
    stmt = (
        dialect_insert(session, DeliveryRow)
        .values(broadcast_id=broadcast_id, chat_id=chat_id, status="queued", attempts=0)
        .on_conflict_do_nothing()
        .returning(DeliveryRow.chat_id)
    )
    added = await session.scalar(stmt) is not None
    if added:
        await session.execute(
            update(BroadcastRow)
            .where(BroadcastRow.id == broadcast_id)
            .values(target_count=BroadcastRow.target_count + 1)
        )
    return added


async def running_broadcast_ids(*, session: AsyncSession) -> set[int]:
    """Return the ids of the broadcasts being delivered."""
    rows = await session.scalars(select(BroadcastRow.id).where(BroadcastRow.status == "running"))
    return set(rows)


async def finish_broadcasts(*, session: AsyncSession, now: datetime) -> list[int]:
    """Mark done every running broadcast with nothing left to send; return their ids."""
    unfinished = exists().where(
        DeliveryRow.broadcast_id == BroadcastRow.id,
        DeliveryRow.status.in_(UNFINISHED_DELIVERY_STATUSES),
    )
    rows = await session.scalars(
        update(BroadcastRow)
        .where(BroadcastRow.status == "running", ~unfinished)
        .values(status="done", finished_at=now)
        .returning(BroadcastRow.id)
    )
    return sorted(rows)


async def chat_languages(
    *, session: AsyncSession, chat_ids: Collection[int]
) -> dict[int, tuple[bool, str | None, str | None]]:
    """Return (active, chosen language, Telegram language) for each known chat."""
    rows = await session.execute(
        select(ChatRow.chat_id, ChatRow.active, ChatRow.language, ChatRow.telegram_language).where(
            ChatRow.chat_id.in_(list(chat_ids))
        )
    )
    return {row.chat_id: (row.active, row.language, row.telegram_language) for row in rows}


# Reporting


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a broadcast has come, by delivery status, and how many readers opened it."""

    broadcast: BroadcastRow
    queued: int
    sending: int
    sent: int
    skipped: int
    failed: int
    dropped: int
    readers: int
    # Why Telegram refused the article's photo (its cards then went out as text), if it did.
    photo_refused: str | None = None

    @property
    def finished(self) -> int:
        """Deliveries with a final outcome."""
        return self.sent + self.skipped + self.failed + self.dropped


async def broadcast_progress(*, session: AsyncSession, broadcast_id: int) -> Progress | None:
    """Count a broadcast's deliveries by status and the readers who pressed "Read more"."""
    broadcast = await session.get(BroadcastRow, broadcast_id, populate_existing=True)
    if broadcast is None:
        return None
    rows = await session.execute(
        select(DeliveryRow.status, func.count())
        .where(DeliveryRow.broadcast_id == broadcast_id)
        .group_by(DeliveryRow.status)
    )
    counts: dict[str, int] = {status: count for status, count in rows}
    # A reader of this broadcast: a chat it reached that opened the article past its card.
    readers = await session.scalar(
        select(func.count())
        .select_from(ReadingRow)
        .join(
            DeliveryRow,
            and_(
                DeliveryRow.chat_id == ReadingRow.chat_id,
                DeliveryRow.broadcast_id == broadcast_id,
                DeliveryRow.status == "sent",
            ),
        )
        .where(
            ReadingRow.article_id == broadcast.article_id,
            # Only openings after the push count for it.
            ReadingRow.updated_at >= DeliveryRow.sent_at,
        )
    )
    return Progress(
        broadcast=broadcast,
        queued=counts.get("queued", 0),
        sending=counts.get("sending", 0),
        sent=counts.get("sent", 0),
        skipped=counts.get("skipped", 0),
        failed=counts.get("failed", 0),
        dropped=counts.get("dropped", 0),
        readers=readers or 0,
        photo_refused=await session.scalar(
            select(ArticleRow.photo_refused).where(ArticleRow.id == broadcast.article_id)
        ),
    )


async def running_counts(*, session: AsyncSession) -> dict[int, dict[str, int]]:
    """Deliveries of every running broadcast, counted by status (for metrics)."""
    rows = await session.execute(
        select(DeliveryRow.broadcast_id, DeliveryRow.status, func.count())
        .join(BroadcastRow, BroadcastRow.id == DeliveryRow.broadcast_id)
        .where(BroadcastRow.status == "running")
        .group_by(DeliveryRow.broadcast_id, DeliveryRow.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for broadcast, status, count in rows:
        counts.setdefault(broadcast, {})[status] = count
    return counts


async def audience_size(*, session: AsyncSession, article_id: int, topic: str | None) -> int:
    """How many active chats a broadcast of this article (and topic) would reach if it started now.

    The same choice of chats as `start_broadcast`, counted instead of queued: what an editor sees
    of a scheduled broadcast before it is sent (quiet hours, digests and caps only delay).
    """
    article = await session.get(ArticleRow, article_id)
    if article is None:
        return 0
    target = await audience.targets(session=session, article=article, topic=topic)
    count = await session.scalar(select(func.count()).select_from(ChatRow).where(target))
    return count or 0


async def article_titles(*, session: AsyncSession, article_ids: Collection[int]) -> dict[int, str]:
    """The titles of these articles, by id (missing ids are left out)."""
    if not article_ids:
        return {}
    rows = await session.execute(
        select(ArticleRow.id, ArticleRow.title).where(ArticleRow.id.in_(sorted(set(article_ids))))
    )
    return {article_id: title for article_id, title in rows}
