"""What every handler does first and last: register the chat, pick its language, send."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.delivery.cards import ArticlePhoto, CardSender
from bot.telegram.context import Context
from bot.telegram.messages import MAX_CAPTION_UTF16, Message, story_card
from bot.telegram.texts import choose_language
from db import store
from db.models import ArticleRow


async def enter(session: AsyncSession, update: Update, context: Context) -> tuple[int, str]:
    """Register the chat (a reader who writes to us can be reached again); its language."""
    chat = update.effective_chat
    if chat is None:
        raise ValueError("update without a chat")
    user = update.effective_user
    telegram_language = user.language_code if user else None
    default = context.bot_data.settings.language
    chosen = await store.enter_chat(
        session=session,
        chat_id=chat.id,
        kind=chat.type,
        telegram_language=telegram_language,
        now=context.bot_data.clock(),
        # A new chat is pushed the stories of its interface language; /edition changes that.
        edition=choose_language(None, telegram_language, default),
    )
    return chat.id, choose_language(chosen, telegram_language, default)


async def send(context: Context, chat_id: int, message: Message) -> None:
    """Send a message with its keyboard, if any."""
    body, keyboard = message
    await context.bot.send_message(chat_id, body, reply_markup=keyboard)


async def send_story(context: Context, chat_id: int, article: ArticleRow, language: str) -> None:
    """A story card a reader asked for: with its photo when it has one, as broadcasts send it."""
    cards = CardSender.for_settings(
        context.bot_data.settings, bot=context.bot, sessionmaker=context.bot_data.sessionmaker
    )
    try:
        await cards.send(
            chat_id,
            text=story_card(article, language, bot_username=context.bot.username),
            caption=lambda: story_card(
                article, language, bot_username=context.bot.username, limit=MAX_CAPTION_UTF16
            ),
            url=article.url,
            photo=ArticlePhoto.of(article),
        )
    finally:
        await cards.close()
