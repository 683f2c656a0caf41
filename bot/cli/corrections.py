"""Corrections and retractions: `newsbot correct` and `newsbot retract`."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import guarded, id_argument, with_store
from bot.newsroom import corrections
from bot.newsroom.clock import utcnow
from bot.settings import Settings


def correct(
    article_id: Annotated[int, typer.Argument(help="the stored article's id", parser=id_argument)],
) -> None:
    """Edit the article's card, as it now reads, in every chat it was pushed to."""

    def run() -> None:
        job = with_store(
            Settings(),
            lambda session: corrections.correct(
                session=session, article_id=article_id, now=utcnow()
            ),
        )
        row = job.broadcast
        print(
            f"correction #{row.id}: article {article_id}, {row.target_count} chats to edit "
            f"(the running bot does it; follow with `newsbot stats {row.id}`)"
        )

    guarded(run)


def retract(
    article_id: Annotated[int, typer.Argument(help="the stored article's id", parser=id_argument)],
) -> None:
    """Withdraw the article: stop its broadcasts and delete its card everywhere."""

    def run() -> None:
        job = with_store(
            Settings(),
            lambda session: corrections.retract(
                session=session, article_id=article_id, now=utcnow()
            ),
        )
        row = job.broadcast
        stopped = f"; stopped broadcasts {', '.join(f'#{i}' for i in job.cancelled)}"
        print(
            f"retraction #{row.id}: article {article_id} withdrawn, {row.target_count} chats "
            f"to delete it from{stopped if job.cancelled else ''}"
        )

    guarded(run)
