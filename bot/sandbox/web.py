"""The sandbox's web chat: a page per simulated reader, talking to the fake Bot API.

The page (static/) shows a reader's private chat with the bot as Telegram shows it. This server
turns the page's actions into the updates a Telegram client would cause (``send_user_message``,
``press_button``) and streams what happens in the chat as server-sent events: a snapshot of the
history first, then each new, edited or deleted message. Bot messages travel as plain text plus
entities, never as HTML: the page builds DOM nodes from them, so no text the bot sends can become
markup. An operator's page also streams the newsroom: stored articles and broadcast progress.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.ops.serving import Service, bind
from bot.sandbox.botapi.server import MAX_INLINE_QUERY_LENGTH, MAX_TEXT_LENGTH, FakeBotApi
from bot.sandbox.botapi.state import BotMessage, Chat, ChatEvent, JsonDict
from bot.sandbox.botapi.telegram_html import utf16_len

__all__ = ["STATIC_DIR", "Newsroom", "Reader", "WebChat", "bot_message_json", "chat_history"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
KEEPALIVE = 15.0  # seconds between SSE comments, so dead connections are noticed
INLINE_WAIT = 10.0  # seconds a typed inline query waits for the bot's answer, as on Telegram
NEWSROOM_INTERVAL = 1.0  # seconds between looks at the store for an operator's page

# No login guards the page, so it must not run anything but its own script, nor be framed.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


# The sandbox's channel: the bot is its administrator; `/channels add @newsbot_sandbox` makes
# every publish go there too.
SANDBOX_CHANNEL_ID = -1001000000001
SANDBOX_CHANNEL_NAME = "newsbot_sandbox"


@dataclass(frozen=True, slots=True)
class Reader:
    """A simulated Telegram user; their private chat with the bot has the same id."""

    id: int
    name: str
    language: str  # the Telegram client's language_code, which the bot greets in
    operator: bool = False
    # Not a person: a channel whose posts the page shows (nothing is typed there).
    channel: bool = False

    def to_json(self) -> JsonDict:
        """The reader as the page sees it."""
        return {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "operator": self.operator,
            "channel": self.channel,
        }


class Newsroom(Protocol):
    """What an operator's page shows besides the chat: articles and broadcasts."""

    async def snapshot(self) -> JsonDict:
        """The current state, JSON-ready."""
        ...


def _buttons(keyboard: JsonDict | None) -> list[list[JsonDict]]:
    """An inline keyboard's rows as the page renders them: a label and a callback or a link."""
    rows: list[list[JsonDict]] = []
    for row in keyboard["inline_keyboard"] if keyboard is not None else []:
        buttons: list[JsonDict] = []
        for button in row:
            item: JsonDict = {"text": button["text"]}
            if "callback_data" in button:
                item["callback_data"] = button["callback_data"]
            elif "url" in button:
                item["url"] = button["url"]
            buttons.append(item)
        rows.append(buttons)
    return rows


def bot_message_json(message: BotMessage) -> JsonDict:
    """A bot message as the page renders it: text, entities (UTF-16 offsets) and buttons."""
    shown: JsonDict = {
        "id": message.message_id,
        "from": "bot",
        "date": message.date,
        "text": message.text,
        "entities": [entity.to_dict() for entity in message.entities],
        "buttons": _buttons(message.inline_keyboard),
        # As Telegram shows it: only an edit of the words marks a message "edited".
        "edited": message.text_edits > 0,
    }
    if message.photo:
        largest = message.photo[-1]
        # The page asks this server for the picture; a URL photo the fake Telegram never had
        # the bytes of (nothing hosted there) shows as an empty frame of its size.
        shown["photo"] = {
            "src": f"/api/photos/{largest['file_unique_id']}",
            "width": largest["width"],
            "height": largest["height"],
        }
    return shown


def _user_message_json(message: JsonDict) -> JsonDict:
    data: JsonDict = {
        "id": message["message_id"],
        "from": "user",
        "date": message["date"],
        "text": message.get("text", ""),
        "entities": message.get("entities", []),
        # A story card the reader posted through inline mode carries the bot's link buttons.
        "buttons": _buttons(message.get("reply_markup")),
        "edited": False,
    }
    if "via_bot" in message:
        data["via_bot"] = message["via_bot"].get("username")
    return data


def chat_history(chat: Chat) -> list[JsonDict]:
    """Every message of the chat still shown, oldest first (ids are shared and increasing)."""
    shown: dict[int, JsonDict] = {
        message_id: _user_message_json(message)
        for message_id, message in chat.user_messages.items()
    }
    for message in chat.visible_messages():
        shown[message.message_id] = bot_message_json(message)
    return [shown[message_id] for message_id in sorted(shown)]


def _event_json(chat: Chat, event: ChatEvent) -> JsonDict | None:
    """The page's view of one chat event; None for events the page does not show."""
    if event.kind == "user_message":
        user_message = chat.user_messages.get(event.message_id)
        if user_message is None:
            return None
        return {"type": "message", "message": _user_message_json(user_message)}
    if event.kind in ("bot_message", "edit"):
        # The message as it is now: a later edit or delete is sent as its own event anyway.
        message = chat.messages.get(event.message_id)
        if message is None or message.deleted:
            return None
        return {"type": "message", "message": bot_message_json(message)}
    if event.kind == "delete":
        return {"type": "delete", "id": event.message_id}
    if event.kind == "callback_answer":
        return {
            "type": "answer",
            "id": event.message_id,
            "text": event.detail.get("text"),
            "show_alert": bool(event.detail.get("show_alert")),
        }
    return None


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _error(status: int, reason: str) -> web.HTTPException:
    exception = web.HTTPException(text=_dumps({"error": reason}), content_type="application/json")
    exception.set_status(status)
    return exception


@web.middleware
async def _security(request: web.Request, handler: Handler) -> web.StreamResponse:
    # A page on another site could post to a loopback address: refuse foreign origins, and take
    # only JSON bodies, which a cross-site form cannot send without the browser asking first.
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise _error(403, "cross-origin request refused")
        if request.content_type != "application/json":
            raise _error(415, "send JSON")
    response = await handler(request)
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class WebChat(Service):
    """The web chat server: pages, history, sending, pressing, and live events per reader."""

    def __init__(
        self,
        api: FakeBotApi,
        readers: Sequence[Reader],
        *,
        newsroom: Newsroom | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api = api
        self.readers = {reader.id: reader for reader in readers}
        self.newsroom = newsroom
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._closing = False

    def application(self) -> web.Application:
        """The aiohttp application (also what a test client serves)."""
        app = web.Application(middlewares=[_security])
        app.router.add_get("/", self._index)
        app.router.add_static("/static", STATIC_DIR)
        app.router.add_get("/api/readers", self._readers)
        app.router.add_get("/api/chats/{reader}/messages", self._messages)
        app.router.add_get("/api/chats/{reader}/commands", self._commands)
        app.router.add_post("/api/chats/{reader}/send", self._send)
        app.router.add_post("/api/chats/{reader}/press", self._press)
        app.router.add_post("/api/chats/{reader}/choose", self._choose)
        app.router.add_get("/api/chats/{reader}/events", self._events)
        app.router.add_get("/api/newsroom/{reader}", self._newsroom)
        app.router.add_get("/api/photos/{unique}", self._photo)
        app.on_shutdown.append(self._on_shutdown)
        return app

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the readers' chats, bind to host:port and start serving."""
        if self._runner is not None:
            raise RuntimeError("the web chat is already running")
        for reader in self.readers.values():
            if reader.channel and reader.id not in self.api.chats:
                self.api.add_channel(reader.id, username=SANDBOX_CHANNEL_NAME)
            elif reader.id not in self.api.chats:
                self.api.add_chat(reader.id, first_name=reader.name)
        self._closing = False
        # Event streams end when told to close (see _on_shutdown): a short timeout is enough.
        bound = await bind(self.application(), self.host, self.port, shutdown_timeout=2.0)
        self._runner = bound.runner
        self._url = bound.url

    async def stop(self) -> None:
        """End every event stream and stop serving."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def _on_shutdown(self, _app: web.Application) -> None:
        self._closing = True
        self.api.notify_change()

    @property
    def url(self) -> str:
        """The page's address, e.g. http://127.0.0.1:8080."""
        if self._url is None:
            raise RuntimeError("the web chat is not running")
        return self._url

    # --- handlers ---------------------------------------------------------------------------

    def _reader(self, request: web.Request) -> Reader:
        raw = request.match_info["reader"]
        # A channel's id is negative.
        number = raw.removeprefix("-")
        reader = self.readers.get(int(raw)) if number.isdigit() and len(number) < 20 else None
        if reader is None:
            raise _error(404, f"no sandbox reader {raw}")
        return reader

    @staticmethod
    async def _body(request: web.Request) -> JsonDict:
        try:
            body = await request.json()
        except ValueError:
            raise _error(400, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise _error(400, "the body must be a JSON object")
        return body

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        return web.json_response(data, status=status, dumps=_dumps)

    async def _index(self, _request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def _photo(self, request: web.Request) -> web.Response:
        photo = self.api.photos.by_file_unique_id(request.match_info["unique"])
        if photo is None or photo.data is None or photo.content_type is None:
            raise _error(404, "no such photo")
        return web.Response(
            body=photo.data,
            content_type=photo.content_type,
            headers={"Cache-Control": "private, max-age=3600"},
        )

    async def _readers(self, _request: web.Request) -> web.Response:
        return self._json(
            {
                "bot": {"name": self.api.bot_name, "username": self.api.bot_username},
                "readers": [reader.to_json() for reader in self.readers.values()],
                "newsroom": self.newsroom is not None,
            }
        )

    async def _messages(self, request: web.Request) -> web.Response:
        reader = self._reader(request)
        return self._json({"messages": chat_history(self.api.chat(reader.id))})

    async def _commands(self, request: web.Request) -> web.Response:
        reader = self._reader(request)
        # The menu a Telegram client shows: this chat's own, else its language's, else default.
        chat_scope = {"type": "chat", "chat_id": reader.id}
        for scope, language in ((chat_scope, ""), (None, reader.language), (None, "")):
            commands = self.api.commands_for(scope, language)
            if commands:
                break
        return self._json({"commands": commands})

    async def _send(self, request: web.Request) -> web.Response:
        reader = self._reader(request)
        if reader.channel:
            raise _error(403, "nobody writes in the channel: it shows what the bot posts")
        text = (await self._body(request)).get("text")
        if not isinstance(text, str) or not text.strip():
            raise _error(400, "the message is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise _error(400, f"a message holds at most {MAX_TEXT_LENGTH} characters")
        mention, _, words = text.partition(" ")
        if mention.lower() == f"@{self.api.bot_username}".lower():
            return await self._inline(reader, words.strip())
        self.api.send_user_message(
            reader.id, text, language_code=reader.language, first_name=reader.name
        )
        return self._json({"ok": True})

    async def _inline(self, reader: Reader, words: str) -> web.Response:
        """ "@bot words" typed in the composer: an inline query, and the bot's results to pick."""
        if len(words) > MAX_INLINE_QUERY_LENGTH:
            raise _error(
                400, f"an inline query holds at most {MAX_INLINE_QUERY_LENGTH} characters"
            )
        try:
            query_id = self.api.send_inline_query(
                reader.id, words, language_code=reader.language, first_name=reader.name
            )
        except RuntimeError as error:  # inline mode is off for this bot
            raise _error(409, str(error)) from None
        try:
            answer = await self.api.wait_for(lambda: self.api.inline_answer(query_id), INLINE_WAIT)
        except TimeoutError:
            raise _error(504, "the bot did not answer the inline query") from None
        results = [
            {
                "id": result.get("id"),
                "title": result.get("title", ""),
                "description": result.get("description", ""),
            }
            for result in answer.results
        ]
        return self._json({"inline": {"query_id": query_id, "results": results}})

    async def _choose(self, request: web.Request) -> web.Response:
        """The reader picks an inline result: it is posted in their chat, "via" the bot."""
        reader = self._reader(request)
        body = await self._body(request)
        query_id, result_id = body.get("query_id"), body.get("result_id")
        if not isinstance(query_id, str) or not isinstance(result_id, str):
            raise _error(400, "query_id and result_id (strings) are needed")
        try:
            message_id = self.api.choose_inline_result(query_id, result_id, reader.id)
        except LookupError as error:
            raise _error(404, str(error)) from None
        return self._json({"message_id": message_id})

    async def _press(self, request: web.Request) -> web.Response:
        reader = self._reader(request)
        body = await self._body(request)
        message_id, data = body.get("message_id"), body.get("data")
        if not isinstance(message_id, int) or not isinstance(data, str):
            raise _error(400, "message_id (a number) and data (a string) are needed")
        try:
            query_id = self.api.press_button(
                reader.id,
                message_id,
                data,
                language_code=reader.language,
                first_name=reader.name,
            )
        except LookupError as error:
            raise _error(404, str(error)) from None
        return self._json({"query_id": query_id})

    async def _newsroom(self, request: web.Request) -> web.Response:
        reader = self._reader(request)
        if not reader.operator:
            raise _error(403, f"reader {reader.id} is not an operator")
        if self.newsroom is None:
            raise _error(404, "no bot is running (--api-only): there is no newsroom")
        return self._json(await self.newsroom.snapshot())

    async def _events(self, request: web.Request) -> web.StreamResponse:
        reader = self._reader(request)
        chat = self.api.chat(reader.id)
        newsroom = self.newsroom if reader.operator else None
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        # Read the version before the log: a change after this point wakes the loop below.
        version = self.api.version
        cursor = len(chat.log)
        last_state: JsonDict | None = None
        next_look = 0.0
        last_write = time.monotonic()
        try:
            await self._emit(response, {"type": "snapshot", "messages": chat_history(chat)})
            while not self._closing:
                events = [_event_json(chat, event) for event in chat.log[cursor:]]
                cursor = len(chat.log)
                for data in events:
                    if data is not None:
                        await self._emit(response, data)
                        last_write = time.monotonic()
                if newsroom is not None and time.monotonic() >= next_look:
                    next_look = time.monotonic() + NEWSROOM_INTERVAL
                    state = await self._look(newsroom)
                    if state is not None and state != last_state:
                        await self._emit(response, {"type": "newsroom", **state})
                        last_state, last_write = state, time.monotonic()
                if time.monotonic() - last_write >= KEEPALIVE:
                    await response.write(b": keepalive\n\n")
                    last_write = time.monotonic()
                wait = NEWSROOM_INTERVAL if newsroom is not None else KEEPALIVE
                version = await self.api.wait_change(version, wait)
        except ConnectionResetError:
            pass  # the page was closed or reloaded
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    @staticmethod
    async def _look(newsroom: Newsroom) -> JsonDict | None:
        """The newsroom's state; None when the store could not be read this time."""
        try:
            return await newsroom.snapshot()
        except Exception:
            # The chat must go on streaming; the next look may succeed.
            log.exception("could not read the newsroom")
            return None

    @staticmethod
    async def _emit(response: web.StreamResponse, data: JsonDict) -> None:
        await response.write(f"data: {_dumps(data)}\n\n".encode())
