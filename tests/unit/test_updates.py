"""What the bot asks Telegram for, and how long it remembers update ids."""

from __future__ import annotations

import pytest
from telegram.ext import PollAnswerHandler

from bot.ops.metrics import Metrics
from bot.settings import Settings
from bot.telegram.app import NewsApp, build_application
from bot.telegram.updates import allowed_updates


@pytest.fixture
def app() -> NewsApp:
    settings = Settings(_env_file=None, token="123456:TEST-token")  # type: ignore[call-arg]
    return build_application(settings, Metrics())


def test_telegram_is_asked_for_what_the_handlers_take(app: NewsApp) -> None:
    assert allowed_updates(app) == ["callback_query", "inline_query", "message", "my_chat_member"]


def test_an_unknown_kind_of_handler_is_refused_rather_than_left_unasked(app: NewsApp) -> None:
    async def nothing(update: object, context: object) -> None:
        return None

    app.add_handler(PollAnswerHandler(nothing))
    with pytest.raises(TypeError, match="PollAnswerHandler"):
        allowed_updates(app)


def test_old_update_ids_are_forgotten_every_hour(app: NewsApp) -> None:
    assert app.job_queue is not None
    (job,) = app.job_queue.get_jobs_by_name("forget-updates")
    assert job.job.trigger.interval.total_seconds() == 3600
