"""Finding stories in the chat: `/search WORDS`, its "More" button, and inline mode
(`@bot words` in any chat). The finding itself is bot.newsroom.search."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from telegram import (
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, InlineQueryHandler

from bot.newsroom.search import (
    MAX_QUERY_CHARS,
    Refusal,
    forget_old_searches,
    inline_stories,
    search_page,
    search_stories,
)
from bot.telegram.callbacks import SearchPage, parse_callback
from bot.telegram.context import Context
from bot.telegram.handlers.common import enter, send
from bot.telegram.messages import Message, fit, link_card, one_line, search_results
from bot.telegram.texts import LANGUAGES, text
from bot.telegram.updates import NEW_MESSAGE
from content.summary import shorten
from db.models import ArticleRow
from db.session import unit_of_work

log = logging.getLogger(__name__)

INLINE_CACHE_SECONDS = 30  # Telegram may show the same answer again for this long
INLINE_TITLE_LIMIT = 120
INLINE_DESCRIPTION_LIMIT = 150
FORGET_INTERVAL = 3600.0  # seconds between prunings of expired searches
MAX_OFFSET_CHARS = 4  # an inline offset is a small number we gave out ourselves


class PerUserLimit:
    """At most `limit` requests per `window` seconds from each user, counted in this process.

    Inline queries come from anyone, one per keystroke: the limit keeps a fast typist or a
    script from turning the bot into a search engine for others. Memory stays bounded: users
    with no recent request are dropped when the table grows.
    """

    def __init__(
        self,
        limit: int = 30,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_users = max_users
        self._recent: dict[int, deque[float]] = {}

    def allow(self, user_id: int) -> bool:
        """Count one request; whether it is within the limit."""
        now = self.clock()
        recent = self._recent.get(user_id)
        if recent is None:
            if len(self._recent) >= self.max_users:
                self._sweep(now)
            recent = self._recent[user_id] = deque()
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(recent) >= self.limit:
            return False
        recent.append(now)
        return True

    def _sweep(self, now: float) -> None:
        idle = [user for user, times in self._recent.items() if times[-1] <= now - self.window]
        for user in idle:
            del self._recent[user]
        if len(self._recent) >= self.max_users:  # all busy: forget the oldest half
            for user in list(self._recent)[: len(self._recent) // 2]:
                del self._recent[user]


def _query_words(update: Update) -> str:
    """What follows the command in the message (`/search@bot words` too)."""
    message = update.effective_message
    parts = (message.text or "").split(maxsplit=1) if message is not None else []
    return parts[1] if len(parts) > 1 else ""


async def search_command(update: Update, context: Context) -> None:
    """/search WORDS: the first ten stories holding the words, best first."""
    words = _query_words(update)
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
        found = await search_stories(session=session, text=words, now=context.bot_data.clock())
    if found is Refusal.EMPTY:
        reply: Message = (text(language, "search_usage"), None)
    elif found is Refusal.TOO_LONG:
        reply = (text(language, "search_too_long", limit=MAX_QUERY_CHARS), None)
    else:
        assert not isinstance(found, Refusal)
        reply = search_results(found, language)
    await send(context, chat_id, reply)


async def more_results(update: Update, context: Context) -> None:
    """A search's "More": the next page as a new message; the pressed button goes away."""
    query = update.callback_query
    if query is None:
        return
    action = parse_callback(query.data)
    if not isinstance(action, SearchPage):  # pragma: no cover - the pattern let it through
        return
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
        results = await search_page(
            session=session, key=action.key, page=action.page, now=context.bot_data.clock()
        )
    if results is None:
        notice = text(language, "search_expired")
        if not await _answer_press(query.answer, notice):
            await context.bot.send_message(chat_id, notice)
        return
    await send(context, chat_id, search_results(results, language))
    await _answer_press(query.answer, None)
    pressed = query.message
    markup = getattr(pressed, "reply_markup", None)
    if pressed is None or not isinstance(markup, InlineKeyboardMarkup):
        return
    rows = [
        [b for b in row if not isinstance(_parsed(b.callback_data), SearchPage)]
        for row in markup.inline_keyboard
    ]
    kept = InlineKeyboardMarkup([row for row in rows if row])
    try:
        await context.bot.edit_message_reply_markup(chat_id, pressed.message_id, reply_markup=kept)
    except TelegramError as error:  # tidying only: the page has been sent
        log.debug("could not remove the More button in chat %s: %s", chat_id, error)


def _parsed(data: object) -> object:
    return parse_callback(data) if isinstance(data, str) else None


async def _answer_press(answer: Callable[..., Any], notice: str | None) -> bool:
    try:
        await answer(notice)
    except TelegramError as error:
        log.debug("could not answer a button press: %s", error)
        return False
    return True


def _result(
    article: ArticleRow, default_language: str, bot_username: str
) -> InlineQueryResultArticle:
    # The card is in the story's own language: it is posted for others, and the answer is
    # shared between users (is_personal false).
    language = article.language if article.language in LANGUAGES else default_language
    body, keyboard = link_card(article, language, bot_username=bot_username)
    title = fit(one_line(article.title), INLINE_TITLE_LIMIT) or f"#{article.id}"
    return InlineQueryResultArticle(
        id=str(article.id),
        title=title,
        description=shorten(one_line(article.summary or ""), INLINE_DESCRIPTION_LIMIT) or None,
        input_message_content=InputTextMessageContent(body, parse_mode=ParseMode.HTML),
        reply_markup=keyboard,
    )


def _offset(value: str) -> int | None:
    if not value:
        return 0
    if len(value) > MAX_OFFSET_CHARS or not value.isascii() or not value.isdigit():
        return None
    return int(value)


async def inline_query(update: Update, context: Context, limiter: PerUserLimit) -> None:
    """`@bot words` in any chat: matching stories (the latest for no words), read-only."""
    query = update.inline_query
    if query is None:
        return
    if not limiter.allow(query.from_user.id):
        # Nothing is looked up; the empty answer is this user's only and is not cached.
        await _answer_inline(query, [], None, cache_time=0, personal=True)
        return
    offset = _offset(query.offset)
    articles: list[ArticleRow] = []
    following = None
    if offset is not None:
        async with unit_of_work(context.bot_data.sessionmaker, read_only=True) as session:
            articles, following = await inline_stories(
                session=session, text=query.query, offset=offset
            )
    default = context.bot_data.settings.language
    results = [_result(article, default, context.bot.username) for article in articles]
    await _answer_inline(query, results, following, cache_time=INLINE_CACHE_SECONDS)


async def _answer_inline(
    query: InlineQuery,
    results: list[InlineQueryResultArticle],
    following: int | None,
    *,
    cache_time: int,
    personal: bool = False,
) -> None:
    """Answer an inline query; a refusal (the query expired, say) is logged, not raised."""
    try:
        await query.answer(
            results,
            cache_time=cache_time,
            is_personal=personal,
            # None, not "": python-telegram-bot 22.8 with Defaults sends an empty string as
            # "[]" (it takes it for an empty list of poll options), which clients would echo.
            next_offset=str(following) if following is not None else None,
        )
    except TelegramError as error:
        log.info("inline query %s not answered: %s", query.id, error)


async def forget_searches(context: Context) -> None:
    """Prune the searches whose "More" buttons have expired."""
    async with context.bot_data.unit_of_work() as session:
        forgotten = await forget_old_searches(session=session, now=context.bot_data.clock())
    log.debug("forgot %d searches", forgotten)


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """/search, its "More" buttons and inline queries; must come before the reader's buttons."""
    limiter = PerUserLimit()

    async def on_inline_query(update: Update, context: Context) -> None:
        await inline_query(update, context, limiter)

    app.add_handler(CommandHandler("search", search_command, filters=NEW_MESSAGE))
    app.add_handler(
        CallbackQueryHandler(
            more_results, pattern=lambda data: isinstance(_parsed(data), SearchPage)
        )
    )
    app.add_handler(InlineQueryHandler(on_inline_query))
    if app.job_queue is not None:
        app.job_queue.run_repeating(
            forget_searches, interval=FORGET_INTERVAL, first=120, name="forget-searches"
        )
