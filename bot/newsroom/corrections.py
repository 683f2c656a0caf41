"""Correcting and retracting a story that was pushed: the jobs that edit or delete its cards.

`newsbot correct` / `retract`, the operators' `/correct` / `/retract` and the sandbox's newsroom
call these in their unit of work. A job is a broadcast of kind "correct" or "retract": the
deliverer claims, paces and records its rows like a push's, so its progress shows in `/stats`
and `newsbot stats`, and a crash resumes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import db.edits
import db.revisions
import db.signals
import db.store
from bot.newsroom import refusals
from db.models import ArticleRow, BroadcastRow


@dataclass(frozen=True, slots=True)
class Job:
    """A correction or retraction just started, and the pushes a retraction stopped."""

    broadcast: BroadcastRow
    cancelled: list[int]


async def correct(
    *, session: AsyncSession, article_id: int, now: datetime, created_by: int | None = None
) -> Job:
    """Edit the article's card, as it now reads, in every chat it reached.

    Refusals: NoArticle, Withdrawn, JobStillRunning, NeverPushed. A push still running goes on
    with the new text, so the job edits only the cards sent before.
    """
    article = await db.store.get_article(session=session, article_id=article_id)
    if article is None:
        raise refusals.NoArticle(article_id)
    if article.retracted_at is not None:
        raise refusals.Withdrawn(article_id)
    await _not_running(session, article_id)
    if not await db.edits.was_pushed(session=session, article_id=article_id):
        raise refusals.NeverPushed(article_id)
    row = await db.edits.create_job(
        session=session, article_id=article_id, kind="correct", now=now, created_by=created_by
    )
    await db.signals.announce(session=session)
    return Job(row, [])


async def retract(
    *, session: AsyncSession, article_id: int, now: datetime, created_by: int | None = None
) -> Job:
    """Withdraw the article: stop its pushes, delete its cards (a note where Telegram refuses).

    Refusals: NoArticle, Withdrawn (already). A correction still running is stopped (what it
    has not edited yet is deleted anyway). An article never pushed is withdrawn all the same,
    with a job of no rows.
    """
    article = await db.store.get_article(session=session, article_id=article_id)
    if article is None:
        raise refusals.NoArticle(article_id)
    await _lock(session, article_id)
    if not await db.revisions.retract_article(session=session, article_id=article_id, now=now):
        raise refusals.Withdrawn(article_id)
    cancelled = await db.edits.cancel_pushes(session=session, article_id=article_id, now=now)
    row = await db.edits.create_job(
        session=session, article_id=article_id, kind="retract", now=now, created_by=created_by
    )
    await db.signals.announce(session=session)
    return Job(row, cancelled)


async def _lock(session: AsyncSession, article_id: int) -> None:
    # PostgreSQL: a second job asked at the same moment waits here for the first to commit,
    # and then sees it. (SQLite's write lock already makes them take turns.)
    await session.execute(
        select(ArticleRow.id).where(ArticleRow.id == article_id).with_for_update()
    )


async def _not_running(session: AsyncSession, article_id: int) -> None:
    await _lock(session, article_id)
    running = await db.edits.running_job(session=session, article_id=article_id)
    if running is not None:
        raise refusals.JobStillRunning(article_id, running)
