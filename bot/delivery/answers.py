"""Whether Telegram answered a request, for a caller that must know it even when
python-telegram-bot then fails to read the answer.

PTB turns the answer's ``result`` into objects only after the request has returned; when that
fails (a result it cannot parse), nothing in the exception says that Telegram had accepted the
request. The rate limiter sees the raw result first and notes it here, in the context of the task
that made the call.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

__all__ = ["Answer", "message_id_of", "note", "watch"]


@dataclass
class Answer:
    """What Telegram answered to the watched request, if it answered with ``ok``."""

    received: bool = False
    result: Any = None

    def message_id(self) -> int | None:
        """The message id in the raw result, if there is a plain one."""
        if isinstance(self.result, dict):
            value = self.result.get("message_id")
            if type(value) is int:
                return value
        return None


_watched: ContextVar[Answer | None] = ContextVar("newsbot_answer", default=None)


class watch:  # a function to its callers: `with answers.watch() as answer`
    """Note the raw result of the requests made inside the block (the last one wins).

    A class rather than a generator: a broadcast enters one per message sent.
    """

    __slots__ = ("_answer", "_token")

    def __init__(self) -> None:
        self._answer = Answer()
        self._token: Token[Answer | None] | None = None

    def __enter__(self) -> Answer:
        self._token = _watched.set(self._answer)
        return self._answer

    def __exit__(self, *_exc: object) -> None:
        if self._token is not None:
            _watched.reset(self._token)


def note(result: Any) -> None:
    """Record a successful answer for the watching caller, if there is one."""
    answer = _watched.get()
    if answer is not None:
        answer.received = True
        answer.result = result


def message_id_of(result: Any) -> int | None:
    """The id of the message a raw result describes, if it reads as a Message (an id, a date
    and a chat); None for anything else."""
    if not isinstance(result, dict):
        return None
    chat = result.get("chat")
    message_id = result.get("message_id")
    if (
        type(message_id) is int
        and type(result.get("date")) is int
        and isinstance(chat, dict)
        and type(chat.get("id")) is int
    ):
        return message_id
    return None
