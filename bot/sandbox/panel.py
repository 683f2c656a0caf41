"""The operator's side panel of the web chat: stored articles and each broadcast's progress."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

import db.broadcasts
from bot.newsroom import broadcasts
from bot.newsroom.clock import local_time
from bot.sandbox.botapi.state import JsonDict
from db import store
from db.broadcasts import Progress
from db.models import ArticleRow

ARTICLE_COUNT = 20
BROADCAST_COUNT = 10


def article_json(row: ArticleRow, audience: int | None = None) -> JsonDict:
    """An article as the panel lists it, with the readers a publish now would reach."""
    return {
        "id": row.id,
        "title": row.title,
        "language": row.language,
        "sections": row.section_count,
        "topics": row.topic_names,
        "audience": audience,
    }


def progress_json(
    progress: Progress, zone: ZoneInfo, details: broadcasts.Details | None = None
) -> JsonDict:
    """A broadcast and its deliveries by outcome, as the panel's progress bar shows them.

    `audience` is what a scheduled broadcast would reach if it started now (its `targets` is
    0 until it starts); `readers` are those who opened "Read more".
    """
    b = progress.broadcast
    return {
        "id": b.id,
        "article_id": b.article_id,
        "title": details.title if details else None,
        "audience": details.audience if details else None,
        "kind": b.kind,
        "status": b.status,
        "topic": b.topic,
        "due": local_time(b.due_at, zone),
        "targets": b.target_count,
        "sent": progress.sent,
        "skipped": progress.skipped,
        "failed": progress.failed,
        "waiting": progress.queued + progress.sending,
        "dropped": progress.dropped,
        "finished": progress.finished,
        "readers": progress.readers,
    }


class StoreNewsroom:
    """Reads the panel's state from the bot's database, one short unit of work per look."""

    def __init__(
        self,
        unit_of_work: Callable[[], AbstractAsyncContextManager[AsyncSession]],
        *,
        timezone: str = "UTC",
    ) -> None:
        self._unit_of_work = unit_of_work
        self._zone = ZoneInfo(timezone)

    async def snapshot(self) -> JsonDict:
        """The newest articles, the newest broadcasts with their progress, the subscribers."""
        async with self._unit_of_work() as session:
            articles = await store.list_articles(session=session, limit=ARTICLE_COUNT)
            audiences = [
                await db.broadcasts.audience_size(session=session, article_id=row.id, topic=None)
                for row in articles
            ]
            found = await broadcasts.newest(session=session, limit=BROADCAST_COUNT)
            details = await broadcasts.details(session=session, rows=found)
            subscribers = await store.count_subscribers(session=session)
        return {
            "articles": [article_json(row, n) for row, n in zip(articles, audiences, strict=True)],
            "broadcasts": [
                progress_json(p, self._zone, details.get(p.broadcast.id)) for p in found
            ],
            "subscribers": subscribers,
            "timezone": self._zone.key,
        }
