"""A story card's sendMessage built once and sent to many chats.

A broadcast sends the same card to every reader of a language; only the chat (and whether the
message is silent or goes to a forum thread) changes. ``Bot.send_message`` builds, checks and
encodes every parameter again for each chat, and turns each answer into a ``Message`` that the
deliverer reads one number from. Here the card's parameters are encoded once; a send adds the
chat's own, goes through the same rate limiter and request object as every other call (so 429s,
timeouts and Telegram's errors reach the deliverer as the same exceptions), and hands back the
raw result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, TelegramObject
from telegram.constants import ParseMode
from telegram.ext import ExtBot
from telegram.request import RequestData

# Internal to python-telegram-bot (pinned): a parameter whose value is a string is sent as it is,
# which is how an object encoded once ahead of time is passed along.
from telegram.request._requestparameter import RequestParameter

from bot.delivery import answers
from bot.delivery.pacing import Pace

__all__ = ["PreparedText"]

ENDPOINT = "sendMessage"


def _parameter(name: str, value: str | bool | int | TelegramObject) -> RequestParameter:
    """A parameter as python-telegram-bot would send it, already JSON-encoded."""
    if isinstance(value, TelegramObject):
        encoded = json.dumps(value.to_dict())
    elif isinstance(value, str):
        encoded = value
    else:
        encoded = json.dumps(value)
    return RequestParameter(name, encoded, input_files=None)


_SILENT = _parameter("disable_notification", True)


@dataclass(frozen=True, slots=True)
class PreparedText:
    """One text card (HTML, its buttons and link preview), encoded for any chat."""

    parameters: tuple[RequestParameter, ...]
    paid: bool  # a paid broadcast: its own, higher rate limit

    @classmethod
    def of(
        cls,
        text: str,
        keyboard: InlineKeyboardMarkup | None,
        preview: LinkPreviewOptions,
        *,
        paid_broadcast: bool = False,
    ) -> PreparedText:
        """The card as Bot.send_message would send it, with parse_mode HTML."""
        parameters = [
            _parameter("text", text),
            _parameter("parse_mode", ParseMode.HTML.value),
            _parameter("link_preview_options", preview),
        ]
        if keyboard is not None:
            parameters.append(_parameter("reply_markup", keyboard))
        if paid_broadcast:
            parameters.append(_parameter("allow_paid_broadcast", True))
        return cls(tuple(parameters), paid_broadcast)

    def request(
        self, chat_id: int, *, silent: bool = False, thread_id: int | None = None
    ) -> RequestData:
        """The request for one chat: its own parameters, then the card's."""
        own = [_parameter("chat_id", chat_id)]
        if silent:
            own.append(_SILENT)
        if thread_id is not None:
            own.append(_parameter("message_thread_id", thread_id))
        return RequestData([*own, *self.parameters])

    async def send(
        self,
        bot: ExtBot[Pace],
        chat_id: int,
        *,
        silent: bool = False,
        thread_id: int | None = None,
        rate_limit_args: Pace | None = Pace.BROADCAST,
    ) -> Any:
        """Send the card to one chat through the bot's rate limiter; Telegram's raw result."""
        data = self.request(chat_id, silent=silent, thread_id=thread_id)
        url = f"{bot.base_url}/{ENDPOINT}"

        async def post() -> Any:
            return await bot.request.post(url, request_data=data)

        limiter = bot.rate_limiter
        if limiter is None:
            result = await post()
            answers.note(result)
            return result
        # What the limiter reads of a request: its chat, and whether it is a paid broadcast.
        paced: dict[str, Any] = {"chat_id": chat_id}
        if self.paid:
            paced["allow_paid_broadcast"] = True
        return await limiter.process_request(
            callback=post,
            args=(),
            kwargs={},
            endpoint=ENDPOINT,
            data=paced,
            rate_limit_args=rate_limit_args,
        )
