"""Where a claimed delivery goes besides a reader's chat, looked up once per claimed batch.

A channel's card links to the bot instead of carrying "Read more"; a forum group may want a
story's topic in one of its threads (`/here`); a row of a correction or retraction acts on the
cards a push left in its chat. The Deliverer asks `routes` for a batch in the unit of work that
claimed it, and tells this module what Telegram said about a channel or a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ops import logs
from db import channels
from db import edits as edit_jobs
from db.broadcasts import Claim, Outcome
from db.session import unit_of_work

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Route:
    """How one claimed delivery is made, beyond the chat and its language."""

    channel: bool = False
    # A correction or retraction: the story's cards in this chat.
    targets: tuple[edit_jobs.Target, ...] = ()
    # A forum thread the group asked this story's topic to go to.
    thread_id: int | None = None


PLAIN = Route()  # a push to a reader's chat


@dataclass(frozen=True, slots=True)
class Known:
    """What the Deliverer holds about a broadcast it sends: its kind, article and topic."""

    kind: str
    article_id: int
    revision: int
    topic: str | None


async def stale(*, session: AsyncSession, known: Mapping[int, Known]) -> set[int]:
    """The broadcasts whose article was revised (or removed) since the Deliverer read it: a push
    goes on with the new text, so a correction racing it need not edit what it sends later."""
    states = await edit_jobs.article_states(
        session=session, article_ids={story.article_id for story in known.values()}
    )
    return {
        broadcast_id
        for broadcast_id, story in known.items()
        if (state := states.get(story.article_id)) is None or state[0] != story.revision
    }


async def routes(
    *, session: AsyncSession, claims: Sequence[Claim], known: Mapping[int, Known]
) -> dict[tuple[int, int], Route]:
    """The route of every claim that is not a plain push to a reader's chat."""
    channel_ids = await channels.channel_ids(
        session=session, chat_ids={claim.chat_id for claim in claims if claim.chat_id < 0}
    )
    jobs: dict[int, list[Claim]] = {}
    groups: dict[int, list[Claim]] = {}
    for claim in claims:
        story = known.get(claim.broadcast_id)
        if story is None:
            continue
        if story.kind != "push":
            jobs.setdefault(claim.broadcast_id, []).append(claim)
        elif claim.chat_id < 0 and claim.chat_id not in channel_ids:
            groups.setdefault(claim.broadcast_id, []).append(claim)
    targets: dict[tuple[int, int], tuple[edit_jobs.Target, ...]] = {}
    for broadcast_id, batch in jobs.items():
        cards = await edit_jobs.targets(
            session=session,
            article_id=known[broadcast_id].article_id,
            chat_ids={claim.chat_id for claim in batch},
        )
        for claim in batch:
            targets[claim.key] = tuple(cards.get(claim.chat_id, ()))
    threads: dict[tuple[int, int], int] = {}
    for broadcast_id, batch in groups.items():
        found = await channels.threads_for(
            session=session,
            article_id=known[broadcast_id].article_id,
            chat_ids={claim.chat_id for claim in batch},
            topic=known[broadcast_id].topic,
        )
        for claim in batch:
            if claim.chat_id in found:
                threads[claim.key] = found[claim.chat_id]
    keys = {c.key for c in claims if c.chat_id in channel_ids} | targets.keys() | threads.keys()
    return {
        key: Route(key[1] in channel_ids, targets.get(key, ()), threads.get(key)) for key in keys
    }


async def note_channel(
    sessionmaker: async_sessionmaker[AsyncSession], outcome: Outcome, now: datetime
) -> None:
    """Keep Telegram's refusal to post to a channel where `/channels` shows it (once per
    broadcast: a channel has one delivery in each); a post that went clears it. Never raises."""
    error = None if outcome.status == "sent" else outcome.error
    if error is not None:
        log.warning(
            "could not post to channel %s: %s",
            outcome.chat_id,
            error,
            extra=logs.about(outcome.broadcast_id),
        )
    try:
        async with unit_of_work(sessionmaker) as session:
            await channels.record_channel_error(
                session=session, chat_id=outcome.chat_id, error=error, now=now
            )
    except Exception as failure:
        log.warning("could not note the state of channel %s: %s", outcome.chat_id, failure)


async def forget_thread(
    sessionmaker: async_sessionmaker[AsyncSession], claim: Claim, thread_id: int
) -> None:
    """The group's forum thread was deleted: its topics go to the group itself from now on."""
    async with unit_of_work(sessionmaker) as session:
        await channels.forget_thread(session=session, chat_id=claim.chat_id, thread_id=thread_id)
    log.warning(
        "forum thread %s of chat %s is gone; its topics go to the group's main thread",
        thread_id,
        claim.chat_id,
        extra=logs.about(claim.broadcast_id),
    )
