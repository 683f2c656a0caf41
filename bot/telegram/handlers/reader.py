"""What a reader can do: start, subscribe, browse the latest stories and read them section by
section. Every handler opens one unit of work, commits it, and only then talks to Telegram, so
no database transaction waits on the network."""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import BotCommandScopeChat, CallbackQuery, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.newsroom.ids import meant_as_id, parse_id
from bot.newsroom.search import related_to
from bot.telegram.callbacks import (
    Callback,
    OpenStory,
    ReadSection,
    SetLanguage,
    ShowLatest,
    ToggleTopic,
    TopicsPage,
    parse_callback,
    topic_key,
)
from bot.telegram.context import Context
from bot.telegram.handlers.common import enter, send, send_story
from bot.telegram.menu import menu_commands
from bot.telegram.messages import (
    ECHO_LIMIT,
    Message,
    echo,
    language_keyboard,
    latest_list,
    one_line,
    section_message,
    topics_keyboard,
)
from bot.telegram.texts import text
from bot.telegram.updates import FOR_THIS_BOT, NEW_MESSAGE
from content.assemble import normalize_topic
from content.summary import shorten
from db import store
from db.models import ALL_TOPICS, ArticleRow

log = logging.getLogger(__name__)

LATEST_COUNT = 5
TOPIC_MAX_CHARS = 48
_DEEP_LINK = re.compile(r"a([0-9]{1,20})")


async def start(update: Update, context: Context) -> None:
    """Greet, subscribe a new reader to all topics, and open a deep-linked story."""
    payload = context.args[0] if context.args else ""
    wanted = _DEEP_LINK.fullmatch(payload)
    article_id = parse_id(wanted.group(1)) if wanted else None
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
        if not await store.subscriptions(session=session, chat_id=chat_id):
            await store.subscribe(session=session, chat_id=chat_id, topic=None)
        article = (
            await store.get_article(session=session, article_id=article_id)
            if article_id is not None
            else None
        )
        missing = (
            await _missing_story(session, article_id, payload.removeprefix("a"))
            if payload and article is None
            else None
        )
    await context.bot.send_message(chat_id, text(language, "greeting"))
    if article is not None and article.retracted_at is not None:
        await context.bot.send_message(chat_id, text(language, "story_withdrawn"))
    elif article is not None:
        await send_story(context, chat_id, article, language)
    elif missing is not None:
        key, values = missing
        await context.bot.send_message(chat_id, text(language, key, **values))


async def _missing_story(
    session: AsyncSession, article_id: int | None, typed: str
) -> tuple[str, dict[str, str]]:
    """Why a story asked for by id is not there: never stored, or stored and since removed.

    Ids are given out in increasing order, so one above the highest stored was never a story.
    """
    if article_id is not None and article_id <= await store.newest_article_id(session=session):
        return "story_gone", {}
    return "no_such_story", {"id": echo(typed)}


async def help_command(update: Update, context: Context) -> None:
    """List the commands."""
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
    await context.bot.send_message(chat_id, text(language, "help"))


async def unknown(update: Update, context: Context) -> None:
    """Unknown commands and free text get the help, never silence."""
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
    await context.bot.send_message(
        chat_id, f"{text(language, 'unknown')}\n\n{text(language, 'help')}"
    )


def _topic_argument(context: Context) -> str | None:
    topic = " ".join(context.args or []).strip()
    return topic or None


async def subscribe(update: Update, context: Context) -> None:
    """/subscribe: all topics; /subscribe TOPIC: that topic (instead of "all")."""
    topic = _topic_argument(context)
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
        if topic is not None and len(topic) > TOPIC_MAX_CHARS:
            reply = text(language, "topic_too_long", limit=TOPIC_MAX_CHARS)
        elif topic is None:
            added = await store.subscribe(session=session, chat_id=chat_id, topic=None)
            reply = text(language, "subscribed_all" if added else "already_subscribed")
        elif normalize_topic(topic) not in (known := await store.known_topics(session=session)):
            # Most likely a typo: nothing is subscribed, and the topics there are are listed.
            listed = ("، " if language == "ar" else ", ").join(echo(name) for name in known)
            reply = text(language, "unknown_topic", topic=echo(topic), topics=listed or "-")
        else:
            # Naming a topic narrows the subscription: "all" would drown it out.
            await store.unsubscribe(session=session, chat_id=chat_id, topic=ALL_TOPICS)
            added = await store.subscribe(session=session, chat_id=chat_id, topic=topic)
            reply = (
                text(language, "subscribed_topic", topic=echo(topic))
                if added
                else text(language, "already_subscribed")
            )
    await context.bot.send_message(chat_id, reply)


async def unsubscribe(update: Update, context: Context) -> None:
    """/unsubscribe: everything; /unsubscribe TOPIC: that topic only."""
    topic = _topic_argument(context)
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
        removed = await store.unsubscribe(session=session, chat_id=chat_id, topic=topic)
    if topic is None:
        reply = text(language, "unsubscribed_all")
    else:
        key = "unsubscribed_topic" if removed else "not_subscribed"
        reply = text(language, key, topic=echo(topic))
    await context.bot.send_message(chat_id, reply)


async def topics(update: Update, context: Context) -> None:
    """Buttons to toggle each known topic."""
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
        message = await _topics_message(session, chat_id, language)
    await send(context, chat_id, message)


async def _topics_message(
    session: AsyncSession, chat_id: int, language: str, page: int = 1
) -> Message:
    subscribed = await store.subscriptions(session=session, chat_id=chat_id)
    known = await store.known_topics(session=session)
    listed = sorted(set(known) | (set(subscribed) - {ALL_TOPICS}))
    return topics_keyboard(listed, subscribed, language, page)


async def latest(update: Update, context: Context) -> None:
    """The newest stories of the reader's topics."""
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
        message = await _latest_message(session, chat_id, language)
    await send(context, chat_id, message)


async def _latest_message(session: AsyncSession, chat_id: int, language: str) -> Message:
    articles = await store.latest_for_chat(session=session, chat_id=chat_id, limit=LATEST_COUNT)
    return latest_list(articles, language)


async def summary(update: Update, context: Context) -> None:
    """/summary ID: that story's card; /summary: the story being read, else the newest one."""
    argument = (context.args or [""])[0]
    article: ArticleRow | None = None
    reply: Message | None = None  # when there is no story card to send
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
        if argument and parse_id(argument) is None and not meant_as_id(argument):
            reply = (text(language, "summary_usage"), None)
        else:
            if argument:
                article_id = parse_id(argument)  # None: a number no story can have
            else:
                reading = await store.current_reading(session=session, chat_id=chat_id)
                newest = await store.latest_for_chat(session=session, chat_id=chat_id, limit=1)
                article_id = reading.article_id if reading else (newest[0].id if newest else None)
            article = (
                await store.get_article(session=session, article_id=article_id)
                if article_id
                else None
            )
            if article is not None and article.retracted_at is not None:
                reply = (text(language, "story_withdrawn"), None)
                article = None
            elif article is None and argument:
                key, values = await _missing_story(session, article_id, argument)
                reply = (text(language, key, **values), None)
            elif article is None:
                reply = (text(language, "latest_none"), None)
    if article is not None:
        await send_story(context, chat_id, article, language)
    elif reply is not None:
        await send(context, chat_id, reply)


async def more(update: Update, context: Context) -> None:
    """The next section of the story being read."""
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
        reading = await store.current_reading(session=session, chat_id=chat_id)
        if reading is None:
            reply: Message = (text(language, "nothing_to_continue"), None)
        else:
            reply = await _read(
                session,
                chat_id,
                language,
                reading.article_id,
                reading.section_index + 1,
                now=context.bot_data.clock(),
            )
    await send(context, chat_id, reply)


async def _read(
    session: AsyncSession,
    chat_id: int,
    language: str,
    article_id: int,
    index: int,
    *,
    now: datetime,
) -> Message:
    """Section `index` of an article as a message, recording how far the chat has read."""
    # The article, the section and the reading's writes in one call (one statement on
    # PostgreSQL): the busiest path of the bot, so no ORM objects are built on it.
    found = await store.read_section(
        session=session, chat_id=chat_id, article_id=article_id, index=index, now=now
    )
    if found is None:
        return text(language, "story_gone"), None
    if found.withdrawn:
        return text(language, "story_withdrawn"), None
    if found.section is None:
        return text(language, "section_gone"), None
    last = index == found.section_count
    related = (
        await related_to(session=session, article_id=article_id, related=found.related)
        if last
        else []
    )
    return section_message(found.section, found.section_count, language, related)


@dataclass
class _Outcome:
    """What a button press leads to, decided inside the unit of work, done after it."""

    notice: str | None = None  # the short answer shown over the chat (plain text)
    reply: Message | None = None  # a new message: what the reader asked for
    story: ArticleRow | None = None  # a story card the reader asked for (photo or text)
    edit: Message | None = None  # replaces the pressed message (its text, when one is given)
    # Sent as a new message when the edit fails (the pressed message is gone): set when the
    # edit is the answer itself; without it an edit is tidying, and its failure is shrugged off.
    fallback: Message | None = None
    menu_language: str | None = None  # show the command menu in this language


async def button(update: Update, context: Context) -> None:
    """Every inline button press; forged or stale data gets a short answer, nothing else.

    What the reader asked for is sent first; answering the query, tidying the pressed
    message's keyboard and the menu come after it and never stop it.
    """
    query = update.callback_query
    if query is None:
        return
    action = parse_callback(query.data)
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
        outcome = await _press(
            session,
            chat_id,
            language,
            action,
            now=context.bot_data.clock(),
            bot_username=context.bot.username,
        )
    if outcome.reply is not None:
        await send(context, chat_id, outcome.reply)
    if outcome.story is not None:
        await send_story(context, chat_id, outcome.story, language)
    answered = await _answer(query, outcome.notice)
    replied = outcome.reply is not None or outcome.story is not None
    if not answered and outcome.notice and not replied and outcome.edit is None:
        # The notice was all there was to say; the query expired, so say it in the chat.
        await context.bot.send_message(chat_id, html.escape(outcome.notice, quote=False))
    if outcome.edit is not None:
        pressed = query.message.message_id if query.message is not None else None
        edited = pressed is not None and await _edit(context, chat_id, pressed, outcome.edit)
        if not edited and outcome.fallback is not None:
            await send(context, chat_id, outcome.fallback)
    if outcome.menu_language is not None:
        try:
            await context.bot.set_my_commands(
                menu_commands(outcome.menu_language), scope=BotCommandScopeChat(chat_id)
            )
        except TelegramError as error:
            log.warning("could not set the menu of chat %s: %s", chat_id, error)


async def _answer(query: CallbackQuery, notice: str | None) -> bool:
    """Answer the press (stops the client's spinner); False when Telegram refused it."""
    try:
        await query.answer(notice)
    except TelegramError as error:
        # Usually "query is too old": the answer itself has already been sent.
        log.debug("could not answer callback query %s: %s", query.id, error)
        return False
    return True


async def _press(
    session: AsyncSession,
    chat_id: int,
    language: str,
    action: Callback | None,
    *,
    now: datetime,
    bot_username: str,
) -> _Outcome:
    match action:
        case ReadSection(article_id, index):
            body, keyboard = await _read(session, chat_id, language, article_id, index, now=now)
            if keyboard is None:  # the story or section is gone: say so briefly
                return _Outcome(notice=body)
            # A pressed "Next" has done its job; leaving it invites double sends.
            return _Outcome(reply=(body, keyboard), edit=("", None) if index > 1 else None)
        case OpenStory(article_id):
            article = await store.get_article(session=session, article_id=article_id)
            if article is None:
                return _Outcome(notice=text(language, "story_gone"))
            if article.retracted_at is not None:
                return _Outcome(notice=text(language, "story_withdrawn"))
            return _Outcome(story=article)
        case ShowLatest():
            return _Outcome(reply=await _latest_message(session, chat_id, language))
        case ToggleTopic(key, page):
            notice = await _toggle_topic(session, chat_id, language, key)
            if notice is None:
                return _Outcome(notice=text(language, "bad_button"))
            _, keyboard = await _topics_message(session, chat_id, language, page)
            return _Outcome(notice=notice, edit=("", keyboard))
        case TopicsPage(page):
            message = await _topics_message(session, chat_id, language, page)
            return _Outcome(edit=("", message[1]), fallback=message)
        case SetLanguage(chosen):
            await store.set_chat_language(session=session, chat_id=chat_id, language=chosen)
            confirmation: Message = (text(chosen, "language_set"), None)
            return _Outcome(edit=confirmation, fallback=confirmation, menu_language=chosen)
        case _:  # None, a setting or a search page (handlers registered before take those)
            return _Outcome(notice=text(language, "bad_button"))


async def _toggle_topic(
    session: AsyncSession, chat_id: int, language: str, key: str
) -> str | None:
    """Flip one subscription; None when the key names no topic we know."""
    subscribed = await store.subscriptions(session=session, chat_id=chat_id)
    if key == ALL_TOPICS:
        topic = ALL_TOPICS
    else:
        candidates = set(await store.known_topics(session=session)) | set(subscribed)
        found = [t for t in candidates if topic_key(t) == key]
        if not found:
            return None
        topic = found[0]
    # A notice is plain text of at most 200 characters: the name is shortened, not escaped.
    shown = text(language, "all_topics") if topic == ALL_TOPICS else one_line(topic)
    shown = shorten(shown, ECHO_LIMIT)
    if topic in subscribed:
        await store.unsubscribe(session=session, chat_id=chat_id, topic=topic)
        return text(language, "unsubscribed_topic", topic=shown)
    if topic != ALL_TOPICS:
        await store.unsubscribe(session=session, chat_id=chat_id, topic=ALL_TOPICS)
    await store.subscribe(session=session, chat_id=chat_id, topic=topic)
    return text(language, "subscribed_topic", topic=shown)


async def _edit(context: Context, chat_id: int, message_id: int, message: Message) -> bool:
    """Replace a message's text (when given) or just its keyboard; False if it failed.

    Never raises: the pressed message may be gone ("message to edit not found"), too old, or
    already edited by a quick second press ("message is not modified", counted as done).
    """
    body, keyboard = message
    try:
        if body:
            await context.bot.edit_message_text(body, chat_id, message_id, reply_markup=keyboard)
        else:
            await context.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=keyboard)
    except BadRequest as error:
        if "not modified" in error.message:
            return True
        log.debug("could not edit message %s in chat %s: %s", message_id, chat_id, error)
        return False
    except Exception as error:  # tidying must never cost the reader the answer
        log.debug("could not edit message %s in chat %s: %r", message_id, chat_id, error)
        return False
    return True


async def language(update: Update, context: Context) -> None:
    """Buttons to choose Arabic or English."""
    async with context.bot_data.unit_of_work() as session:
        chat_id, current = await enter(session, update, context)
    await send(context, chat_id, language_keyboard(current))


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Reader commands, buttons, and the catch-all for anything else."""
    for name, callback in (
        ("start", start),
        ("help", help_command),
        ("subscribe", subscribe),
        ("unsubscribe", unsubscribe),
        ("topics", topics),
        ("latest", latest),
        ("summary", summary),
        ("more", more),
        ("language", language),
    ):
        app.add_handler(CommandHandler(name, callback, filters=NEW_MESSAGE))
    app.add_handler(CallbackQueryHandler(button))


def register_fallback(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Unknown commands and free text; must be registered after every other command.

    In a group only what is said to the bot is answered, not the members' talk among
    themselves (nor a bare unknown command, which may be another bot's).
    """
    said = filters.COMMAND | filters.TEXT
    # A story card a reader posted through inline mode comes back as their message "via" us.
    app.add_handler(MessageHandler(NEW_MESSAGE & FOR_THIS_BOT & said & ~filters.VIA_BOT, unknown))
