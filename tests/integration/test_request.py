"""AiohttpRequest under a real python-telegram-bot Bot, against the fake Bot API over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import socket
import traceback
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.delivery.request import AiohttpRequest
from bot.sandbox.botapi.photos import Upload
from bot.sandbox.botapi.server import FakeBotApi
from tests.integration.bot_fixtures import TOKEN

USER = 1001
# The part of the token that identifies nothing but the secret; it must never be printed.
SECRET = TOKEN.split(":", 1)[1]


def make_bot(api_url: str, request: AiohttpRequest | None = None) -> Bot:
    """A PTB Bot whose both request objects are AiohttpRequest."""
    return Bot(
        TOKEN,
        base_url=f"{api_url}/bot",
        request=request or AiohttpRequest(),
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    )


def assert_no_token(error: BaseException) -> None:
    """Neither the error nor anything chained to it shows the token, even in a traceback."""
    text = "".join(traceback.format_exception(error))
    assert SECRET not in text
    assert SECRET not in repr(error)


@pytest.fixture
async def client(fake_api: FakeBotApi) -> AsyncIterator[Bot]:
    async with make_bot(fake_api.url) as bot:
        yield bot


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose listen queue is full, so a new connection attempt hangs until it times out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = int(server.getsockname()[1])
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()


# --- success ----------------------------------------------------------------------------


async def test_get_me(fake_api: FakeBotApi, client: Bot) -> None:
    me = await client.get_me()
    assert me.username == fake_api.bot_username
    assert me.is_bot


async def test_send_message_arrives(fake_api: FakeBotApi, client: Bot) -> None:
    sent = await client.send_message(USER, "Hello <b>reader</b> – مرحبا", parse_mode="HTML")
    [message] = fake_api.messages(USER)
    assert message.text == "Hello reader – مرحبا"
    assert message.message_id == sent.message_id
    assert sent.chat.id == USER


async def test_nested_parameters_survive_form_encoding(fake_api: FakeBotApi, client: Bot) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Next", callback_data="next:1")]])
    await client.send_message(USER, "with a button", reply_markup=markup)
    [message] = fake_api.messages(USER)
    assert message.callback_data() == ["next:1"]


async def test_get_updates_uses_the_get_updates_request(fake_api: FakeBotApi, client: Bot) -> None:
    fake_api.send_user_message(USER, "/start")
    [update] = await client.get_updates(timeout=1)
    assert update.message is not None
    assert update.message.text == "/start"


async def test_files_go_as_multipart(fake_api: FakeBotApi) -> None:
    # The fake API reads any multipart body: a sendMessage with a file part shows both the form
    # fields and the file arriving.
    upload = InputFile(b"attached bytes", filename="note.txt", attach=False)
    data = RequestData(
        [
            RequestParameter.from_input("chat_id", USER),
            RequestParameter.from_input("text", "with a file"),
            RequestParameter.from_input("document", upload),
        ]
    )
    assert data.contains_files
    async with AiohttpRequest() as request:
        result = await request.post(f"{fake_api.url}/bot{TOKEN}/sendMessage", data)
    assert isinstance(result, dict)
    assert result["text"] == "with a file"
    [params] = fake_api.calls("sendMessage")
    assert params["document"] == Upload("note.txt", "text/plain", b"attached bytes")


# --- Telegram's error answers -----------------------------------------------------------


async def test_429_becomes_retry_after(fake_api: FakeBotApi, client: Bot) -> None:
    fake_api.fail_next("sendMessage", retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await client.send_message(USER, "x")
    assert caught.value.retry_after == dtm.timedelta(seconds=3)
    assert_no_token(caught.value)
    await client.send_message(USER, "x")
    assert len(fake_api.messages(USER)) == 1


@pytest.mark.parametrize(
    ("status", "description", "error_type"),
    [
        (403, "Forbidden: bot was blocked by the user", Forbidden),
        (400, "Bad Request: chat not found", BadRequest),
    ],
)
async def test_error_answers_become_ptb_errors(
    fake_api: FakeBotApi,
    client: Bot,
    status: int,
    description: str,
    error_type: type[Exception],
) -> None:
    fake_api.fail_next("sendMessage", status=status, description=description)
    with pytest.raises(error_type) as caught:
        await client.send_message(USER, "x")
    # PTB drops Telegram's "Bad Request: " prefix and capitalises what is left.
    assert description.split(": ", 1)[1].lower() in str(caught.value).lower()
    assert_no_token(caught.value)


# --- timeouts and the network -----------------------------------------------------------


async def test_delay_beyond_the_read_timeout_times_out(fake_api: FakeBotApi, client: Bot) -> None:
    fake_api.delay_next("sendMessage", 1, 0.5)
    with pytest.raises(TimedOut) as caught:
        await client.send_message(USER, "late", read_timeout=0.1)
    assert isinstance(caught.value.__cause__, asyncio.TimeoutError)
    assert_no_token(caught.value)
    # As on Telegram, the send that timed out may still have gone through.
    await fake_api.wait_for_messages(USER, 1, timeout=3)


async def test_the_default_read_timeout_applies_when_a_call_sets_none(
    fake_api: FakeBotApi,
) -> None:
    request = AiohttpRequest(read_timeout=0.1)
    assert request.read_timeout == 0.1
    async with make_bot(fake_api.url, request) as bot:
        fake_api.delay_next("sendMessage", 1, 0.5)
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "late")
        fake_api.delay_next("sendMessage", 1, 0.3)
        await bot.send_message(USER, "patient", read_timeout=3)
    assert [m.text for m in fake_api.messages(USER)][-1] == "patient"


async def test_a_closed_port_is_a_network_error(closed_port: int) -> None:
    request = AiohttpRequest()
    bot = make_bot(f"http://127.0.0.1:{closed_port}", request)
    try:
        with pytest.raises(NetworkError) as caught:
            await bot.initialize()  # calls getMe
    finally:
        await bot.shutdown()
    assert not isinstance(caught.value, TimedOut)
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)
    assert_no_token(caught.value)


async def test_a_connect_timeout_names_no_token(unanswered_port: int) -> None:
    # aiohttp writes the whole URL into ConnectionTimeoutError; it must arrive redacted.
    bot = make_bot(f"http://127.0.0.1:{unanswered_port}", AiohttpRequest(connect_timeout=0.2))
    try:
        with pytest.raises(TimedOut) as caught:
            await bot.initialize()  # calls getMe
    finally:
        await bot.shutdown()
    assert isinstance(caught.value.__cause__, aiohttp.ConnectionTimeoutError)
    assert "<redacted>/getMe" in str(caught.value)
    assert_no_token(caught.value)


async def test_an_unsafe_aiohttp_message_is_not_chained() -> None:
    # InvalidURL keeps the URL outside its args, so it cannot be redacted: the chain is cut.
    async with AiohttpRequest() as request:
        with pytest.raises(NetworkError) as caught:
            await request.do_request(f"http://127.0.0.1:99999/bot{TOKEN}/getMe", "POST")
    assert caught.value.__cause__ is None
    assert "InvalidUrlClientError" in str(caught.value)
    assert_no_token(caught.value)


async def test_a_full_pool_times_out_without_sending(fake_api: FakeBotApi) -> None:
    request = AiohttpRequest(connection_pool_size=1, pool_timeout=0.1)
    async with make_bot(fake_api.url, request) as bot:
        fake_api.delay_next("sendMessage", 1, 0.5)
        first = asyncio.create_task(bot.send_message(USER, "first"))
        # The fake records a request before its delay but only signals a change after it.
        async with asyncio.timeout(3):
            while not fake_api.calls("sendMessage"):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await bot.send_message(USER, "second")
        await first
    assert [m.text for m in fake_api.messages(USER)] == ["first"]


# --- lifecycle --------------------------------------------------------------------------


async def test_one_session_from_initialize_to_shutdown(fake_api: FakeBotApi) -> None:
    request = AiohttpRequest()
    url = f"{fake_api.url}/bot{TOKEN}/getMe"
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(url, "POST")
    await request.initialize()
    session = request._session
    await request.initialize()
    assert request._session is session
    assert (await request.do_request(url, "POST"))[0] == 200
    await request.shutdown()
    assert session is not None and session.closed
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(url, "POST")
    await request.shutdown()
    # A Bot may be initialized again after a shutdown, as with PTB's own request.
    async with request:
        assert (await request.do_request(url, "POST"))[0] == 200
