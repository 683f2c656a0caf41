"""python-telegram-bot's request layer on aiohttp instead of httpx.

PTB's default ``HTTPXRequest`` manages about 800 sendMessage calls a second on our machines; the
same calls through aiohttp reach about 3,600 (see /work/shared/STACK-NOTES.md). Pass an
``AiohttpRequest`` as ``request`` and ``get_updates_request`` of a ``Bot`` or an
``ApplicationBuilder``.

The bot token is part of every URL this class sees, so neither the URL nor anything derived from
its path goes into an exception message; aiohttp's own messages are redacted before they are
chained as ``__cause__``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from urllib.parse import quote_plus, urlsplit

import aiohttp
import yarl
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

__all__ = ["AiohttpRequest"]

_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
_REDACTED = "/<redacted>"
# Longer values are not checked for characters that need quoting (see _urlencoded).
_CHECKED_LENGTH = 64
_POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: all connections in the connection pool are busy. The request was *not* sent "
    "to Telegram. Consider a larger connection_pool_size or pool_timeout."
)


class AiohttpRequest(BaseRequest):
    """A ``telegram.request.BaseRequest`` on one ``aiohttp.ClientSession``, timeouts as PTB's."""

    def __init__(
        self,
        connection_pool_size: int = 256,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        # As in HTTPXRequest: uploads get a longer write timeout unless the call sets one.
        self._media_write_timeout = media_write_timeout
        self._default_timeout = _client_timeout(read_timeout, write_timeout, connect_timeout)
        self._session: aiohttp.ClientSession | None = None
        # Created with the session: asyncio primitives bind to the loop that first uses them.
        self._slots: asyncio.Semaphore | None = None

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call passes none (PTB adds it to getUpdates' timeout)."""
        return self._read_timeout

    @property
    def connection_pool_size(self) -> int:
        """How many requests may be in flight at once."""
        return self._pool_size

    async def initialize(self) -> None:
        """Open the session and its connection pool; does nothing if already open."""
        if self._session is not None and not self._session.closed:
            return
        self._slots = asyncio.Semaphore(self._pool_size)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._pool_size),
            headers={"User-Agent": self.USER_AGENT},
            timeout=self._default_timeout,
        )

    async def shutdown(self) -> None:
        """Close the session and its connections; does nothing if not open."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; the HTTP status and the raw response body."""
        session, slots = self._session, self._slots
        if session is None or session.closed or slots is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploading = request_data is not None and request_data.contains_files
        timeout = self._timeout_for(read_timeout, write_timeout, connect_timeout, uploading)
        await _acquire(
            slots, self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        )
        try:
            data, headers = _body(request_data)
            async with session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=timeout,
                # Telegram does not redirect; httpx, PTB's default, does not follow either.
                allow_redirects=False,
            ) as response:
                return response.status, await response.read()
        # aiohttp's ServerTimeoutError is also a ClientError: a timeout must win.
        except TimeoutError as error:
            cause = _scrubbed(error, url)
            raise TimedOut(f"Timed out ({_describe(error, cause)})") from cause
        except aiohttp.ClientError as error:
            cause = _scrubbed(error, url)
            raise NetworkError(_describe(error, cause)) from cause
        finally:
            slots.release()

    def _timeout_for(
        self,
        read: ODVInput[float],
        write: ODVInput[float],
        connect: ODVInput[float],
        uploading: bool,
    ) -> aiohttp.ClientTimeout:
        defaults = (
            isinstance(read, DefaultValue)
            and isinstance(write, DefaultValue)
            and isinstance(connect, DefaultValue)
        )
        if defaults and not uploading:
            return self._default_timeout
        default_write = self._media_write_timeout if uploading else self._write_timeout
        return _client_timeout(
            self._read_timeout if isinstance(read, DefaultValue) else read,
            default_write if isinstance(write, DefaultValue) else write,
            self._connect_timeout if isinstance(connect, DefaultValue) else connect,
        )


def _client_timeout(
    read: float | None, write: float | None, connect: float | None
) -> aiohttp.ClientTimeout:
    # aiohttp has no write timeout (sock_read only starts once the body is sent). Bounding the
    # whole exchange by connect + write + read keeps a stalled upload from hanging forever,
    # while sock_connect and sock_read keep their own limits exact. The pool wait is ours.
    total = None if read is None or write is None or connect is None else read + write + connect
    return aiohttp.ClientTimeout(total=total, connect=None, sock_connect=connect, sock_read=read)


async def _acquire(slots: asyncio.Semaphore, limit: float | None) -> None:
    # A free slot is taken without yielding, so the common case arms no timer.
    if not slots.locked():
        await slots.acquire()
        return
    try:
        async with asyncio.timeout(limit):
            await slots.acquire()
    except TimeoutError:
        raise TimedOut(_POOL_TIMEOUT_MESSAGE) from None


def _body(
    request_data: RequestData | None,
) -> tuple[bytes | aiohttp.FormData | None, dict[str, str] | None]:
    """The request body as PTB's HTTPXRequest sends it: urlencoded, multipart with files."""
    if request_data is None:
        return None, None
    parameters = request_data.json_parameters
    if not request_data.contains_files:
        # Encoded here rather than through FormData: one call, no per-field bookkeeping.
        return _urlencoded(parameters), _FORM_HEADERS
    form = aiohttp.FormData()
    for name, value in parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form, None


def _urlencoded(parameters: dict[str, str]) -> bytes:
    """The parameters as urlencode gives them.

    A broadcast sends one card's text and buttons to every reader: quoting those long values
    was most of a send's encoding time, so values are quoted once and remembered. Names are
    few, and most short values (ids, flags) need no quoting at all.
    """
    return "&".join(
        f"{_quoted_name(name)}={_quoted_value(value)}" for name, value in parameters.items()
    ).encode()


# What quote_plus leaves as it is (it also turns a space into "+", so a space is not here).
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]*")


@functools.lru_cache(maxsize=128)
def _quoted_name(name: str) -> str:
    return quote_plus(name)


def _quoted_value(value: str) -> str:
    if len(value) < _CHECKED_LENGTH and _UNQUOTED.fullmatch(value):
        return value
    return _quoted(value)


@functools.lru_cache(maxsize=256)
def _quoted(value: str) -> str:
    return quote_plus(value)


def _secrets(url: str) -> list[str]:
    """The parts of a Bot API URL that hold the token: its path up to the method or file name."""
    forms = {urlsplit(url).path}
    with contextlib.suppress(ValueError):
        forms.add(yarl.URL(url).raw_path)
    secrets = [path.rsplit("/", 1)[0] for path in forms]
    return [secret for secret in secrets if secret.strip("/")]


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, _REDACTED)
    return text


def _scrubbed(error: BaseException, url: str) -> BaseException | None:
    """The error, its chain's messages redacted; None if the token could still show."""
    secrets = _secrets(url)
    chain: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if any(current is seen for seen in chain):
            continue
        chain.append(current)
        # aiohttp writes the full URL into some messages ("Connection timeout to host ...").
        current.args = tuple(
            _redact(arg, secrets) if isinstance(arg, str) else arg for arg in current.args
        )
        if isinstance(current, OSError) and isinstance(current.strerror, str):
            current.strerror = _redact(current.strerror, secrets)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    for current in chain:
        if any(secret in f"{current!s}{current!r}" for secret in secrets):
            # An exception type that keeps the URL elsewhere (InvalidURL's url): rather break
            # the chain than print the token in a traceback.
            return None
    return error


def _describe(error: BaseException, clean: BaseException | None) -> str:
    """``aiohttp.ClassName: message`` like HTTPXRequest's, without a message that was unsafe."""
    kind = type(error)
    name = f"aiohttp.{kind.__name__}" if kind.__module__.startswith("aiohttp") else kind.__name__
    text = str(error) if clean is not None else ""
    return f"{name}: {text}" if text else name
