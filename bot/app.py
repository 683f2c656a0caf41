"""One function builds the Application from Settings and registers every handler."""

from __future__ import annotations

import logging
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import Application, ApplicationBuilder, Defaults, ExtBot

from bot.context import CONTEXT_TYPES, BotData, Context
from bot.handlers import reader
from bot.menu import menu_commands
from bot.settings import Settings
from bot.texts import LANGUAGES
from db import store
from db.session import create_engine, create_sessionmaker

log = logging.getLogger(__name__)

# PTB's builder types the context and job queue more loosely than it builds them.
NewsApp = Application[ExtBot[None], Any, dict[Any, Any], dict[Any, Any], BotData, Any]


def build_application(settings: Settings) -> NewsApp:
    """The bot, wired: custom API server, HTML by default, database opened in post_init."""
    if settings.token is None:
        raise ValueError("NEWSBOT_TOKEN is not set (the bot token from @BotFather)")
    app: NewsApp = (
        ApplicationBuilder()
        .token(settings.token.get_secret_value())
        .base_url(f"{settings.api_url}/bot")
        .base_file_url(f"{settings.api_url}/file/bot")
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .context_types(CONTEXT_TYPES)
        .post_init(open_resources)
        .post_shutdown(close_resources)
        .build()
    )
    app.bot_data.settings = settings
    # Order matters: commands (readers', then operators'), buttons, then the catch-all.
    reader.register(app)
    reader.register_fallback(app)
    app.add_error_handler(on_error)
    return app


async def open_resources(app: NewsApp) -> None:
    """Open the database and publish the command menu in both languages."""
    data = app.bot_data
    data.engine = create_engine(data.config.database_url)
    data.sessionmaker = create_sessionmaker(data.engine)
    await app.bot.set_my_commands(menu_commands(data.config.language))
    for language in LANGUAGES:
        await app.bot.set_my_commands(menu_commands(language), language_code=language)


async def close_resources(app: NewsApp) -> None:
    """Dispose of the database engine."""
    if app.bot_data.engine is not None:
        await app.bot_data.engine.dispose()
        app.bot_data.engine = None
        app.bot_data.sessionmaker = None


async def on_error(update: object, context: Context) -> None:
    """Log every failure; a reader who blocked the bot or vanished is marked unreachable."""
    error = context.error
    chat = update.effective_chat if isinstance(update, Update) else None
    unreachable = isinstance(error, Forbidden) or (
        isinstance(error, BadRequest) and "chat not found" in error.message.lower()
    )
    if unreachable and chat is not None:
        async with context.bot_data.unit_of_work() as session:
            await store.mark_chat_blocked(session=session, chat_id=chat.id)
        log.info("chat %s is unreachable (%s); marked inactive", chat.id, error)
        return
    log.error("update %r failed", update, exc_info=error)
