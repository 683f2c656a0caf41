"""What the fake Bot API remembers: chats, messages, pending updates, flood windows."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bot.sandbox.botapi.telegram_html import Entity

JsonDict = dict[str, Any]

# Telegram's default when a bot never set allowed_updates (or set it to an empty list).
DEFAULT_UPDATE_TYPES = frozenset(
    {"message", "edited_message", "channel_post", "edited_channel_post", "inline_query"}
    | {"chosen_inline_result", "callback_query", "shipping_query", "pre_checkout_query"}
    | {"poll", "poll_answer", "my_chat_member", "chat_join_request", "chat_boost"}
    | {"removed_chat_boost", "business_connection", "business_message"}
    | {"edited_business_message", "deleted_business_messages", "purchased_paid_media"}
)

SUPERGROUP_ID_LIMIT = -1_000_000_000_000


class RecordedRequest(NamedTuple):
    """One Bot API call as the server decoded it."""

    method: str
    params: JsonDict


class CallbackAnswer(NamedTuple):
    """An answerCallbackQuery call that Telegram accepted."""

    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


class ChatEvent(NamedTuple):
    """One entry of a chat's history, oldest first."""

    # user_message, user_edit, bot_message, edit, delete, callback_query, callback_answer,
    # bot_status
    kind: str
    message_id: int
    detail: JsonDict


@dataclass
class BotMessage:
    """A message the bot sent, in its current state (after edits)."""

    chat_id: int
    message_id: int
    date: int
    text: str
    entities: tuple[Entity, ...]
    html: str
    parse_mode: str | None
    reply_markup: JsonDict | None
    edit_date: int | None = None
    deleted: bool = False
    message_thread_id: int | None = None
    # Edits that changed the words (a keyboard-only edit does not mark a message "edited").
    text_edits: int = 0
    # A photo message: its PhotoSize objects (smallest first); `text` and `entities` are then
    # its caption, as Telegram sends them in "caption" and "caption_entities".
    photo: list[JsonDict] | None = None
    # The link_preview_options the message was sent with, as given.
    link_preview: JsonDict | None = None

    @property
    def media(self) -> str | None:
        """The kind of media whose caption the words are ("photo"); None for a text message."""
        return "photo" if self.photo is not None else None

    @property
    def inline_keyboard(self) -> JsonDict | None:
        """The reply markup if it is an inline keyboard (the only kind a message carries)."""
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            return self.reply_markup
        return None

    def buttons(self) -> list[JsonDict]:
        """Every inline button, row by row."""
        keyboard = self.inline_keyboard
        if keyboard is None:
            return []
        return [button for row in keyboard["inline_keyboard"] for button in row]

    def callback_data(self) -> list[str]:
        """The callback_data of every inline button, row by row."""
        return [b["callback_data"] for b in self.buttons() if "callback_data" in b]

    def to_dict(self, chat: Chat, bot_user: JsonDict) -> JsonDict:
        """The Message object Telegram would return."""
        data: JsonDict = {
            "message_id": self.message_id,
            "from": bot_user,
            "chat": chat.to_dict(),
            "date": self.date,
        }
        entities = [entity.to_dict() for entity in self.entities]
        if self.photo is not None:
            data["photo"] = self.photo
            if self.text:
                data["caption"] = self.text
            if entities:
                data["caption_entities"] = entities
        else:
            data["text"] = self.text
            if entities:
                data["entities"] = entities
        if self.message_thread_id is not None:
            data["message_thread_id"] = self.message_thread_id
            data["is_topic_message"] = True
        if self.inline_keyboard is not None:
            data["reply_markup"] = self.inline_keyboard
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        return data


@dataclass
class Chat:
    """A chat the fake server knows, with everything that happened in it."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    # The Forbidden description to answer with, when the bot may not write here.
    blocked: str | None = None
    # The bot's own membership status here, as my_chat_member reports it.
    bot_status: str = "member"
    migrated_to: int | None = None
    # A forum supergroup and its topic threads (thread ids are the ids of their first message).
    is_forum: bool = False
    threads: set[int] = field(default_factory=set)
    next_message_id: int = 1
    messages: dict[int, BotMessage] = field(default_factory=dict)
    user_messages: dict[int, JsonDict] = field(default_factory=dict)
    log: list[ChatEvent] = field(default_factory=list)

    @classmethod
    def auto(cls, chat_id: int) -> Chat:
        """The chat Telegram would have for an id nobody configured."""
        if chat_id > 0:
            return cls(chat_id, "private", first_name=f"User{chat_id}", username=f"user{chat_id}")
        kind = "supergroup" if chat_id <= SUPERGROUP_ID_LIMIT else "group"
        return cls(chat_id, kind, title=f"Group {chat_id}")

    def allocate_message_id(self) -> int:
        """Message ids are per chat and shared by the user's and the bot's messages."""
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def to_dict(self) -> JsonDict:
        """The Chat object."""
        data: JsonDict = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        if self.is_forum:
            data["is_forum"] = True
        return data

    def full_info(self) -> JsonDict:
        """The ChatFullInfo object getChat returns."""
        no_gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription"), False
        )
        return {
            **self.to_dict(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {**no_gifts, "gifts_from_channels": False},
        }

    def visible_messages(self) -> list[BotMessage]:
        """The bot's messages that were not deleted, oldest first."""
        return [m for _, m in sorted(self.messages.items()) if not m.deleted]

    def forbidden_description(self) -> str:
        """What Telegram says when the bot can no longer write to this kind of chat."""
        if self.type == "private":
            return "Forbidden: bot was blocked by the user"
        if self.type == "channel":
            return "Forbidden: bot is not a member of the channel chat"
        return f"Forbidden: bot was kicked from the {self.type} chat"


@dataclass
class CallbackQuery:
    """A button press waiting for (or having had) its answerCallbackQuery."""

    id: str
    chat_id: int
    message_id: int
    data: str
    user_id: int
    created: float
    answered: bool = False


@dataclass
class InlineQuery:
    """An inline query a user typed, waiting for (or having had) its answerInlineQuery."""

    id: str
    user: JsonDict
    query: str
    offset: str
    chat_type: str | None
    created: float
    answered: bool = False


class InlineAnswer(NamedTuple):
    """An answerInlineQuery call that Telegram accepted."""

    query_id: str
    results: list[JsonDict]
    cache_time: int
    is_personal: bool
    next_offset: str
    button: JsonDict | None


class UpdateQueue:
    """Pending updates, confirmed by getUpdates' offset as Telegram does."""

    RECENT = 1000  # updates kept after confirmation, so a test can have one delivered again

    def __init__(self, first_update_id: int = 1) -> None:
        self._pending: deque[JsonDict] = deque()
        self._recent: dict[int, JsonDict] = {}
        self._next_id = first_update_id
        self.allowed: frozenset[str] = DEFAULT_UPDATE_TYPES

    def __len__(self) -> int:
        return len(self._pending)

    def set_allowed(self, types: Iterable[str]) -> None:
        """Remember allowed_updates; an empty list means Telegram's default set."""
        chosen = frozenset(types)
        self.allowed = chosen or DEFAULT_UPDATE_TYPES

    def add(self, kind: str, payload: JsonDict) -> int | None:
        """Queue an update; None when allowed_updates says Telegram would not create it."""
        if kind not in self.allowed:
            return None
        update_id = self._next_id
        self._next_id += 1
        update = {"update_id": update_id, kind: payload}
        self._pending.append(update)
        self._recent[update_id] = update
        if len(self._recent) > self.RECENT:
            del self._recent[next(iter(self._recent))]
        return update_id

    def redeliver(self, update_id: int) -> JsonDict:
        """Queue an update again with its own id, in id order; the update."""
        update = self._recent.get(update_id)
        if update is None:
            raise LookupError(f"no recent update {update_id} to deliver again")
        position = next(
            (i for i, pending in enumerate(self._pending) if pending["update_id"] >= update_id),
            len(self._pending),
        )
        self._pending.insert(position, update)
        return update

    def confirm(self, offset: int) -> None:
        """Forget updates below ``offset``; a negative offset keeps only the last -offset."""
        if offset < 0:
            while len(self._pending) > -offset:
                self._pending.popleft()
            return
        while self._pending and self._pending[0]["update_id"] < offset:
            self._pending.popleft()

    def peek(self, limit: int) -> list[JsonDict]:
        """Up to ``limit`` oldest pending updates; they stay until confirmed."""
        return [self._pending[i] for i in range(min(limit, len(self._pending)))]

    def clear(self) -> None:
        """Drop every pending update (drop_pending_updates)."""
        self._pending.clear()


@dataclass
class FloodControl:
    """Telegram-like sending limits; ``check`` gives the retry_after to answer, if any."""

    private_per_second: int = 1
    group_per_minute: int = 20
    global_per_second: int = 30
    _per_chat: dict[int, deque[float]] = field(default_factory=dict)
    _overall: deque[float] = field(default_factory=deque)

    def check(self, chat: Chat, now: float) -> int | None:
        """Seconds to wait before this chat may receive another message, or None."""
        window, limit = (1.0, self.private_per_second)
        if chat.type != "private":
            window, limit = (60.0, self.group_per_minute)
        waits = [
            _wait(self._per_chat.get(chat.id, deque()), now, window, limit),
            _wait(self._overall, now, 1.0, self.global_per_second),
        ]
        longest = max((w for w in waits if w is not None), default=None)
        return None if longest is None else max(1, math.ceil(longest))

    def record(self, chat: Chat, now: float) -> None:
        """Count one accepted message."""
        self._per_chat.setdefault(chat.id, deque()).append(now)
        self._overall.append(now)


def _wait(sent: deque[float], now: float, window: float, limit: int) -> float | None:
    """Time until fewer than ``limit`` sends fall in the sliding window, or None if already."""
    while sent and sent[0] <= now - window:
        sent.popleft()
    if len(sent) < limit:
        return None
    return sent[len(sent) - limit] + window - now


@dataclass
class Webhook:
    """What setWebhook stored; an empty url means polling."""

    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None

    def info(self, pending: int) -> JsonDict:
        """The WebhookInfo object."""
        data: JsonDict = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": pending,
        }
        if self.url:
            data["max_connections"] = self.max_connections
            if self.allowed_updates is not None:
                data["allowed_updates"] = self.allowed_updates
        return data
