"""A reader's settings in the chat: /edition, /follow, /unfollow, /follows, /quiet, /timezone,
/digest, /cap and /settings, with their buttons. The use cases are bot.newsroom.readers'; this
module only reads the words, words the answers and draws the keyboards. Bad input gets one short
reason in the reader's language and changes nothing.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.newsroom import readers
from bot.newsroom.readers import ReaderSettings
from bot.newsroom.refusals import Refusal
from bot.telegram.callbacks import (
    ReaderSetting,
    SetDigest,
    SetEdition,
    SettingOff,
    ShowFollows,
    ShowSettings,
    Unfollow,
    parse_callback,
    topic_key,
)
from bot.telegram.context import Context
from bot.telegram.handlers.common import enter, send
from bot.telegram.messages import ECHO_LIMIT, Message, echo, fit, one_line
from bot.telegram.texts import text
from bot.telegram.updates import NEW_MESSAGE
from content.normalise import normalise
from content.summary import shorten
from db.reader_clock import format_minute

log = logging.getLogger(__name__)

FOLLOW_BUTTON_LIMIT = 40  # UTF-16 units of a follow on its remove button


# Messages


def _edition_name(language: str, edition: str) -> str:
    return text(language, f"edition_{edition}")


def edition_keyboard(language: str, current: str) -> Message:
    """Buttons for the three editions, the current one ticked."""
    row = [
        InlineKeyboardButton(
            ("✅ " if edition == current else "") + text(language, f"button_edition_{edition}"),
            callback_data=SetEdition(edition).encode(),
        )
        for edition in ("ar", "en", "all")
    ]
    body = text(language, "edition_choose", edition=_edition_name(language, current))
    return html.escape(body, quote=False), InlineKeyboardMarkup([row])


def digest_keyboard(language: str, current: str) -> Message:
    """The usage line, with buttons for no digest and an hourly one (a daily time is typed)."""
    row = [
        InlineKeyboardButton(
            ("✅ " if kind == current else "") + text(language, f"button_digest_{kind}"),
            callback_data=SetDigest(kind).encode(),
        )
        for kind in ("off", "hourly")
    ]
    return html.escape(text(language, "digest_usage"), quote=False), InlineKeyboardMarkup([row])


def follows_message(language: str, follows: list[str]) -> Message:
    """The reader's follows, one remove button each (a digest of the stored form as key)."""
    if not follows:
        return html.escape(text(language, "follows_none"), quote=False), None
    rows = [
        [
            InlineKeyboardButton(
                "✖ " + fit(one_line(shown), FOLLOW_BUTTON_LIMIT),
                callback_data=Unfollow(topic_key(normalise(shown))).encode(),
            )
        ]
        for shown in follows
    ]
    rows.append(
        [
            InlineKeyboardButton(
                text(language, "button_settings"), callback_data=ShowSettings().encode()
            )
        ]
    )
    return html.escape(text(language, "follows_header"), quote=False), InlineKeyboardMarkup(rows)


def settings_message(language: str, chosen: ReaderSettings) -> Message:
    """Every setting in a few lines, with buttons to change the ones a press can change."""
    off = text(language, "setting_off")
    if chosen.quiet is None:
        quiet = off
    elif chosen.quiet_silent:
        quiet = text(language, "setting_silent", window=chosen.quiet.describe())
    else:
        quiet = chosen.quiet.describe()
    if chosen.digest == "hourly":
        digest = text(language, "setting_hourly")
    elif chosen.digest == "daily" and chosen.digest_at is not None:
        digest = text(language, "setting_daily", time=format_minute(chosen.digest_at))
    else:
        digest = off
    cap = off if chosen.cap is None else text(language, "setting_cap", cap=chosen.cap)
    follows = (
        "، ".join(chosen.follows) if language == "ar" else ", ".join(chosen.follows)
    ) or text(language, "setting_none")
    body = text(
        language,
        "settings_text",
        edition=_edition_name(language, chosen.edition),
        zone=chosen.zone,
        quiet=quiet,
        digest=digest,
        cap=cap,
        follows=shorten(one_line(follows), 300),
    )
    editions = [
        InlineKeyboardButton(
            ("✅ " if edition == chosen.edition else "")
            + text(language, f"button_edition_{edition}"),
            callback_data=SetEdition(edition).encode(),
        )
        for edition in ("ar", "en", "all")
    ]
    digests = [
        InlineKeyboardButton(
            ("✅ " if kind == chosen.digest else "") + text(language, f"button_digest_{kind}"),
            callback_data=SetDigest(kind).encode(),
        )
        for kind in ("off", "hourly")
    ]
    rows = [editions, digests]
    offs = []
    if chosen.quiet is not None:
        offs.append(
            InlineKeyboardButton(
                text(language, "button_quiet_off"), callback_data=SettingOff("quiet").encode()
            )
        )
    if chosen.cap is not None:
        offs.append(
            InlineKeyboardButton(
                text(language, "button_cap_off"), callback_data=SettingOff("cap").encode()
            )
        )
    if offs:
        rows.append(offs)
    rows.append(
        [
            InlineKeyboardButton(
                text(language, "button_follows", count=len(chosen.follows)),
                callback_data=ShowFollows().encode(),
            )
        ]
    )
    return html.escape(body, quote=False), InlineKeyboardMarkup(rows)


def _refusal_text(refusal: Refusal, language: str) -> str:
    """One short reason, in plain text, for bad input."""
    match refusal:
        case readers.BadEdition():
            return text(language, "edition_usage")
        case readers.EmptyFollow():
            return text(language, "follow_empty")
        case readers.FollowTooLong(limit=limit):
            return text(language, "follow_too_long", limit=limit)
        case readers.TooManyFollows(limit=limit):
            return text(language, "follow_too_many", limit=limit)
        case readers.BadQuiet():
            return text(language, "quiet_usage")
        case readers.BadDigest():
            return text(language, "digest_usage")
        case readers.BadCap(limit=limit):
            return text(language, "cap_bad", limit=limit)
    raise TypeError(f"no words for the refusal {refusal!r}")


# Commands

Answer = Callable[[AsyncSession, int, str, str, Context], Awaitable[Message]]


def _command(answer: Answer) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """Wrap a settings command: one unit of work, refusals answered, then the reply is sent."""

    async def handle(update: Update, context: Context) -> None:
        words = " ".join(context.args or [])
        reply: Message
        try:
            async with context.bot_data.unit_of_work() as session:
                chat_id, language = await enter(session, update, context)
                reply = await answer(session, chat_id, language, words, context)
        except Refusal as refusal:
            # The unit of work rolled back: nothing changed. The chat is registered next time.
            async with context.bot_data.unit_of_work() as session:
                chat_id, language = await enter(session, update, context)
            reply = (html.escape(_refusal_text(refusal, language), quote=False), None)
        await send(context, chat_id, reply)

    handle.__doc__ = answer.__doc__
    return handle


def _plain(language: str, key: str, **values: object) -> Message:
    return html.escape(text(language, key, **values), quote=False), None


async def edition(
    session: AsyncSession, chat_id: int, language: str, words: str, context: Context
) -> Message:
    """/edition ar|en|all; buttons without an argument."""
    if not words.strip():
        chosen = await readers.settings_of(session=session, chat_id=chat_id, zone="UTC")
        return edition_keyboard(language, chosen.edition)
    wanted = await readers.set_edition(session=session, chat_id=chat_id, edition=words)
    return _plain(language, "edition_set", edition=_edition_name(language, wanted))


async def follow(
    session: AsyncSession, chat_id: int, language: str, words: str, context: Context
) -> Message:
    """/follow WORDS: stories mentioning them reach the reader whatever their topics."""
    if not words.strip():
        return _plain(language, "follow_usage")
    added = await readers.follow(
        session=session, chat_id=chat_id, words=words, now=context.bot_data.clock()
    )
    key = "follow_added" if added else "follow_exists"
    return text(language, key, words=echo(words)), None


async def unfollow(
    session: AsyncSession, chat_id: int, language: str, words: str, context: Context
) -> Message:
    """/unfollow WORDS."""
    if not words.strip():
        return _plain(language, "unfollow_usage")
    removed = await readers.unfollow(session=session, chat_id=chat_id, words=words)
    key = "unfollowed" if removed else "not_following"
    return text(language, key, words=echo(words)), None


async def list_follows(
    session: AsyncSession, chat_id: int, language: str, words: str, context: Context
) -> Message:
    """/follows: what the reader follows, with buttons to remove each."""
    return follows_message(language, await readers.follows(session=session, chat_id=chat_id))


async def quiet(
    session: AsyncSession, chat_id: int, language: str, words: str, context: Context
) -> Message:
    """/quiet HH:MM-HH:MM [silent] | off."""
    window = await readers.set_quiet(session=session, chat_id=chat_id, words=words)
    if window is None:
        return _plain(language, "quiet_off")
    chosen = await readers.settings_of(
        session=session, chat_id=chat_id, zone=context.bot_data.settings.timezone
    )
    key = "quiet_set_silent" if chosen.quiet_silent else "quiet_set"
    return _plain(language, key, window=window.describe(), zone=chosen.zone)


async def timezone(
    session: AsyncSession, chat_id: int, language: str, words: str, context: Context
) -> Message:
    """/timezone Area/City."""
    default = context.bot_data.settings.timezone
    if not words.strip():
        chosen = await readers.settings_of(session=session, chat_id=chat_id, zone=default)
        return _plain(language, "timezone_usage", zone=chosen.zone)
    try:
        zone = await readers.set_timezone(
            session=session,
            chat_id=chat_id,
            name=words,
            now=context.bot_data.clock(),
            default_zone=default,
        )
    except readers.BadZone:
        return text(language, "timezone_bad", zone=echo(words)), None
    return _plain(language, "timezone_set", zone=zone)


async def digest(
    session: AsyncSession, chat_id: int, language: str, words: str, context: Context
) -> Message:
    """/digest off|hourly|daily HH:MM; the choices as buttons without an argument."""
    default = context.bot_data.settings.timezone
    if not words.strip():
        chosen = await readers.settings_of(session=session, chat_id=chat_id, zone=default)
        return digest_keyboard(language, chosen.digest)
    kind, minute = await readers.set_digest(
        session=session,
        chat_id=chat_id,
        words=words,
        now=context.bot_data.clock(),
        default_zone=default,
    )
    if kind == "daily" and minute is not None:
        chosen = await readers.settings_of(session=session, chat_id=chat_id, zone=default)
        return _plain(language, "digest_set_daily", time=format_minute(minute), zone=chosen.zone)
    return _plain(language, f"digest_set_{kind}")


async def cap(
    session: AsyncSession, chat_id: int, language: str, words: str, context: Context
) -> Message:
    """/cap N|off."""
    value = await readers.set_cap(session=session, chat_id=chat_id, words=words)
    return _plain(language, "cap_off") if value is None else _plain(language, "cap_set", cap=value)


async def show_settings(
    session: AsyncSession, chat_id: int, language: str, words: str, context: Context
) -> Message:
    """/settings: everything the reader chose, with buttons."""
    chosen = await readers.settings_of(
        session=session, chat_id=chat_id, zone=context.bot_data.settings.timezone
    )
    return settings_message(language, chosen)


# Buttons


@dataclass
class _Pressed:
    notice: str | None = None
    edit: Message | None = None


async def _press(
    session: AsyncSession, chat_id: int, language: str, action: ReaderSetting, context: Context
) -> _Pressed:
    zone = context.bot_data.settings.timezone
    now = context.bot_data.clock()
    notice: str | None = None
    match action:
        case SetEdition(wanted):
            await readers.set_edition(session=session, chat_id=chat_id, edition=wanted)
            notice = text(language, "edition_set", edition=_edition_name(language, wanted))
        case SetDigest(kind):
            await readers.set_digest(
                session=session, chat_id=chat_id, words=kind, now=now, default_zone=zone
            )
            notice = text(language, f"digest_set_{kind}")
        case SettingOff("quiet"):
            await readers.set_quiet(session=session, chat_id=chat_id, words="off")
            notice = text(language, "quiet_off")
        case SettingOff(_):
            await readers.set_cap(session=session, chat_id=chat_id, words="off")
            notice = text(language, "cap_off")
        case Unfollow(key):
            shown = await readers.follows(session=session, chat_id=chat_id)
            found = [words for words in shown if topic_key(normalise(words)) == key]
            if not found:
                return _Pressed(notice=text(language, "bad_button"))
            await readers.unfollow(session=session, chat_id=chat_id, words=found[0])
            notice = text(language, "unfollowed", words=shorten(one_line(found[0]), ECHO_LIMIT))
            remaining = await readers.follows(session=session, chat_id=chat_id)
            return _Pressed(notice=notice, edit=follows_message(language, remaining))
        case ShowFollows():
            shown = await readers.follows(session=session, chat_id=chat_id)
            return _Pressed(edit=follows_message(language, shown))
        case ShowSettings():
            pass
    chosen = await readers.settings_of(session=session, chat_id=chat_id, zone=zone)
    return _Pressed(notice=notice, edit=settings_message(language, chosen))


def _is_setting(data: object) -> bool:
    action = parse_callback(data if isinstance(data, str) else None)
    return isinstance(
        action, SetEdition | Unfollow | SetDigest | SettingOff | ShowFollows | ShowSettings
    )


async def button(update: Update, context: Context) -> None:
    """A settings button: change the setting, then redraw the pressed message in place."""
    query = update.callback_query
    if query is None:
        return
    action = parse_callback(query.data)
    if not isinstance(
        action, SetEdition | Unfollow | SetDigest | SettingOff | ShowFollows | ShowSettings
    ):
        return
    async with context.bot_data.unit_of_work() as session:
        chat_id, language = await enter(session, update, context)
        pressed = await _press(session, chat_id, language, action, context)
    try:
        await query.answer(shorten(pressed.notice, 200) if pressed.notice else None)
    except TelegramError as error:
        log.debug("could not answer callback query %s: %s", query.id, error)
    if pressed.edit is None:
        return
    body, keyboard = pressed.edit
    message_id = query.message.message_id if query.message is not None else None
    try:
        if message_id is None:
            raise BadRequest("message to edit not found")
        await context.bot.edit_message_text(body, chat_id, message_id, reply_markup=keyboard)
    except BadRequest as error:
        if "not modified" in error.message:
            return
        # The pressed message is gone or too old to edit: send the answer anew.
        await send(context, chat_id, pressed.edit)
    except TelegramError as error:
        log.warning("could not redraw the settings in chat %s: %s", chat_id, error)


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """The settings commands and buttons; registered before the reader's catch-all button."""
    for name, answer in (
        ("edition", edition),
        ("follow", follow),
        ("unfollow", unfollow),
        ("follows", list_follows),
        ("quiet", quiet),
        ("timezone", timezone),
        ("digest", digest),
        ("cap", cap),
        ("settings", show_settings),
    ):
        app.add_handler(CommandHandler(name, _command(answer), filters=NEW_MESSAGE))
    app.add_handler(CallbackQueryHandler(button, pattern=_is_setting))
