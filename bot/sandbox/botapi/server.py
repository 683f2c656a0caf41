"""A fake Telegram Bot API server that a real python-telegram-bot Application can poll.

Start it, point ``ApplicationBuilder().base_url(f"{server.url}/bot")`` at it, then drive the bot
as a user would (``send_user_message``, ``press_button``) and inspect what the bot sent
(``messages``, ``requests``, ``callback_answers``, ``timeline``). It enforces the limits and
formatting rules Telegram enforces and can be told to misbehave the way Telegram does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from http import HTTPStatus
from typing import Any, TypeVar

from aiohttp import web

from bot.ops.serving import Service, bind
from bot.sandbox.botapi.photos import PhotoRefused, PhotoStore, Upload, UploadTooLarge
from bot.sandbox.botapi.state import (
    BotMessage,
    CallbackAnswer,
    CallbackQuery,
    Chat,
    ChatEvent,
    FloodControl,
    InlineAnswer,
    InlineQuery,
    JsonDict,
    RecordedRequest,
    UpdateQueue,
    Webhook,
)
from bot.sandbox.botapi.telegram_html import (
    Entity,
    EntityParseError,
    FormattedText,
    normalize,
    parse_html,
    utf16_len,
)

__all__ = ["DEFAULT_TOKEN", "ApiError", "BotMessage", "FakeBotApi", "FloodControl"]

T = TypeVar("T")

DEFAULT_TOKEN = "123456789:AAFakeTokenForTheNewsbotSandbox000000"
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_COMMANDS = 100
MAX_INLINE_BUTTONS = 100
MAX_REPLY_MARKUP_BYTES = 10 * 1024
MAX_BUTTON_URL_LENGTH = 2048
MAX_INLINE_RESULTS = 50
MAX_INLINE_RESULT_ID_BYTES = 64
MAX_INLINE_OFFSET_BYTES = 64
MAX_INLINE_QUERY_LENGTH = 256
DEFAULT_INLINE_CACHE_TIME = 300
# The result types of answerInlineQuery (cached ones share the type name).
_INLINE_RESULT_TYPES = frozenset(
    {"article", "photo", "gif", "mpeg4_gif", "video", "audio", "voice", "document"}
    | {"location", "venue", "contact", "game", "sticker"}
)

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
EDIT_NOT_FOUND = "message to edit not found"
DELETE_NOT_FOUND = "message to delete not found"
CANNOT_DELETE = "message can't be deleted for everyone"
NO_TEXT_TO_EDIT = "there is no text in the message to edit"
NO_CAPTION_TO_EDIT = "there is no caption in the message to edit"
THREAD_NOT_FOUND = "message thread not found"
NEED_ADMIN = "need administrator rights in the channel chat"
# Bots may delete a message for everyone for 48 hours after it was sent (not in channels, where
# an administrator may delete posts of any age).
DELETE_WINDOW = 48 * 3600
MARKUP_TOO_LONG = "reply markup is too long"

# Ways to answer a call that was carried out (see FakeBotApi.misanswer_next).
MISANSWERS = frozenset({"unreadable", "not_object", "not_json", "reset", "stall"})

# The button fields of which exactly one must be present.
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_COMMAND_SCOPES = frozenset(
    {"default", "all_private_chats", "all_group_chats", "all_chat_administrators"}
    | {"chat", "chat_administrators", "chat_member"}
)
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_BOT_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,32})?")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LANGUAGE_CODE = re.compile(r"(?:[a-z]{2})?")


class ApiError(Exception):
    """An error answer: HTTP status, Telegram's description and optional parameters."""

    def __init__(self, status: int, description: str, parameters: JsonDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JsonDict:
        """The JSON Telegram answers with."""
        data: JsonDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            data["parameters"] = self.parameters
        return data


def bad_request(reason: str, parameters: JsonDict | None = None) -> ApiError:
    """A 400 answer, worded like Telegram's."""
    return ApiError(400, f"Bad Request: {reason}", parameters)


def too_many_requests(retry_after: int) -> ApiError:
    """A 429 answer with the retry_after parameter PTB turns into RetryAfter."""
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


# --- decoding parameters --------------------------------------------------------------------
#
# Form-encoded requests (python-telegram-bot's default) carry every value as a string: strings
# as they are, everything else JSON-encoded. Only the parameter's name says how to read it back
# ("123" is an integer for chat_id but text for text), so the server keeps a table of types.


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise TypeError(value)


def _as_number(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise TypeError(value)


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0", ""):
        return False
    raise ValueError(value)


def _as_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(value)


def _as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _as_chat_id(value: Any) -> int | str:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _as_str(value)


_READERS: dict[str, Callable[[Any], Any]] = {
    "int": _as_int,
    "number": _as_number,
    "bool": _as_bool,
    "str": _as_str,
    "json": _as_json,
    "chat_id": _as_chat_id,
}
_PARAM_TYPES = {
    "chat_id": "chat_id",
    "from_chat_id": "chat_id",
    "message_id": "int",
    "offset": "int",
    "limit": "int",
    "timeout": "number",
    "cache_time": "int",
    "inline_query_id": "str",
    "results": "json",
    "is_personal": "bool",
    "next_offset": "str",
    "button": "json",
    "max_connections": "int",
    "message_thread_id": "int",
    "reply_to_message_id": "int",
    "text": "str",
    "caption": "str",
    "user_id": "int",
    "parse_mode": "str",
    "callback_query_id": "str",
    "inline_message_id": "str",
    "url": "str",
    "secret_token": "str",
    "language_code": "str",
    "show_alert": "bool",
    "disable_notification": "bool",
    "protect_content": "bool",
    "drop_pending_updates": "bool",
    "disable_web_page_preview": "bool",
    "allow_sending_without_reply": "bool",
    "allow_paid_broadcast": "bool",
    "has_spoiler": "bool",
    "show_caption_above_media": "bool",
    "reply_markup": "json",
    "entities": "json",
    "caption_entities": "json",
    "allowed_updates": "json",
    "commands": "json",
    "scope": "json",
    "link_preview_options": "json",
    "reply_parameters": "json",
}
_TYPE_ERRORS = {
    "reply_markup": "can't parse reply keyboard markup JSON object",
    "entities": "can't parse entities JSON object",
    "results": "can't parse inline query results JSON object",
    "caption_entities": "can't parse entities JSON object",
    "link_preview_options": "can't parse link preview options JSON object",
}


def decode_param(name: str, value: Any) -> Any:
    """Read one parameter, whether it came as a form string or as JSON."""
    kind = _PARAM_TYPES.get(name)
    if kind is None:
        return value
    try:
        return _READERS[kind](value)
    except (ValueError, TypeError):
        raise bad_request(
            _TYPE_ERRORS.get(name, f'field "{name}" must be of type {kind}')
        ) from None


async def read_params(request: web.Request) -> JsonDict:
    """Query string plus JSON, urlencoded or multipart body, decoded to Python values."""
    raw: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise bad_request("JSON request body must be an object")
        raw.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                raw[key] = Upload(value.filename, value.content_type, value.file.read())
            else:
                raw[key] = value if isinstance(value, str) else value.decode()
    return {key: decode_param(key, value) for key, value in raw.items()}


# --- validating content ---------------------------------------------------------------------


def formatted_text(params: Mapping[str, Any], *, strict_html: bool = True) -> FormattedText:
    """The visible text and entities of a text message, or the 400 Telegram would answer."""
    raw = params.get("text")
    if raw is None:
        raise bad_request("message text is empty")
    result = _parse(raw, params.get("parse_mode") or None, params.get("entities"), strict_html)
    if not result.text:
        raise bad_request("message text is empty")
    if utf16_len(result.text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return result


def caption_text(params: Mapping[str, Any], *, strict_html: bool = True) -> FormattedText:
    """A photo's caption (may be empty), or the 400 Telegram would answer."""
    raw = params.get("caption")
    if not raw:
        return FormattedText("")
    parse_mode = params.get("parse_mode") or None
    result = _parse(raw, parse_mode, params.get("caption_entities"), strict_html)
    # Counted after entities are parsed: tags and escapes cost nothing, as on Telegram.
    if utf16_len(result.text) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    return result


def check_link_preview(value: Any) -> JsonDict | None:
    """link_preview_options as given, or the 400 Telegram answers for a malformed one."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("can't parse link preview options JSON object")
    for flag in ("is_disabled", "prefer_small_media", "prefer_large_media", "show_above_text"):
        if flag in value and not isinstance(value[flag], bool):
            raise bad_request("can't parse link preview options JSON object")
    if "url" in value and not isinstance(value["url"], str):
        raise bad_request("can't parse link preview options JSON object")
    return value


def _parse(raw: str, parse_mode: str | None, entities: Any, strict_html: bool) -> FormattedText:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request("strings must be encoded in UTF-8") from None
    if parse_mode is not None:
        if parse_mode.lower() == "html":
            try:
                result = parse_html(raw, strict=strict_html)
            except EntityParseError as error:
                raise bad_request(f"can't parse entities: {error}") from None
        elif parse_mode.lower() in ("markdown", "markdownv2"):
            raise bad_request(f"parse_mode {parse_mode} is not implemented by the fake Bot API")
        else:
            raise bad_request(f"unsupported parse_mode {parse_mode!r}")
    else:
        result = normalize(raw, _explicit_entities(entities))
    return result


def _explicit_entities(value: Any) -> list[Entity]:
    if value is None:
        return []
    try:
        if not isinstance(value, list):
            raise TypeError(value)
        return [Entity.from_dict(item) for item in value]
    except (TypeError, ValueError, AttributeError):
        raise bad_request("can't parse entities JSON object") from None


# Printable ASCII but space " < > \\ ^ ` { | }: what may appear unescaped in a link.
_URL_TAIL = r"[!#-;=?-\[\]_a-z~]*"
_BUTTON_URL = re.compile(
    rf"(?ia)https?://[a-z0-9](?:[a-z0-9.-]*[a-z0-9.])?(?::[0-9]{{1,5}})?(?:[/?#]{_URL_TAIL})?"
    rf"|tg://[a-z0-9]{_URL_TAIL}"
)


def is_button_url(url: Any) -> bool:
    """Telegram accepts http(s) links with a host and tg:// links on buttons.

    Spaces, control and non-ASCII characters (not percent-encoded), other schemes, a missing
    host and overlong links are refused with "BUTTON_URL_INVALID".
    """
    return (
        isinstance(url, str)
        and len(url) <= MAX_BUTTON_URL_LENGTH
        and _BUTTON_URL.fullmatch(url) is not None
    )


def check_reply_markup(markup: Any, *, inline_only: bool = False) -> JsonDict | None:
    """The markup to store, or the 400 Telegram would answer for it."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if inline_only:
            raise bad_request("inline keyboard expected")
        if not {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
            raise bad_request("can't parse reply keyboard markup JSON object")
        return markup
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" must be an Array of Arrays')
    for row in rows:
        for button in row:
            _check_inline_button(button)
    # Telegram's ceilings for an inline keyboard: 100 buttons and about 10 KB.
    size = len(json.dumps(markup, ensure_ascii=False, separators=(",", ":")).encode())
    if sum(len(row) for row in rows) > MAX_INLINE_BUTTONS or size > MAX_REPLY_MARKUP_BYTES:
        raise bad_request(MARKUP_TOO_LONG)
    return markup


def _check_inline_button(button: Any) -> None:
    problem = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise bad_request(problem + "InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise bad_request(problem + 'Field "text" must be of type String')
    if not button["text"]:
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [name for name in _BUTTON_ACTIONS if name in button]
    if not actions:
        raise bad_request(problem + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request(problem + f"only one of the fields {actions} may be used")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not is_button_url(button["url"]):
        raise bad_request("BUTTON_URL_INVALID")


def _check_inline_result(result: Any, seen: set[str], *, strict_html: bool) -> None:
    """One InlineQueryResult of an answer, as Telegram checks it (articles in full)."""
    problem = "can't parse inline query result: "
    if not isinstance(result, dict):
        raise bad_request(problem + "InlineQueryResult must be an Object")
    if result.get("type") not in _INLINE_RESULT_TYPES:
        raise bad_request("RESULT_TYPE_INVALID")
    result_id = result.get("id")
    if not isinstance(result_id, str) or not 1 <= len(result_id.encode()) <= 64:
        raise bad_request("RESULT_ID_INVALID")
    if result_id in seen:
        raise bad_request("RESULT_ID_DUPLICATE")
    seen.add(result_id)
    check_reply_markup(result.get("reply_markup"), inline_only=True)
    if result["type"] != "article":
        return
    if not isinstance(result.get("title"), str) or not result["title"]:
        raise bad_request(problem + 'Field "title" must be of type String')
    content = result.get("input_message_content")
    if not isinstance(content, dict) or "message_text" not in content:
        raise bad_request(problem + 'Can\'t find field "input_message_content"')
    params = {
        "text": content["message_text"],
        "parse_mode": content.get("parse_mode"),
        "entities": content.get("entities"),
    }
    try:
        formatted_text(params, strict_html=strict_html)
    except ApiError as error:
        if error.description.endswith("message text is empty"):
            raise bad_request("MESSAGE_EMPTY") from None
        if error.description.endswith("message is too long"):
            raise bad_request("MESSAGE_TOO_LONG") from None
        raise


def _check_commands(commands: Any) -> list[JsonDict]:
    if not isinstance(commands, list) or not all(isinstance(c, dict) for c in commands):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > MAX_COMMANDS:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    checked: list[JsonDict] = []
    for item in commands:
        command, description = item.get("command"), item.get("description")
        if not isinstance(command, str) or not _COMMAND_NAME.fullmatch(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        checked.append({"command": command, "description": description})
    return checked


def _scope_key(scope: Any) -> str:
    if scope is None:
        scope = {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in _COMMAND_SCOPES:
        raise bad_request("can't parse BotCommandScope JSON object")
    if "chat_id" in scope:
        scope = {**scope, "chat_id": _as_chat_id(scope["chat_id"])}
    elif scope["type"].startswith("chat"):
        raise bad_request("chat_id is empty")
    return json.dumps(scope, sort_keys=True)


def _unix_now() -> int:
    return int(datetime.now(UTC).timestamp())


def _json_response(body: JsonDict, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=partial(json.dumps, ensure_ascii=False))


# --- the server -----------------------------------------------------------------------------

Handler = Callable[[JsonDict], Awaitable[Any]]


class FakeBotApi(Service):
    """An in-process Telegram Bot API lookalike on 127.0.0.1, one bot token, inspectable state."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "newsbot_test_bot",
        bot_name: str = "Newsbot Test",
        auto_create_chats: bool = True,
        strict_html: bool = True,
        callback_query_ttl: float | None = None,
        inline_query_ttl: float | None = None,
        inline_mode: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        first_update_id: int | None = None,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_name = bot_name
        self.auto_create_chats = auto_create_chats
        self.strict_html = strict_html
        # Telegram stops accepting answers some seconds after the press; None never expires.
        self.callback_query_ttl = callback_query_ttl
        # Telegram takes an inline query's answer for about 10 s; None never expires.
        self.inline_query_ttl = inline_query_ttl
        # Switched on with BotFather's /setinline; off, Telegram sends no inline queries.
        self.inline_mode = inline_mode
        self.host = host
        self.port = port

        self.chats: dict[int, Chat] = {}
        # Telegram's update ids keep growing across a bot's restarts; a bot that remembers the
        # ids it handled must not meet them again from a restarted fake, so they start from
        # the clock (milliseconds) unless a test picks the first one.
        if first_update_id is None:
            first_update_id = int(time.time() * 1000)
        self.updates = UpdateQueue(first_update_id=first_update_id)
        self.requests: list[RecordedRequest] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.inline_answers: list[InlineAnswer] = []
        self.timeline: list[tuple[float, int, int]] = []
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.webhook = Webhook()
        self.flood_control: FloodControl | None = None
        self.photos = PhotoStore()

        self._forgotten: set[int] = set()
        self._queries: dict[str, CallbackQuery] = {}
        self._inline_queries: dict[str, InlineQuery] = {}
        self._query_ids = itertools.count(4_200_000_000_000_000_001)
        self._faults: dict[str, deque[ApiError]] = {}
        self._delays: dict[str, deque[float]] = {}
        self._misanswers: dict[str, list[tuple[str, int | None]]] = {}
        self._poll_generation = 0
        self._closing = False
        # Counts changes, so a watcher can wait for "anything after what I last saw" without
        # missing one that happened while it was busy (see wait_change).
        self.version = 0
        # Test-side injections are synchronous, so waiters cannot use a Condition (notifying
        # needs its lock); every change instead sets the current Event and installs a new one.
        self._change = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._methods: dict[str, Handler] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "editmessagecaption": self._edit_message_caption,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "getchatmember": self._get_chat_member,
            "answercallbackquery": self._answer_callback_query,
            "answerinlinequery": self._answer_inline_query,
            "deletemessage": self._delete_message,
            "getchat": self._get_chat,
        }

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind to a free port on the host and start serving."""
        if self._runner is not None:
            raise RuntimeError("the fake Bot API is already running")
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        # Long polls and delays watch _closing, so a short shutdown timeout is enough.
        bound = await bind(app, self.host, self.port, shutdown_timeout=1.0)
        self._runner = bound.runner
        self._closing = False
        self._url = bound.url

    async def stop(self) -> None:
        """Answer pending long polls and stop serving."""
        if self._runner is None:
            return
        self._closing = True
        self._notify()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    @property
    def url(self) -> str:
        """The server's root, e.g. http://127.0.0.1:PORT; the bot's base_url is url + "/bot"."""
        if self._url is None:
            raise RuntimeError("the fake Bot API is not running")
        return self._url

    @property
    def bot_user(self) -> JsonDict:
        """The bot's User object."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
        }

    # --- configuring chats and misbehaviour -------------------------------------------------

    def add_chat(
        self,
        chat_id: int,
        *,
        chat_type: str | None = None,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
    ) -> Chat:
        """Create or reconfigure a chat; unknown ids are otherwise created on first use."""
        chat = Chat.auto(chat_id)
        if chat_type is not None:
            chat.type = chat_type
        chat.title = title if title is not None else chat.title
        chat.username = username if username is not None else chat.username
        chat.first_name = first_name if first_name is not None else chat.first_name
        if chat.type != "private":
            chat.first_name = None
        if chat.type == "channel":
            # A bot is in a channel only as an administrator.
            chat.bot_status = "administrator"
        self._forgotten.discard(chat_id)
        self.chats[chat_id] = chat
        return chat

    def chat(self, chat_id: int) -> Chat:
        """The chat with this id, created like Telegram would if it is new."""
        if chat_id not in self.chats:
            self.chats[chat_id] = Chat.auto(chat_id)
        return self.chats[chat_id]

    def block_chat(self, chat_id: int, description: str | None = None) -> None:
        """Answer 403 to sends here (private: "bot was blocked by the user", groups: kicked)."""
        chat = self.chat(chat_id)
        chat.blocked = description or chat.forbidden_description()

    def unblock_chat(self, chat_id: int) -> None:
        """Let the bot write to this chat again."""
        self.chat(chat_id).blocked = None

    def forget_chat(self, chat_id: int) -> None:
        """Answer 400 "chat not found" for this id from now on."""
        self.chats.pop(chat_id, None)
        self._forgotten.add(chat_id)

    def add_channel(
        self, chat_id: int, *, username: str | None = None, admin: bool = True
    ) -> Chat:
        """A channel; the bot is its administrator unless ``admin`` is False (then a plain
        subscriber: posting is refused with "need administrator rights")."""
        chat = self.add_chat(
            chat_id, chat_type="channel", title=f"Channel {chat_id}", username=username
        )
        chat.bot_status = "administrator" if admin else "member"
        return chat

    def open_thread(self, chat_id: int) -> int:
        """Create a topic thread in a forum supergroup (made one if needed); its thread id."""
        chat = self.chat(chat_id)
        if chat.type != "supergroup":
            chat = self.add_chat(chat_id, chat_type="supergroup", title=chat.title)
        chat.is_forum = True
        # A thread's id is the id of the service message that created it.
        thread_id = chat.allocate_message_id()
        chat.threads.add(thread_id)
        return thread_id

    def close_thread(self, chat_id: int, thread_id: int) -> None:
        """Delete a topic thread: sends to it answer "message thread not found"."""
        self.chat(chat_id).threads.discard(thread_id)

    def post_photo(self, chat_id: int, caption: str, *, keyboard: JsonDict | None = None) -> int:
        """Put a photo message from the bot with this caption (HTML) in a chat, as if the bot
        had sent it; its message id."""
        chat = self.chat(chat_id)
        content = formatted_text({"text": caption, "parse_mode": "HTML"})
        message = BotMessage(
            chat_id=chat.id,
            message_id=chat.allocate_message_id(),
            date=_unix_now(),
            text=content.text,
            entities=content.entities,
            html=caption,
            parse_mode="HTML",
            reply_markup=keyboard,
            photo=[
                {"file_id": f"posted-{chat.id}", "file_unique_id": "posted"}
                | {"width": 800, "height": 600}
            ],
        )
        chat.messages[message.message_id] = message
        chat.log.append(ChatEvent("bot_message", message.message_id, {"text": message.text}))
        self._notify()
        return message.message_id

    def age_messages(self, chat_id: int, seconds: float, message_id: int | None = None) -> None:
        """Make the bot's messages in a chat (or one of them) ``seconds`` older."""
        for message in self.chat(chat_id).messages.values():
            if message_id is None or message.message_id == message_id:
                message.date -= int(seconds)

    def migrate_chat(self, old_id: int, new_id: int) -> Chat:
        """Upgrade a group to a supergroup: the old id answers 400 with migrate_to_chat_id."""
        old = self.chat(old_id)
        old.migrated_to = new_id
        return self.add_chat(new_id, chat_type="supergroup", title=old.title)

    def fail_next(
        self,
        method: str,
        n: int = 1,
        *,
        status: int = 429,
        retry_after: int = 3,
        description: str | None = None,
    ) -> None:
        """Fail the next ``n`` calls of ``method`` ("*" for any) with HTTP ``status``."""
        # PTB turns 429 (with retry_after) into RetryAfter and 500/502 into NetworkError.
        error = too_many_requests(retry_after) if status == 429 else None
        parameters = error.parameters if error is not None else None
        if description is None:
            description = error.description if error is not None else HTTPStatus(status).phrase
        queue = self._faults.setdefault(method.lower(), deque())
        queue.extend(ApiError(status, description, parameters) for _ in range(n))

    def refuse_next_edit(
        self, method: str = "editMessageReplyMarkup", n: int = 1, *, reason: str = EDIT_NOT_FOUND
    ) -> None:
        """Answer the next ``n`` edits with 400 ``reason``, as when the reader deleted the
        message meanwhile (or "message is not modified": NOT_MODIFIED)."""
        self.fail_next(method, n, status=400, description=f"Bad Request: {reason}")

    def delay_next(self, method: str, n: int, seconds: float) -> None:
        """Hold the next ``n`` calls of ``method`` for ``seconds``, then carry them out."""
        # Carried out even if the client gave up: on Telegram too, a send that timed out may
        # still have been delivered, and the bot must cope with not knowing.
        self._delays.setdefault(method.lower(), deque()).extend([seconds] * n)

    def misanswer_next(
        self, method: str, n: int = 1, *, how: str = "unreadable", chat_id: int | None = None
    ) -> None:
        """Carry out the next ``n`` calls of ``method`` (to ``chat_id`` only, if given), then
        answer them wrongly; a call the server refuses does not use one up.

        ``how``: "unreadable" is ``ok`` with a Message lacking its chat and date (what a broken
        Bot API server or proxy might return; python-telegram-bot cannot build it),
        "not_object" is ``ok`` with ``true`` where an object is due, "not_json" a 200 whose body
        is not JSON, "reset" drops the connection without an answer after the message is
        stored, and "stall" stores it and answers nothing until the server stops.
        """
        if how not in MISANSWERS:
            raise ValueError(f"how must be one of {sorted(MISANSWERS)}")
        self._misanswers.setdefault(method.lower(), []).extend([(how, chat_id)] * n)

    def enable_flood_control(
        self,
        *,
        private_per_second: int = 1,
        group_per_minute: int = 20,
        global_per_second: int = 30,
    ) -> FloodControl:
        """Answer sendMessage with 429 when Telegram's pacing limits are exceeded."""
        self.flood_control = FloodControl(private_per_second, group_per_minute, global_per_second)
        return self.flood_control

    def disable_flood_control(self) -> None:
        """Accept messages at any rate again (the default)."""
        self.flood_control = None

    def host_image(self, url: str, data: bytes, content_type: str | None = None) -> None:
        """Let sendPhoto fetch ``data`` from ``url`` (the server never goes to the network)."""
        self.photos.host(url, data, content_type)

    def refuse_photo_url(self, url: str, reason: str = "failed to get HTTP URL content") -> None:
        """Answer a sendPhoto with this URL "Bad Request: <reason>", as for an unreachable host."""
        self.photos.refuse(url, reason)

    # --- acting as a user -------------------------------------------------------------------

    def send_user_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        language_code: str = "en",
        first_name: str | None = None,
        username: str | None = None,
        chat_type: str | None = None,
        reply_to: int | None = None,
        thread_id: int | None = None,
    ) -> int:
        """Queue an update with a user's text message; returns the update id (0 if filtered).

        ``reply_to`` is the id of a bot message in this chat that the message answers;
        ``thread_id`` a topic thread of a forum (see open_thread) the message is written in.
        """
        chat = self.chat(chat_id)
        if chat_type is not None:
            chat.type = chat_type
        user = self._user(chat, user_id, language_code, first_name, username)
        message = self._new_message(chat, text, user)
        if thread_id is not None:
            if thread_id not in chat.threads:
                raise LookupError(f"chat {chat_id} has no topic thread {thread_id}")
            message.update(message_thread_id=thread_id, is_topic_message=True)
        if reply_to is not None:
            replied = chat.messages.get(reply_to)
            if replied is None or replied.deleted:
                raise LookupError(f"chat {chat_id} has no bot message {reply_to} to reply to")
            message["reply_to_message"] = replied.to_dict(chat, self.bot_user)
        return self._queue("message", message)

    def edit_user_message(self, chat_id: int, message_id: int, text: str) -> int:
        """The user edits a message they sent: an ``edited_message`` update (0 if filtered)."""
        chat = self.chat(chat_id)
        original = chat.user_messages.get(message_id)
        if original is None:
            raise LookupError(f"chat {chat_id} has no user message {message_id} to edit")
        edited = {key: value for key, value in original.items() if key != "entities"}
        edited.update(text=text, edit_date=_unix_now(), **_command_entities(text))
        chat.user_messages[message_id] = edited
        chat.log.append(ChatEvent("user_edit", message_id, {"text": text}))
        return self._queue("edited_message", edited)

    def post_in_channel(self, chat_id: int, text: str, *, title: str | None = None) -> int:
        """A post in a channel where the bot is an admin: a ``channel_post`` (0 if filtered)."""
        chat = self.chat(chat_id)
        if chat.type != "channel":
            chat = self.add_chat(chat_id, chat_type="channel", title=title or f"Channel {chat_id}")
        post = self._new_message(chat, text, None)
        post["sender_chat"] = chat.to_dict()
        return self._queue("channel_post", post)

    def set_bot_status(self, chat_id: int, status: str, *, user_id: int | None = None) -> int:
        """The bot's membership changes: ``kicked`` (a user blocks it, an admin bans it),
        ``left`` (removed from a group), ``member`` (unblocked or added back).

        Sends to the chat are refused (403) while the bot is not a member, and a
        ``my_chat_member`` update is queued (0 if filtered).
        """
        if status not in ("member", "left", "kicked"):
            raise ValueError(f"unsupported status {status!r}: member, left or kicked")
        chat = self.chat(chat_id)
        if chat.type == "private" and status == "left":
            raise ValueError("a private chat cannot be left; the user blocks the bot (kicked)")
        old = _chat_member(self.bot_user, chat.bot_status)
        chat.bot_status = status
        chat.blocked = None if status == "member" else chat.forbidden_description()
        user = self._user(chat, user_id, "en", None, None)
        change: JsonDict = {
            "chat": chat.to_dict(),
            "from": user,
            "date": _unix_now(),
            "old_chat_member": old,
            "new_chat_member": _chat_member(self.bot_user, status),
        }
        chat.log.append(ChatEvent("bot_status", 0, {"status": status}))
        return self._queue("my_chat_member", change)

    def send_unreadable_update(self, chat_id: int, text: str = "hello") -> int:
        """A user's message with an entity of a shape python-telegram-bot cannot read (a later
        Bot API may send such fields); the update id (0 if filtered)."""
        chat = self.chat(chat_id)
        message = self._new_message(chat, text, self._user(chat, None, "en", None, None))
        # MessageEntity requires offset and length; without them the whole update fails to parse.
        message["entities"] = [{"type": "date_time", "unix_time": _unix_now()}]
        return self._queue("message", message)

    def repeat_update(self, update_id: int) -> JsonDict:
        """Deliver an update again with the same update_id, as Telegram does when the answer
        to its webhook request was lost, or when a poller stopped before its offset confirmed
        the update (the next poller gets it again); the update, for a test to post."""
        update = self.updates.redeliver(update_id)
        self._notify()
        return update

    def _new_message(self, chat: Chat, text: str, user: JsonDict | None) -> JsonDict:
        """A message from a user (or a channel, without ``from``), remembered in the chat."""
        message_id = chat.allocate_message_id()
        message: JsonDict = {"message_id": message_id, "chat": chat.to_dict()}
        if user is not None:
            message["from"] = user
        message.update(date=_unix_now(), text=text, **_command_entities(text))
        chat.user_messages[message_id] = message
        chat.log.append(ChatEvent("user_message", message_id, {"text": text, "from": user}))
        return message

    def _queue(self, kind: str, payload: JsonDict) -> int:
        update_id = self.updates.add(kind, payload)
        self._notify()
        return update_id or 0

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        callback_data: str,
        *,
        user_id: int | None = None,
        language_code: str = "en",
        first_name: str | None = None,
        forge: bool = False,
    ) -> str:
        """Queue a callback_query for a button of a bot message; returns the query id.

        With ``forge`` the data need not be on any button: a modified client can send anything.
        """
        chat = self.chats.get(chat_id)
        message = chat.messages.get(message_id) if chat is not None else None
        if chat is None or message is None or message.deleted:
            raise LookupError(
                f"chat {chat_id} has no bot message {message_id} to press a button on"
            )
        if not forge and callback_data not in message.callback_data():
            raise LookupError(
                f"message {message_id} in chat {chat_id} has no button with callback_data "
                f"{callback_data!r}; its buttons carry {message.callback_data()!r}"
            )
        user = self._user(chat, user_id, language_code, first_name, None)
        query_id = str(next(self._query_ids))
        self._queries[query_id] = CallbackQuery(
            query_id, chat_id, message_id, callback_data, user["id"], time.monotonic()
        )
        payload: JsonDict = {
            "id": query_id,
            "from": user,
            "message": message.to_dict(chat, self.bot_user),
            "chat_instance": str(abs(chat_id) * 7919 + 17),
            "data": callback_data,
        }
        chat.log.append(
            ChatEvent("callback_query", message_id, {"query_id": query_id, "data": callback_data})
        )
        self.updates.add("callback_query", payload)
        self._notify()
        return query_id

    def send_inline_query(
        self,
        user_id: int,
        query: str,
        *,
        offset: str = "",
        chat_type: str | None = "sender",
        language_code: str = "en",
        first_name: str | None = None,
    ) -> str:
        """The user types ``@bot query`` in a chat: an ``inline_query`` update; the query id.

        ``chat_type`` is the kind of chat it is typed in ("sender" for the private chat with
        the bot itself, "private", "group", "supergroup", "channel"), ``offset`` the
        ``next_offset`` of the bot's previous answer when the user scrolls for more.
        """
        if not self.inline_mode:
            raise RuntimeError("inline mode is off for this bot (BotFather: /setinline)")
        if len(query) > MAX_INLINE_QUERY_LENGTH:
            raise ValueError(f"Telegram sends at most {MAX_INLINE_QUERY_LENGTH} characters")
        user: JsonDict = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name or f"User{user_id}",
            "language_code": language_code,
        }
        query_id = str(next(self._query_ids))
        self._inline_queries[query_id] = InlineQuery(
            query_id, user, query, offset, chat_type, time.monotonic()
        )
        payload: JsonDict = {"id": query_id, "from": user, "query": query, "offset": offset}
        if chat_type is not None:
            payload["chat_type"] = chat_type
        self._queue("inline_query", payload)
        return query_id

    def expire_inline_query(self, query_id: str) -> None:
        """Let an inline query time out, as Telegram does some seconds after it was sent."""
        query = self._inline_queries.get(query_id)
        if query is not None:
            query.created = -math.inf

    def inline_answer(self, query_id: str) -> InlineAnswer | None:
        """The answer the bot gave to an inline query, if any."""
        return next((a for a in self.inline_answers if a.query_id == query_id), None)

    def choose_inline_result(self, query_id: str, result_id: str, chat_id: int) -> int:
        """The user picks a result of an answered inline query: the client posts its message
        to the chat as the user's, "via" the bot; the message id.

        The bot gets that message as an update (as where it is a member) and, when it asked
        for them, a ``chosen_inline_result`` (BotFather's /setinlinefeedback).
        """
        query = self._inline_queries.get(query_id)
        answer = self.inline_answer(query_id)
        if query is None or answer is None:
            raise LookupError(f"inline query {query_id} was not answered")
        result = next((r for r in answer.results if r.get("id") == result_id), None)
        if result is None:
            raise LookupError(f"the answer to inline query {query_id} has no result {result_id}")
        content = result.get("input_message_content") or {}
        formatted = formatted_text(
            {
                "text": content.get("message_text"),
                "parse_mode": content.get("parse_mode"),
                "entities": content.get("entities"),
            },
            strict_html=self.strict_html,
        )
        chat = self.chat(chat_id)
        message_id = chat.allocate_message_id()
        message: JsonDict = {
            "message_id": message_id,
            "from": query.user,
            "chat": chat.to_dict(),
            "date": _unix_now(),
            "text": formatted.text,
            "via_bot": self.bot_user,
        }
        if formatted.entities:
            message["entities"] = [entity.to_dict() for entity in formatted.entities]
        if result.get("reply_markup") is not None:
            message["reply_markup"] = result["reply_markup"]
        chat.user_messages[message_id] = message
        chat.log.append(
            ChatEvent(
                "user_message",
                message_id,
                {
                    "text": formatted.text,
                    "from": query.user,
                    "via_bot": self.bot_username,
                    "entities": [entity.to_dict() for entity in formatted.entities],
                    "markup": result.get("reply_markup"),
                },
            )
        )
        self._queue("message", message)
        chosen: JsonDict = {"result_id": result_id, "from": query.user, "query": query.query}
        self._queue("chosen_inline_result", chosen)
        return message_id

    def _user(
        self,
        chat: Chat,
        user_id: int | None,
        language_code: str,
        first_name: str | None,
        username: str | None,
    ) -> JsonDict:
        if user_id is None:
            user_id = chat.id if chat.type == "private" else 4242
        private_name = chat.first_name if chat.type == "private" else None
        user: JsonDict = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name or private_name or "Tester",
            "language_code": language_code,
        }
        if username is not None:
            user["username"] = username
        return user

    # --- inspecting -------------------------------------------------------------------------

    def messages(self, chat_id: int) -> list[BotMessage]:
        """The bot's messages in a chat, current state, oldest first, deleted ones left out."""
        chat = self.chats.get(chat_id)
        return chat.visible_messages() if chat is not None else []

    def calls(self, method: str) -> list[JsonDict]:
        """The decoded parameters of every call of ``method``."""
        return [r.params for r in self.requests if r.method.lower() == method.lower()]

    def commands_for(
        self, scope: JsonDict | None = None, language_code: str = ""
    ) -> list[JsonDict]:
        """The commands setMyCommands stored for this scope and language."""
        return self.commands.get((_scope_key(scope), language_code), [])

    def describe(self) -> str:
        """A short account of every chat, for failure messages."""
        if not self.chats:
            return f"no chats yet; {len(self.updates)} update(s) pending"
        parts = []
        for chat in self.chats.values():
            texts = [m.text[:60] for m in chat.visible_messages()]
            parts.append(f"chat {chat.id}: {len(texts)} bot message(s) {texts!r}")
        return "; ".join(parts) + f"; {len(self.updates)} update(s) pending"

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        # A plain number keeps test code short; it is applied with asyncio.timeout inside.
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        description: str | None = None,
    ) -> T:
        """Wait until ``predicate()`` is truthy (re-checked on every change) and return it."""
        try:
            async with asyncio.timeout(timeout):
                while not (value := predicate()):
                    await self._change.wait()
                return value
        except TimeoutError:
            what = description or getattr(predicate, "__name__", "a condition")
            raise TimeoutError(f"waited {timeout:g} s for {what}; {self.describe()}") from None

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[BotMessage]:
        """Wait until the chat holds at least ``count`` bot messages and return them."""

        def enough() -> list[BotMessage] | None:
            current = self.messages(chat_id)
            return current if len(current) >= max(count, 1) else None

        if count <= 0:
            return self.messages(chat_id)
        try:
            return await self.wait_for(enough, timeout)
        except TimeoutError:
            texts = [m.text[:80] for m in self.messages(chat_id)]
            raise TimeoutError(
                f"expected {count} bot message(s) in chat {chat_id} within {timeout:g} s, "
                f"but it holds {len(texts)}: {texts!r}"
            ) from None

    async def wait_change(
        self,
        since: int,
        timeout: float,  # noqa: ASYNC109
    ) -> int:
        """Wait until ``version`` differs from ``since`` (or timeout, or stop); the version."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.version == since and not self._closing:
                    await self._change.wait()
        return self.version

    def notify_change(self) -> None:
        """Wake everything waiting for a change, after changing state outside a request."""
        self._notify()

    def _notify(self) -> None:
        self.version += 1
        self._change.set()
        self._change = asyncio.Event()

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake early when the server stops."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while not self._closing:
                    await self._change.wait()

    # --- HTTP -------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await read_params(request)
        except ApiError as error:
            self.requests.append(RecordedRequest(method, {}))
            return _json_response(error.body(), error.status)
        self.requests.append(RecordedRequest(method, params))
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            handler = self._methods.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            await self._misbehave(method.lower())
            result = await handler(params)
        except ApiError as error:
            return _json_response(error.body(), error.status)
        finally:
            self._notify()
        how = self._take_misanswer(method.lower(), params.get("chat_id"))
        if how is not None:
            return await self._misanswer(request, how, result)
        return _json_response({"ok": True, "result": result})

    async def _misbehave(self, method: str) -> None:
        delay = _pop_planned(self._delays, method)
        if delay is not None:
            await self._sleep(delay)
        fault = _pop_planned(self._faults, method)
        if fault is not None:
            raise fault

    def _take_misanswer(self, method: str, chat_id: object) -> str | None:
        for key in (method, "*"):
            plans = self._misanswers.get(key, [])
            for index, (how, wanted) in enumerate(plans):
                if wanted is None or wanted == chat_id:
                    del plans[index]
                    return how
        return None

    async def _misanswer(self, request: web.Request, how: str, result: Any) -> web.Response:
        """The answer to a call that was carried out, spoiled as planned."""
        if how == "unreadable":
            spoiled = dict(result) if isinstance(result, dict) else {}
            spoiled.pop("chat", None)
            spoiled.pop("date", None)
            return _json_response({"ok": True, "result": spoiled})
        if how == "not_object":
            return _json_response({"ok": True, "result": True})
        if how == "not_json":
            return web.Response(text="<html>200 OK</html>", content_type="text/html")
        if how == "stall":
            while not self._closing:
                await self._change.wait()
            return _json_response({"ok": True, "result": result})
        transport = request.transport
        if transport is not None:
            # Linger 0: the close sends a TCP reset, as a crashed front end or proxy would.
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        return web.Response(status=HTTPStatus.NO_CONTENT)  # never reaches the client

    # --- chats and messages -----------------------------------------------------------------

    def _resolve_chat(self, params: Mapping[str, Any]) -> Chat:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        chat: Chat | None
        if isinstance(chat_id, str):
            wanted = chat_id.removeprefix("@").lower()
            chat = next(
                (c for c in self.chats.values() if (c.username or "").lower() == wanted), None
            )
        elif chat_id in self._forgotten or chat_id == 0:
            chat = None
        elif chat_id in self.chats or not self.auto_create_chats:
            chat = self.chats.get(chat_id)
        else:
            chat = self.chat(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        return chat

    def _writable_chat(self, params: Mapping[str, Any]) -> Chat:
        chat = self._resolve_chat(params)
        if chat.blocked is not None:
            raise ApiError(403, chat.blocked)
        if chat.type == "channel" and chat.bot_status != "administrator":
            if chat.bot_status in ("left", "kicked"):
                raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
            raise bad_request(NEED_ADMIN)
        return chat

    def _message_to_edit(self, params: Mapping[str, Any]) -> tuple[Chat, BotMessage]:
        if "chat_id" not in params and params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._writable_chat(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            if message_id in chat.user_messages:
                raise bad_request("message can't be edited")
            raise bad_request("message to edit not found")
        return chat, message

    # --- Bot API methods --------------------------------------------------------------------

    async def _get_me(self, params: JsonDict) -> JsonDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": self.inline_mode,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JsonDict) -> list[JsonDict]:
        if self.webhook.url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self.updates.set_allowed(params["allowed_updates"] or [])
        if params.get("offset") is not None:
            self.updates.confirm(params["offset"])
        limit = min(max(params.get("limit", 100), 1), 100)
        timeout = max(params.get("timeout", 0), 0)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not (
                    len(self.updates) or self._closing or generation != self._poll_generation
                ):
                    await self._change.wait()
        if generation != self._poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        return self.updates.peek(limit)

    async def _delete_webhook(self, params: JsonDict) -> bool:
        if params.get("drop_pending_updates"):
            self.updates.clear()
        self.webhook = Webhook()
        return True

    async def _set_webhook(self, params: JsonDict) -> bool:
        url = params.get("url", "")
        if url and not re.match(r"(?i)https://[^/?#\s]+", url):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self.updates.clear()
        allowed = params.get("allowed_updates")
        if allowed is not None:
            self.updates.set_allowed(allowed)
        self.webhook = Webhook(
            url=url,
            secret_token=secret if url else None,
            max_connections=params.get("max_connections", 40),
            allowed_updates=allowed,
        )
        return True

    async def _get_webhook_info(self, params: JsonDict) -> JsonDict:
        return self.webhook.info(len(self.updates))

    def _commands_key(self, params: JsonDict) -> tuple[str, str]:
        language_code = params.get("language_code") or ""
        if not _LANGUAGE_CODE.fullmatch(language_code):
            raise bad_request("invalid language code specified")
        return _scope_key(params.get("scope")), language_code

    async def _set_my_commands(self, params: JsonDict) -> bool:
        if "commands" not in params:
            raise bad_request('parameter "commands" is required')
        commands = _check_commands(params["commands"])
        key = self._commands_key(params)
        if commands:
            self.commands[key] = commands
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: JsonDict) -> list[JsonDict]:
        return self.commands.get(self._commands_key(params), [])

    async def _delete_my_commands(self, params: JsonDict) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _send_message(self, params: JsonDict) -> JsonDict:
        chat = self._writable_chat(params)
        content = formatted_text(params, strict_html=self.strict_html)
        markup = check_reply_markup(params.get("reply_markup"))
        thread_id = self._thread_of(chat, params)
        preview = check_link_preview(params.get("link_preview_options"))
        now = self._flood_check(chat)
        message = BotMessage(
            chat_id=chat.id,
            message_id=chat.allocate_message_id(),
            date=_unix_now(),
            text=content.text,
            entities=content.entities,
            html=params["text"],
            parse_mode=params.get("parse_mode") or None,
            reply_markup=markup,
            message_thread_id=thread_id,
            link_preview=preview,
        )
        chat.messages[message.message_id] = message
        chat.log.append(
            ChatEvent("bot_message", message.message_id, {"text": message.text, "markup": markup})
        )
        self.timeline.append((now, chat.id, message.message_id))
        return message.to_dict(chat, self.bot_user)

    def _thread_of(self, chat: Chat, params: JsonDict) -> int | None:
        """The forum thread a message is sent to; an unknown one is Telegram's 400."""
        thread_id: int | None = params.get("message_thread_id")
        if thread_id is not None and (not chat.is_forum or thread_id not in chat.threads):
            raise bad_request(THREAD_NOT_FOUND)
        return thread_id

    def _flood_check(self, chat: Chat) -> float:
        now = time.monotonic()
        if self.flood_control is not None:
            retry_after = self.flood_control.check(chat, now)
            if retry_after is not None:
                raise too_many_requests(retry_after)
            self.flood_control.record(chat, now)
        return now

    async def _send_photo(self, params: JsonDict) -> JsonDict:
        chat = self._writable_chat(params)
        caption = caption_text(params, strict_html=self.strict_html)
        markup = check_reply_markup(params.get("reply_markup"))
        if "photo" not in params:
            raise bad_request("there is no photo in the request")
        thread_id = self._thread_of(chat, params)
        try:
            photo = self.photos.take(params["photo"])
        except PhotoRefused as refusal:
            raise bad_request(str(refusal)) from None
        except UploadTooLarge:
            raise ApiError(413, "Request Entity Too Large") from None
        now = self._flood_check(chat)
        message = BotMessage(
            chat_id=chat.id,
            message_id=chat.allocate_message_id(),
            date=_unix_now(),
            text=caption.text,
            entities=caption.entities,
            html=params.get("caption") or "",
            parse_mode=params.get("parse_mode") or None,
            reply_markup=markup,
            photo=photo.sizes,
            message_thread_id=thread_id,
        )
        chat.messages[message.message_id] = message
        chat.log.append(
            ChatEvent(
                "bot_message",
                message.message_id,
                {"text": message.text, "markup": markup, "photo": photo.unique},
            )
        )
        self.timeline.append((now, chat.id, message.message_id))
        return message.to_dict(chat, self.bot_user)

    async def _edit_message_text(self, params: JsonDict) -> JsonDict:
        chat, message = self._message_to_edit(params)
        if message.media is not None:
            raise bad_request(NO_TEXT_TO_EDIT)
        content = formatted_text(params, strict_html=self.strict_html)
        # Without reply_markup an edit removes the inline keyboard, as on Telegram.
        markup = check_reply_markup(params.get("reply_markup"), inline_only=True)
        current = (message.text, message.entities, message.inline_keyboard)
        if (content.text, content.entities, markup) == current:
            raise bad_request(NOT_MODIFIED)
        if (content.text, content.entities) != (message.text, message.entities):
            message.text_edits += 1
        message.text, message.entities = content.text, content.entities
        message.html, message.parse_mode = params["text"], params.get("parse_mode") or None
        message.reply_markup = markup
        message.edit_date = _unix_now()
        chat.log.append(
            ChatEvent("edit", message.message_id, {"text": message.text, "markup": markup})
        )
        return message.to_dict(chat, self.bot_user)

    async def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        chat, message = self._message_to_edit(params)
        markup = check_reply_markup(params.get("reply_markup"), inline_only=True)
        if markup == message.inline_keyboard:
            raise bad_request(NOT_MODIFIED)
        message.reply_markup = markup
        message.edit_date = _unix_now()
        chat.log.append(ChatEvent("edit", message.message_id, {"markup": markup}))
        return message.to_dict(chat, self.bot_user)

    async def _edit_message_caption(self, params: JsonDict) -> JsonDict:
        chat, message = self._message_to_edit(params)
        if message.media is None:
            raise bad_request(NO_CAPTION_TO_EDIT)
        caption = params.get("caption") or ""
        content = FormattedText("", ())
        if caption:
            as_text = {
                "text": caption,
                "parse_mode": params.get("parse_mode"),
                "entities": params.get("caption_entities"),
            }
            try:
                content = formatted_text(as_text, strict_html=self.strict_html)
            except ApiError as error:
                if error.description != "Bad Request: message is too long":
                    raise
            if not content.text or utf16_len(content.text) > MAX_CAPTION_LENGTH:
                raise bad_request("message caption is too long")
        markup = check_reply_markup(params.get("reply_markup"), inline_only=True)
        current = (message.text, message.entities, message.inline_keyboard)
        if (content.text, content.entities, markup) == current:
            raise bad_request(NOT_MODIFIED)
        if (content.text, content.entities) != (message.text, message.entities):
            message.text_edits += 1
        message.text, message.entities = content.text, content.entities
        message.html, message.parse_mode = caption, params.get("parse_mode") or None
        message.reply_markup = markup
        message.edit_date = _unix_now()
        chat.log.append(
            ChatEvent("edit", message.message_id, {"text": message.text, "markup": markup})
        )
        return message.to_dict(chat, self.bot_user)

    async def _delete_message(self, params: JsonDict) -> bool:
        chat = self._resolve_chat(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is not None and not message.deleted:
            too_old = _unix_now() - message.date >= DELETE_WINDOW
            if too_old and chat.type != "channel":
                raise bad_request(CANNOT_DELETE)
            message.deleted = True
        elif chat.user_messages.pop(message_id, None) is None:
            raise bad_request(DELETE_NOT_FOUND)
        chat.log.append(ChatEvent("delete", message_id, {}))
        return True

    async def _answer_callback_query(self, params: JsonDict) -> bool:
        query_id = params.get("callback_query_id")
        if not query_id:
            raise bad_request("QUERY_ID_INVALID")
        text = params.get("text")
        if text is not None and utf16_len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        query = self._queries.get(query_id)
        ttl = self.callback_query_ttl
        expired = query is not None and ttl is not None and time.monotonic() - query.created > ttl
        if query is None or query.answered or expired:
            raise bad_request(QUERY_INVALID)
        query.answered = True
        answer = CallbackAnswer(
            query_id=query_id,
            text=text,
            show_alert=params.get("show_alert", False),
            url=params.get("url"),
            cache_time=params.get("cache_time", 0),
        )
        self.callback_answers.append(answer)
        if (chat := self.chats.get(query.chat_id)) is not None:
            chat.log.append(ChatEvent("callback_answer", query.message_id, answer._asdict()))
        return True

    async def _answer_inline_query(self, params: JsonDict) -> bool:
        query_id = params.get("inline_query_id")
        if not query_id:
            raise bad_request("QUERY_ID_INVALID")
        results = params.get("results")
        if not isinstance(results, list):
            raise bad_request("can't parse inline query results JSON object")
        if len(results) > MAX_INLINE_RESULTS:
            raise bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            _check_inline_result(result, seen, strict_html=self.strict_html)
        cache_time = params.get("cache_time", DEFAULT_INLINE_CACHE_TIME)
        if cache_time < 0:
            raise bad_request("CACHE_TIME_INVALID")
        next_offset = params.get("next_offset") or ""
        if len(next_offset.encode()) > MAX_INLINE_OFFSET_BYTES:
            raise bad_request("NEXT_OFFSET_INVALID")
        button = params.get("button")
        if button is not None and (not isinstance(button, dict) or not button.get("text")):
            raise bad_request("can't parse InlineQueryResultsButton JSON object")
        # Checked last, as Telegram does: a malformed answer to a dead query says what is
        # malformed.
        query = self._inline_queries.get(query_id)
        ttl = self.inline_query_ttl
        expired = query is not None and (
            query.created == -math.inf
            or (ttl is not None and time.monotonic() - query.created > ttl)
        )
        if query is None or query.answered or expired:
            raise bad_request("QUERY_ID_INVALID")
        query.answered = True
        self.inline_answers.append(
            InlineAnswer(
                query_id=query_id,
                results=results,
                cache_time=cache_time,
                is_personal=params.get("is_personal", False),
                next_offset=next_offset,
                button=button,
            )
        )
        return True

    async def _get_chat(self, params: JsonDict) -> JsonDict:
        return self._resolve_chat(params).full_info()

    async def _get_chat_member(self, params: JsonDict) -> JsonDict:
        chat = self._resolve_chat(params)
        user_id = params.get("user_id")
        if user_id is None:
            raise bad_request("user_id is empty")
        if user_id != self.bot_id:
            # The emulator follows only the bot's own membership.
            return _chat_member(self._user(chat, user_id, "en", None, None), "member")
        return _chat_member(self.bot_user, chat.bot_status)


def _command_entities(text: str) -> JsonDict:
    """The bot_command entity Telegram adds to a message that starts with a command."""
    command = _BOT_COMMAND.match(text)
    if command is None:
        return {}
    return {"entities": [{"type": "bot_command", "offset": 0, "length": utf16_len(command[0])}]}


def _chat_member(user: JsonDict, status: str) -> JsonDict:
    """A ChatMember object; a ban (kicked) lasts forever (until_date 0)."""
    member: JsonDict = {"user": user, "status": status}
    if status == "kicked":
        member["until_date"] = 0
    if status == "administrator":
        rights = [
            *("can_manage_chat", "can_delete_messages", "can_manage_video_chats"),
            *("can_restrict_members", "can_promote_members", "can_change_info"),
            *("can_invite_users", "can_post_stories", "can_edit_stories"),
            *("can_delete_stories", "can_post_messages", "can_edit_messages"),
        ]
        member.update(dict.fromkeys(rights, True), can_be_edited=False, is_anonymous=False)
    return member


def _pop_planned(plans: dict[str, deque[T]], method: str) -> T | None:
    """Take the next planned behaviour for this method, or for any method ("*")."""
    for key in (method, "*"):
        queue = plans.get(key)
        if queue:
            return queue.popleft()
    return None
