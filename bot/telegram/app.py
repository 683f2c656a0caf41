"""The Application: built from Settings with every handler; what it tells the operators."""

from __future__ import annotations

import asyncio
import html
import logging
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ApplicationBuilder, Defaults

from bot.delivery.pacing import Pacer
from bot.delivery.request import AiohttpRequest
from bot.ops.metrics import MeasuredUpdates, Metrics
from bot.settings import Settings
from bot.telegram import updates
from bot.telegram.context import CONTEXT_TYPES, BotData, Context
from bot.telegram.handlers import membership, operator, places, reader, search
from bot.telegram.handlers import settings as reader_settings
from bot.telegram.menu import menu_commands
from bot.telegram.texts import LANGUAGES, choose_language, text
from bot.telegram.updates import ReadingBot
from db import store
from db.models import BroadcastRow

log = logging.getLogger(__name__)

APOLOGY_TIMEOUT = 5.0  # seconds the error handler spends telling the reader, at most
REQUEST_POOL_SIZE = 64  # connections to the Bot API: sends in flight plus readers' replies

# PTB's builder types the context and job queue more loosely than it builds them.
NewsApp = Application[ReadingBot, Any, dict[Any, Any], dict[Any, Any], BotData, Any]


def build_application(settings: Settings, metrics: Metrics) -> NewsApp:
    """The bot, wired: custom API server, HTML by default, every handler registered.

    Nothing is opened here: `bot.ops.runtime.running_bot` opens the database and the rest.
    """
    if settings.token is None:
        raise ValueError("NEWSBOT_TOKEN is not set (the bot token from @BotFather)")
    # Built here rather than by the builder: its getUpdates skips an update it cannot read.
    news_bot = ReadingBot(
        token=settings.token.get_secret_value(),
        base_url=f"{settings.api_url}/bot",
        base_file_url=f"{settings.api_url}/file/bot",
        # PTB's default httpx layer tops out near 800 sends/s here, aiohttp near 3,600: the
        # request layer, not the bot, would be a broadcast's bottleneck.
        request=AiohttpRequest(connection_pool_size=REQUEST_POOL_SIZE),
        get_updates_request=AiohttpRequest(connection_pool_size=2),
        defaults=Defaults(
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
        rate_limiter=Pacer(
            rate=settings.reader_rate,
            paid_rate=settings.rate if settings.paid_broadcast else None,
        ),
    )
    app: NewsApp = (
        ApplicationBuilder()
        .bot(news_bot)
        .context_types(CONTEXT_TYPES)
        .concurrent_updates(MeasuredUpdates(metrics, settings.concurrent_updates))
        .build()
    )
    # Order matters: repeats stop first (group -1); commands (readers', then operators'),
    # buttons (a search's "More" before the reader's other buttons), membership changes, then
    # the catch-all.
    updates.register(app)
    reader_settings.register(
        app
    )  # before reader: its buttons are taken ahead of reader's catch-all
    search.register(app)
    reader.register(app)
    operator.register(app)
    places.register(app)
    membership.register(app)
    reader.register_fallback(app)
    app.add_error_handler(on_error)
    return app


async def publish_menus(app: NewsApp, default_language: str) -> None:
    """The command menu in every interface language, and the default for other clients."""
    await app.bot.set_my_commands(menu_commands(default_language))
    for language in LANGUAGES:
        await app.bot.set_my_commands(menu_commands(language), language_code=language)


async def tell_operators(app: NewsApp, message: str) -> None:
    """Send a notice to every operator; one who never started the bot is skipped."""
    for operator_id in app.bot_data.settings.operators:
        try:
            await app.bot.send_message(operator_id, message)
        except TelegramError as error:
            log.warning("could not tell operator %s: %s", operator_id, error)


async def report_missed(app: NewsApp, broadcast: BroadcastRow) -> None:
    """Tell the operators that a broadcast came too late to be sent."""
    language = app.bot_data.settings.language
    message = text(language, "broadcast_missed", id=broadcast.id, article=broadcast.article_id)
    await tell_operators(app, message)


async def report_feed_failure(app: NewsApp, source: str, reason: str) -> None:
    """Tell the operators that a feed could not be read (once per streak of failures)."""
    # Messages are HTML by default; a reason may quote the feed's markup.
    message = text(
        app.bot_data.settings.language,
        "feed_failed",
        source=html.escape(source),
        reason=html.escape(reason),
    )
    await tell_operators(app, message)


async def on_error(update: object, context: Context) -> None:
    """Log every failure; a reader who blocked the bot or vanished is marked unreachable."""
    error = context.error
    if isinstance(update, Update):
        context.bot_data.metrics.update_errors.inc()
    chat = update.effective_chat if isinstance(update, Update) else None
    unreachable = isinstance(error, Forbidden) or (
        isinstance(error, BadRequest) and "chat not found" in error.message.lower()
    )
    if unreachable and chat is not None:
        async with context.bot_data.unit_of_work() as session:
            await store.mark_chats_blocked(
                session=session, chat_ids={chat.id}, now=context.bot_data.clock()
            )
        log.info("chat %s is unreachable (%s); marked inactive", chat.id, error)
        return
    log.error("update %r failed", update, exc_info=error)
    if chat is not None and isinstance(update, Update):
        try:
            async with asyncio.timeout(APOLOGY_TIMEOUT):
                await apologize(update, context, chat.id)
        except Exception as failure:  # the reader may be unreachable too; one line is enough
            log.debug("could not tell chat %s that its update failed: %r", chat.id, failure)


async def apologize(update: Update, context: Context, chat_id: int) -> None:
    """Tell the reader, in their language, that their action failed and may be retried."""
    query = update.callback_query
    if query is not None:
        try:  # stops the client's spinner unless the handler got that far
            await query.answer()
        except TelegramError as error:
            log.debug("callback query %s was already answered: %s", query.id, error)
    user = update.effective_user
    chosen = None
    try:  # the database may be what failed: the Telegram language and the default remain
        async with context.bot_data.unit_of_work() as session:
            row = await store.get_chat(session=session, chat_id=chat_id)
            chosen = row.language if row is not None else None
    except Exception as error:
        log.debug("no language for chat %s: %r", chat_id, error)
    language = choose_language(
        chosen, user.language_code if user else None, context.bot_data.settings.language
    )
    await context.bot.send_message(chat_id, text(language, "something_went_wrong"))
