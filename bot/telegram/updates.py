"""Which updates the bot takes, and how each acts once.

- Commands and the catch-all take new messages only (`NEW_MESSAGE`): an edited message, a
  channel post or a group's chatter never runs them (`FOR_THIS_BOT`).
- Telegram is asked only for the update types some handler takes (`allowed_updates`), in
  polling and in setWebhook alike.
- Telegram sends an update again when its webhook request got no 2xx answer, and getUpdates
  returns one again until a later offset confirms it: every update id is remembered for a day,
  and a repeat stops before any handler sees it (`skip_repeats`, in group -1). A button
  press's id is written by the press's own unit of work, in the same commit, and a repeat
  stops there, before the handler reads or sends anything.
- An update python-telegram-bot cannot read is logged once and skipped (`ReadingBot`), instead
  of failing its whole batch on every poll.
"""

from __future__ import annotations

import datetime as dtm
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from telegram import Message, MessageEntity, Update
from telegram._utils.defaultvalue import DEFAULT_NONE, DefaultValue
from telegram._utils.types import JSONDict, ODVInput, TimePeriod
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    ChosenInlineResultHandler,
    CommandHandler,
    ExtBot,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.delivery.pacing import Pace
from bot.telegram.context import PENDING_UPDATE, Context, PendingUpdate
from db import updates

log = logging.getLogger(__name__)

LAST_GROUP = 1_000  # after every group of handlers
REMEMBER_FOR = timedelta(days=1)  # Telegram gives up redelivering an update well before this
FORGET_INTERVAL = 3600.0  # seconds between prunings of the remembered update ids


class _ForThisBot(filters.MessageFilter):
    """A private chat's message; in a group, a command addressed to this bot by name
    (`/cmd@thisbot`) or a reply to one of its messages."""

    __slots__ = ()

    def filter(self, message: Message) -> bool:
        if message.chat.type == ChatType.PRIVATE:
            return True
        bot = message.get_bot()
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None:
            return replied.from_user.id == bot.id
        command = next((e for e in message.entities if e.type == MessageEntity.BOT_COMMAND), None)
        if command is None or command.offset != 0:
            return False
        _, _, addressee = message.parse_entity(command).partition("@")
        return addressee.lower() == (bot.username or "").lower()


NEW_MESSAGE = filters.UpdateType.MESSAGE
"""New messages only: not edits, and channel posts arrive as another update type."""
FOR_THIS_BOT = _ForThisBot(name="FOR_THIS_BOT")
"""What a group member says to the bot rather than to the group."""


def _update_types(handler: BaseHandler[Any, Any, Any]) -> tuple[str, ...]:
    """The update types a handler can take."""
    match handler:
        case TypeHandler():
            return ()  # sees whatever arrives
        case CommandHandler() | MessageHandler():
            # Ours all filter with NEW_MESSAGE (a test checks it).
            return (Update.MESSAGE,)
        case CallbackQueryHandler():
            return (Update.CALLBACK_QUERY,)
        case InlineQueryHandler():
            return (Update.INLINE_QUERY,)
        case ChosenInlineResultHandler():
            return (Update.CHOSEN_INLINE_RESULT,)
        case ChatMemberHandler(chat_member_types=ChatMemberHandler.MY_CHAT_MEMBER):
            return (Update.MY_CHAT_MEMBER,)
        case ChatMemberHandler(chat_member_types=ChatMemberHandler.CHAT_MEMBER):
            return (Update.CHAT_MEMBER,)
        case ChatMemberHandler():
            return (Update.MY_CHAT_MEMBER, Update.CHAT_MEMBER)
    raise TypeError(f"which updates does a {type(handler).__name__} take? Add it here.")


def allowed_updates(app: Application[Any, Any, Any, Any, Any, Any]) -> list[str]:
    """The update types the registered handlers take: all that Telegram should send."""
    kinds = {kind for group in app.handlers.values() for h in group for kind in _update_types(h)}
    return sorted(kinds)


async def skip_repeats(update: Update, context: Context) -> None:
    """Remember the update's id; a repeat stops here, before any other handler sees it.

    A button press's id is left pending instead: the press's handler opens its unit of work
    before it talks to Telegram, and that unit of work writes the id with the press's own
    writes, in one commit (`PendingUpdate`); `remember_unclaimed` writes it if none did.
    """
    now = context.bot_data.clock()
    if update.callback_query is not None:
        PENDING_UPDATE.set(PendingUpdate(update.update_id, now))
        return
    PENDING_UPDATE.set(None)
    async with context.bot_data.unit_of_work() as session:
        first = await updates.remember_update(session=session, update_id=update.update_id, now=now)
    if not first:
        log.info("update %s was taken before; skipped", update.update_id)
        raise ApplicationHandlerStop


async def remember_unclaimed(update: Update, context: Context) -> None:
    """Remember a pending update's id that no unit of work wrote (its handler opened none, or
    failed and rolled back), so that a repeat of it is still skipped."""
    pending = PENDING_UPDATE.get()
    PENDING_UPDATE.set(None)
    if pending is None or pending.taken or pending.update_id != update.update_id:
        return
    pending.taken = True
    async with context.bot_data.unit_of_work() as session:
        await updates.remember_update(
            session=session, update_id=pending.update_id, now=pending.now
        )


async def forget_old_updates(context: Context) -> None:
    """Prune the update ids remembered for longer than REMEMBER_FOR."""
    async with context.bot_data.unit_of_work() as session:
        forgotten = await updates.forget_handled_updates(
            session=session, before=context.bot_data.clock() - REMEMBER_FOR
        )
    log.debug("forgot %d handled update ids", forgotten)


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Skip repeated updates before every other handler; prune their ids every hour."""
    app.add_handler(TypeHandler(Update, skip_repeats), group=-1)
    # After every handler, also one that failed (PTB goes on to the next group after an error).
    app.add_handler(TypeHandler(Update, remember_unclaimed), group=LAST_GROUP)
    if app.job_queue is not None:
        app.job_queue.run_repeating(
            forget_old_updates, interval=FORGET_INTERVAL, first=60, name="forget-updates"
        )


def log_unreadable(data: object, error: Exception) -> None:
    """One line for an update that cannot be read: its id, its kind and why (not its content)."""
    update_id = data.get("update_id") if isinstance(data, Mapping) else None
    kinds = [key for key in data if key != "update_id"] if isinstance(data, Mapping) else []
    log.error(
        "update %s (%s) could not be read and is skipped: %s: %s",
        update_id,
        ", ".join(map(str, kinds)) or "empty",
        type(error).__name__,
        error,
        extra={"update_id": update_id if isinstance(update_id, int) else None},
    )


class ReadingBot(ExtBot[Pace]):
    """ExtBot whose getUpdates reads updates one by one and skips one it cannot read.

    python-telegram-bot 22.8 reads a getUpdates batch at once: one update it cannot read (a
    field of a newer Bot API, say) fails the batch, and its Updater asks for the same offset
    again at once, forever; even its last call on stop fails, so the process cannot stop
    cleanly. Here that update is logged once, and the next getUpdates confirms past it.
    """

    __slots__ = ("_skip_below",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._skip_below = 0  # update ids below this were skipped, and must be confirmed

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: TimePeriod | None = None,  # noqa: ASYNC109 (Bot.get_updates' signature)
        allowed_updates: Sequence[str] | None = None,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
        api_kwargs: JSONDict | None = None,
    ) -> tuple[Update, ...]:
        """Bot.get_updates (same request, same read timeout), reading updates one by one."""
        if self._skip_below and (offset is None or 0 <= offset < self._skip_below):
            offset = self._skip_below
        data: JSONDict = {
            "timeout": timeout,
            "offset": offset,
            "limit": limit,
            "allowed_updates": allowed_updates,
        }
        # As Bot.get_updates: the long poll's timeout on top of the request's read timeout.
        if isinstance(read_timeout, DefaultValue):
            waited: float = self._request[0].read_timeout or 0
        else:
            waited = read_timeout or 0
        if isinstance(timeout, dtm.timedelta):
            waited += timeout.total_seconds()
        elif timeout:
            waited += timeout
        result = await self._post(
            "getUpdates",
            data,
            read_timeout=waited,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            api_kwargs=api_kwargs,
        )
        taken: list[Update] = []
        for item in result:
            try:
                update = Update.de_json(item, self)
            except Exception as error:
                update_id = item.get("update_id") if isinstance(item, dict) else None
                if isinstance(update_id, int):
                    self._skip_below = max(self._skip_below, update_id + 1)
                log_unreadable(item, error)
                continue
            self.insert_callback_data(update)
            taken.append(update)
        return tuple(taken)
