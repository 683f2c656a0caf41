"""The fake Bot API, driven by the real python-telegram-bot over HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)
from telegram.warnings import PTBDeprecationWarning

from bot.sandbox.botapi.server import DEFAULT_TOKEN, FakeBotApi

TOKEN = DEFAULT_TOKEN
USER = 1001
GROUP = -2002
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(TOKEN) as api:
        yield api


@pytest.fixture
async def bot(server: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=f"{server.url}/bot") as client:
        yield client


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without this PTB 22 warns while *constructing* RetryAfter, which with warnings as errors
    # replaces the RetryAfter by a PTBDeprecationWarning.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d) for d in data]])


def reason(error: pytest.ExceptionInfo[BaseException]) -> str:
    # PTB strips "Bad Request: " and lower-cases the rest of the description.
    return str(error.value).lower()


# --- plumbing: HTTP, tokens, encodings ------------------------------------------------------


async def test_get_me_identifies_the_bot(server: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.username, me.is_bot, me.id) == (server.bot_username, True, server.bot_id)
    assert bot.username == server.bot_username


async def test_every_answer_has_telegrams_envelope(
    server: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{server.url}/bot{TOKEN}/getMe") as response:
        assert response.status == 200
        body = await response.json()
    assert body["ok"] is True
    assert body["result"]["username"] == server.bot_username


async def test_unknown_method_is_404(server: FakeBotApi, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{server.url}/bot{TOKEN}/sendTelepathy") as response:
        assert response.status == 404
        assert await response.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }


async def test_unknown_method_through_ptb(bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy")


async def test_wrong_token_is_401(server: FakeBotApi, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{server.url}/bot123:wrong/getMe") as response:
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }


async def test_wrong_token_makes_ptb_raise_invalid_token(server: FakeBotApi) -> None:
    stranger = Bot("987654321:not-the-token", base_url=f"{server.url}/bot")
    with pytest.raises(InvalidToken):
        await stranger.initialize()
    await stranger.shutdown()


async def test_method_names_are_case_insensitive(
    server: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{server.url}/bot{TOKEN}/getme") as response:
        assert response.status == 200


async def test_json_and_form_bodies_are_decoded_alike(
    server: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    url = f"{server.url}/bot{TOKEN}/sendMessage"
    markup = '{"inline_keyboard": [[{"text": "go", "callback_data": "go"}]]}'
    form = {"chat_id": str(USER), "text": "123", "reply_markup": markup}
    async with http.post(url, data=form) as response:
        from_form = (await response.json())["result"]
    as_json: dict[str, Any] = {
        "chat_id": USER,
        "text": "123",
        "reply_markup": {"inline_keyboard": [[{"text": "go", "callback_data": "go"}]]},
    }
    async with http.post(url, json=as_json) as response:
        from_json = (await response.json())["result"]
    for result in (from_form, from_json):
        assert result["text"] == "123"
        assert result["reply_markup"] == as_json["reply_markup"]
    assert [params for _, params in server.requests] == [as_json, as_json]


async def test_query_string_parameters_are_accepted(
    server: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    url = f"{server.url}/bot{TOKEN}/sendMessage"
    async with http.get(url, params={"chat_id": str(USER), "text": "hi"}) as response:
        assert (await response.json())["result"]["text"] == "hi"


async def test_ptb_sends_form_fields_that_need_the_parameter_table(
    server: FakeBotApi, bot: Bot
) -> None:
    # PTB posts text as-is and everything else JSON-encoded: "true" and "42" must stay text.
    await bot.send_message(USER, "true", disable_notification=True)
    await bot.send_message(USER, "42", reply_markup=keyboard("a"))
    first, second = server.calls("sendMessage")
    assert first == {"chat_id": USER, "text": "true", "disable_notification": True}
    assert second["text"] == "42"
    assert second["reply_markup"] == {"inline_keyboard": [[{"callback_data": "a", "text": "a"}]]}
    assert [m.text for m in server.messages(USER)] == ["true", "42"]


# --- sendMessage and what Telegram enforces -------------------------------------------------


async def test_send_message_returns_a_telegram_message(server: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(
        USER, "<b>Breaking</b> news &amp; more", parse_mode="HTML", reply_markup=keyboard("more")
    )
    assert sent.text == "Breaking news & more"
    assert sent.chat.id == USER
    assert sent.chat.type == "private"
    assert sent.from_user is not None and sent.from_user.is_bot
    assert abs(sent.date.timestamp() - time.time()) < 5
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 8)]
    assert sent.reply_markup == keyboard("more")
    [stored] = server.messages(USER)
    assert (stored.message_id, stored.text, stored.parse_mode) == (
        sent.message_id,
        sent.text,
        "HTML",
    )
    assert stored.html == "<b>Breaking</b> news &amp; more"
    assert stored.callback_data() == ["more"]


async def test_message_ids_increase_per_chat(server: FakeBotApi, bot: Bot) -> None:
    ids = [(await bot.send_message(chat, "x")).message_id for chat in (USER, USER, GROUP, USER)]
    assert ids == [1, 2, 1, 3]


async def test_entities_use_utf16_offsets(bot: Bot) -> None:
    sent = await bot.send_message(USER, "😀 <i>مرحبا</i> <u>x</u>", parse_mode="HTML")
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("italic", 3, 5),
        ("underline", 9, 1),
    ]
    assert sent.parse_entities() == {sent.entities[0]: "مرحبا", sent.entities[1]: "x"}


async def test_explicit_entities_without_parse_mode(bot: Bot) -> None:
    await bot.send_message(USER, "plain <b>not html</b>")
    sent = await bot.send_message(
        USER,
        "bold",
        entities=[MessageEntity(MessageEntity.BOLD, 0, 4)],
    )
    assert [(e.type, e.length) for e in sent.entities] == [("bold", 4)]


async def test_text_of_4096_utf16_units_is_accepted(bot: Bot) -> None:
    assert (await bot.send_message(USER, "a" * 4096)).text == "a" * 4096
    # Tags do not count, only the visible text.
    await bot.send_message(USER, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(USER, "😀" * 2048)


@pytest.mark.parametrize("text", ["a" * 4097, "😀" * 2049, "&amp;" * 4097])
async def test_too_long_text_is_rejected(server: FakeBotApi, bot: Bot, text: str) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(USER, text, parse_mode="HTML")
    assert reason(caught) == "message is too long"
    assert server.messages(USER) == []


@pytest.mark.parametrize("text", ["", "   \n", "<b></b>", "<b> </b>"])
async def test_empty_text_is_rejected(bot: Bot, text: str) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(USER, text, parse_mode="HTML")
    assert reason(caught) == "message text is empty"


async def test_missing_text_is_rejected(server: FakeBotApi, http: aiohttp.ClientSession) -> None:
    async with http.post(
        f"{server.url}/bot{TOKEN}/sendMessage", json={"chat_id": USER}
    ) as response:
        assert response.status == 400
        assert (await response.json())["description"] == "Bad Request: message text is empty"


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("Hello world <script>x</script>", 'unsupported start tag "script" at byte offset 12'),
        ("<b>never closed", 'can\'t find end tag corresponding to start tag "b"'),
        ("stray </i>", "unexpected end tag at byte offset 6"),
        ("<b><i>x</b></i>", 'unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("1 < 2", 'unsupported start tag "" at byte offset 2'),
        ("Tom & Jerry", 'unescaped "&" at byte offset 4'),
        ("&nbsp;", 'unescaped "&" at byte offset 0'),
        ("<span>x</span>", 'tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<br>", 'unsupported start tag "br" at byte offset 0'),
    ],
)
async def test_bad_html_is_rejected(server: FakeBotApi, text: str, description: str) -> None:
    async with Bot(TOKEN, base_url=f"{server.url}/bot") as bot:
        with pytest.raises(BadRequest) as caught:
            await bot.send_message(USER, text, parse_mode="HTML")
    assert reason(caught).startswith(f"can't parse entities: {description}")


async def test_bad_html_answer_is_telegrams(
    server: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    body = {"chat_id": USER, "text": "a <script>", "parse_mode": "HTML"}
    async with http.post(f"{server.url}/bot{TOKEN}/sendMessage", json=body) as response:
        assert response.status == 400
        assert await response.json() == {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: can't parse entities: "
            'Unsupported start tag "script" at byte offset 2',
        }


async def test_the_same_text_without_parse_mode_is_fine(bot: Bot) -> None:
    assert (await bot.send_message(USER, "1 < 2 & <script>")).text == "1 < 2 & <script>"


async def test_lenient_html_lets_bare_ampersands_through_like_telegram() -> None:
    async with (
        FakeBotApi(TOKEN, strict_html=False) as server,
        Bot(TOKEN, base_url=f"{server.url}/bot") as bot,
    ):
        assert (await bot.send_message(USER, "Tom & Jerry", parse_mode="HTML")).text == (
            "Tom & Jerry"
        )


async def test_markdown_is_refused_loudly(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="not implemented"):
        await bot.send_message(USER, "*x*", parse_mode="MarkdownV2")


# --- inline keyboards -----------------------------------------------------------------------


async def test_callback_data_of_64_bytes_is_accepted(bot: Bot) -> None:
    await bot.send_message(USER, "x", reply_markup=keyboard("a" * 64))
    await bot.send_message(USER, "x", reply_markup=keyboard("ب" * 32))


@pytest.mark.parametrize("data", ["a" * 65, "ب" * 33, ""])
async def test_callback_data_outside_1_to_64_bytes_is_rejected(
    server: FakeBotApi, bot: Bot, data: str
) -> None:
    markup = InlineKeyboardMarkup.from_button(InlineKeyboardButton("go", callback_data=data))
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(USER, "x", reply_markup=markup)
    assert reason(caught) == "button_data_invalid"
    assert server.messages(USER) == []


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "ftp://example.com",
        "http://",
        "x y",
        "https://example.com/a story",
        "https://example.com/خبر",
        "example.com/no-scheme",
        "https://example.com/" + "a" * 2100,
    ],
)
async def test_bad_button_url_is_rejected(bot: Bot, url: str) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("open", url=url)]])
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(USER, "x", reply_markup=markup)
    assert reason(caught) == "button_url_invalid"


async def test_keyboards_over_100_buttons_or_10_kb_are_rejected(
    server: FakeBotApi, bot: Bot
) -> None:
    def rows_of(buttons: int, label: str) -> InlineKeyboardMarkup:
        rows = [[InlineKeyboardButton(label, callback_data=str(n))] for n in range(buttons)]
        return InlineKeyboardMarkup(rows)

    await bot.send_message(USER, "x", reply_markup=rows_of(100, "ok"))
    for too_big in (rows_of(101, "ok"), rows_of(40, "😀" * 64)):
        with pytest.raises(BadRequest) as caught:
            await bot.send_message(USER, "x", reply_markup=too_big)
        assert reason(caught) == "reply markup is too long"
    assert len(server.messages(USER)) == 1


@pytest.mark.parametrize("method", ["editMessageReplyMarkup", "editMessageText"])
async def test_an_edit_can_be_refused_as_if_the_message_were_gone(
    server: FakeBotApi, bot: Bot, method: str
) -> None:
    sent = await bot.send_message(USER, "x", reply_markup=keyboard("a"))
    server.refuse_next_edit(method)
    with pytest.raises(BadRequest) as caught:
        if method == "editMessageText":
            await bot.edit_message_text("y", USER, sent.message_id)
        else:
            await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=None)
    assert reason(caught) == "message to edit not found"
    await bot.edit_message_text("y", USER, sent.message_id)  # one refusal, then as usual


@pytest.mark.parametrize(
    "url", ["https://example.com/a?b=c", "http://example.com", "tg://resolve"]
)
async def test_good_button_urls(bot: Bot, url: str) -> None:
    await bot.send_message(
        USER,
        "x",
        reply_markup=InlineKeyboardMarkup.from_button(InlineKeyboardButton("open", url=url)),
    )


@pytest.mark.parametrize(
    "button",
    [
        {"text": "plain"},
        {"text": "both", "callback_data": "x", "url": "https://example.com"},
        {"callback_data": "no text"},
        {"text": "", "callback_data": "x"},
    ],
)
async def test_buttons_need_text_and_exactly_one_action(
    server: FakeBotApi, http: aiohttp.ClientSession, button: dict[str, str]
) -> None:
    body = {"chat_id": USER, "text": "x", "reply_markup": {"inline_keyboard": [[button]]}}
    async with http.post(f"{server.url}/bot{TOKEN}/sendMessage", json=body) as response:
        assert response.status == 400
        assert (await response.json())["description"].startswith("Bad Request: ")


# --- chats that refuse messages -------------------------------------------------------------


async def test_unknown_chats_are_created_on_first_use(server: FakeBotApi, bot: Bot) -> None:
    private = await bot.get_chat(USER)
    group = await bot.get_chat(GROUP)
    supergroup = await bot.get_chat(-1001234567890)
    assert (private.type, group.type, supergroup.type) == ("private", "group", "supergroup")
    assert set(server.chats) == {USER, GROUP, -1001234567890}


async def test_blocked_user(server: FakeBotApi, bot: Bot) -> None:
    server.block_chat(USER)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "x")
    server.unblock_chat(USER)
    await bot.send_message(USER, "x")


async def test_kicked_from_group(server: FakeBotApi, bot: Bot) -> None:
    server.block_chat(GROUP)
    with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
        await bot.send_message(GROUP, "x")


async def test_forgotten_chat_is_not_found(server: FakeBotApi, bot: Bot) -> None:
    await bot.send_message(USER, "x")
    server.forget_chat(USER)
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(USER, "x")
    assert reason(caught) == "chat not found"
    with pytest.raises(BadRequest):
        await bot.get_chat(USER)


async def test_without_auto_creation_only_added_chats_exist() -> None:
    async with (
        FakeBotApi(TOKEN, auto_create_chats=False) as server,
        Bot(TOKEN, base_url=f"{server.url}/bot") as bot,
    ):
        server.add_chat(USER, username="reader")
        await bot.send_message(USER, "x")
        await bot.send_message("@reader", "by username")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(USER + 1, "x")
        assert len(server.messages(USER)) == 2


async def test_migrated_group_raises_chat_migrated(server: FakeBotApi, bot: Bot) -> None:
    server.migrate_chat(GROUP, -1009876543210)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(GROUP, "x")
    assert caught.value.new_chat_id == -1009876543210
    sent = await bot.send_message(caught.value.new_chat_id, "x")
    assert sent.chat.type == "supergroup"


async def test_migrated_answer_carries_the_parameter(
    server: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    server.migrate_chat(GROUP, -1009876543210)
    body = {"chat_id": GROUP, "text": "x"}
    async with http.post(f"{server.url}/bot{TOKEN}/sendMessage", json=body) as response:
        assert response.status == 400
        assert await response.json() == {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": {"migrate_to_chat_id": -1009876543210},
        }


# --- ordered misbehaviour -------------------------------------------------------------------


@pytest.mark.usefixtures("timedelta_periods")
async def test_429_raises_retry_after_then_recovers(server: FakeBotApi, bot: Bot) -> None:
    server.fail_next("sendMessage", 2, retry_after=3)
    for _ in range(2):
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(USER, "x")
        assert caught.value.retry_after == dtm.timedelta(seconds=3)
    await bot.send_message(USER, "x")
    assert len(server.messages(USER)) == 1


async def test_429_answer_is_telegrams(server: FakeBotApi, http: aiohttp.ClientSession) -> None:
    server.fail_next("*", retry_after=7)
    async with http.post(f"{server.url}/bot{TOKEN}/getMe") as response:
        assert response.status == 429
        assert await response.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        }


async def test_without_ptb_timedelta_a_429_becomes_a_deprecation_warning(
    server: FakeBotApi, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
    server.fail_next("sendMessage")
    with pytest.warns(PTBDeprecationWarning), pytest.raises(RetryAfter):
        await bot.send_message(USER, "x")


@pytest.mark.parametrize(
    ("status", "text"), [(500, "Internal Server Error"), (502, "Bad Gateway")]
)
async def test_server_errors_raise_network_error(
    server: FakeBotApi, bot: Bot, status: int, text: str
) -> None:
    server.fail_next("sendMessage", status=status)
    with pytest.raises(NetworkError, match=text) as caught:
        await bot.send_message(USER, "x")
    assert not isinstance(caught.value, BadRequest)
    await bot.send_message(USER, "x")
    assert len(server.messages(USER)) == 1


async def test_failures_are_per_method(server: FakeBotApi, bot: Bot) -> None:
    server.fail_next("sendMessage", status=500)
    await bot.get_chat(USER)
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "x")


async def test_delay_beyond_the_client_timeout(server: FakeBotApi, bot: Bot) -> None:
    server.delay_next("sendMessage", 1, 0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "late", read_timeout=0.1)
    # As on Telegram, the timed-out send may still have gone through.
    [message] = await server.wait_for_messages(USER, 1, timeout=3)
    assert message.text == "late"


async def test_stop_does_not_wait_for_a_long_delay(server: FakeBotApi, bot: Bot) -> None:
    server.delay_next("getChat", 1, 60)
    with pytest.raises(TimedOut):
        await bot.get_chat(USER, read_timeout=0.1)
    started = time.monotonic()
    await server.stop()
    assert time.monotonic() - started < 3


# --- flood control --------------------------------------------------------------------------


@pytest.mark.usefixtures("timedelta_periods")
async def test_flood_control_is_off_by_default(server: FakeBotApi, bot: Bot) -> None:
    for _ in range(5):
        await bot.send_message(USER, "x")
    assert len(server.timeline) == 5


@pytest.mark.usefixtures("timedelta_periods")
async def test_flood_control_one_message_per_second_per_private_chat(
    server: FakeBotApi, bot: Bot
) -> None:
    server.enable_flood_control()
    await bot.send_message(USER, "first")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "second")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    await bot.send_message(USER + 1, "another chat is fine")
    assert [(chat, mid) for _, chat, mid in server.timeline] == [(USER, 1), (USER + 1, 1)]


@pytest.mark.usefixtures("timedelta_periods")
async def test_flood_control_twenty_per_minute_per_group(server: FakeBotApi, bot: Bot) -> None:
    server.enable_flood_control(global_per_second=1000)
    for _ in range(20):
        await bot.send_message(GROUP, "x")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "x")
    retry_after = caught.value.retry_after
    assert isinstance(retry_after, dtm.timedelta)
    assert dtm.timedelta(seconds=55) <= retry_after <= dtm.timedelta(seconds=60)


@pytest.mark.usefixtures("timedelta_periods")
async def test_flood_control_overall_per_second(server: FakeBotApi, bot: Bot) -> None:
    server.enable_flood_control(global_per_second=3)
    for chat in range(1, 4):
        await bot.send_message(chat, "x")
    with pytest.raises(RetryAfter):
        await bot.send_message(4, "x")
    times = [t for t, _, _ in server.timeline]
    assert times == sorted(times)
    assert len(times) == 3


async def test_flood_control_accepts_paced_sends(server: FakeBotApi, bot: Bot) -> None:
    server.enable_flood_control(private_per_second=1)
    await bot.send_message(USER, "x")
    await asyncio.sleep(1.05)  # the pacing under test is wall-clock time
    await bot.send_message(USER, "y")
    (t1, _, _), (t2, _, _) = server.timeline
    assert t2 - t1 >= 1.0


# --- getUpdates -----------------------------------------------------------------------------


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    server: FakeBotApi, bot: Bot
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await server.wait_for(lambda: server.calls("getUpdates"), description="a poll")
    update_id = server.send_user_message(USER, "hello")
    async with asyncio.timeout(2):
        updates = await poll
    assert time.monotonic() - started < 2
    assert [u.update_id for u in updates] == [update_id]
    assert updates[0].message is not None and updates[0].message.text == "hello"


async def test_long_poll_returns_at_once_when_updates_are_queued(
    server: FakeBotApi, bot: Bot
) -> None:
    server.send_user_message(USER, "early")
    started = time.monotonic()
    assert len(await bot.get_updates(timeout=5)) == 1
    assert time.monotonic() - started < 1


async def test_long_poll_times_out_empty(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=dtm.timedelta(milliseconds=300)) == ()
    assert 0.25 <= time.monotonic() - started < 2


async def test_offset_confirms_earlier_updates(server: FakeBotApi, bot: Bot) -> None:
    first, second, third = (server.send_user_message(USER, t) for t in ("a", "b", "c"))
    assert [u.update_id for u in await bot.get_updates()] == [first, second, third]
    # Not confirmed yet, so delivered again.
    assert [u.update_id for u in await bot.get_updates(limit=2)] == [first, second]
    assert [u.update_id for u in await bot.get_updates(offset=second)] == [second, third]
    assert await bot.get_updates(offset=third + 1) == ()
    assert len(server.updates) == 0


async def test_negative_offset_keeps_the_last_updates(server: FakeBotApi, bot: Bot) -> None:
    ids = [server.send_user_message(USER, str(n)) for n in range(5)]
    assert [u.update_id for u in await bot.get_updates(offset=-2)] == ids[-2:]


async def test_allowed_updates_filters_new_updates(server: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(USER, "x", reply_markup=keyboard("b"))
    await bot.get_updates(allowed_updates=["message"])
    server.press_button(USER, sent.message_id, "b")
    server.send_user_message(USER, "text")
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["text"]
    assert [u for u in updates if u.callback_query] == []


async def test_a_second_poller_terminates_the_first(server: FakeBotApi, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await server.wait_for(lambda: server.calls("getUpdates"), description="a poll")
    # A Bot has one connection for getUpdates, so the rival instance needs its own Bot.
    async with Bot(TOKEN, base_url=f"{server.url}/bot") as rival:
        await rival.get_updates(timeout=0)
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


async def test_commands_carry_a_bot_command_entity(server: FakeBotApi, bot: Bot) -> None:
    server.send_user_message(USER, f"/start@{server.bot_username} payload", language_code="ar")
    [update] = await bot.get_updates()
    message = update.message
    assert message is not None and message.from_user is not None
    assert message.from_user.language_code == "ar"
    assert message.from_user.id == USER
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bot_command", 0, len(f"/start@{server.bot_username}"))
    ]


async def test_an_edit_of_a_users_message_is_an_edited_message(
    server: FakeBotApi, bot: Bot
) -> None:
    server.send_user_message(USER, "/publish 3 18:00")
    [sent] = await bot.get_updates()
    assert sent.message is not None
    server.edit_user_message(USER, sent.message.message_id, "/publish 3 19:00")
    [edited] = await bot.get_updates(offset=sent.update_id + 1)
    assert edited.message is None and edited.edited_message is not None
    assert edited.edited_message.message_id == sent.message.message_id
    assert edited.edited_message.text == "/publish 3 19:00"
    assert edited.edited_message.edit_date is not None
    assert [e.type for e in edited.edited_message.entities] == ["bot_command"]


async def test_a_channel_post_has_no_sender_user(server: FakeBotApi, bot: Bot) -> None:
    server.post_in_channel(-1001234, "Morning edition", title="News")
    [update] = await bot.get_updates()
    post = update.channel_post
    assert update.message is None and post is not None
    assert post.chat.type == "channel" and post.chat.title == "News"
    assert post.from_user is None and post.sender_chat is not None
    assert post.sender_chat.id == -1001234


async def test_a_group_reply_carries_the_bot_message_it_answers(
    server: FakeBotApi, bot: Bot
) -> None:
    sent = await bot.send_message(GROUP, "a story")
    server.send_user_message(GROUP, "thanks", user_id=77, reply_to=sent.message_id)
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.reply_to_message is not None
    assert update.message.reply_to_message.message_id == sent.message_id
    replied_from = update.message.reply_to_message.from_user
    assert replied_from is not None and replied_from.id == bot.id
    with pytest.raises(LookupError):
        server.send_user_message(GROUP, "x", reply_to=999)


async def test_blocking_the_bot_is_a_my_chat_member_update_and_refuses_sends(
    server: FakeBotApi, bot: Bot
) -> None:
    server.set_bot_status(USER, "kicked")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "x")
    server.set_bot_status(USER, "member")
    await bot.send_message(USER, "back")
    blocked, unblocked = await bot.get_updates()
    assert blocked.my_chat_member is not None and unblocked.my_chat_member is not None
    assert blocked.my_chat_member.old_chat_member.status == "member"
    assert blocked.my_chat_member.new_chat_member.status == "kicked"
    assert blocked.my_chat_member.new_chat_member.user.id == bot.id
    assert unblocked.my_chat_member.new_chat_member.status == "member"
    server.set_bot_status(GROUP, "left")
    with pytest.raises(Forbidden, match="kicked from the group chat"):
        await bot.send_message(GROUP, "x")
    with pytest.raises(ValueError, match="private"):
        server.set_bot_status(USER, "left")


async def test_an_unreadable_update_fails_the_whole_batch_in_the_client(
    server: FakeBotApi, bot: Bot
) -> None:
    server.send_user_message(USER, "before")
    bad = server.send_unreadable_update(USER)
    server.send_user_message(USER, "after")
    # python-telegram-bot parses a batch at once: one update it cannot read fails them all.
    with pytest.raises(TypeError, match="MessageEntity"):
        await bot.get_updates()
    assert bad > 0 and len(server.updates) == 3


async def test_a_repeated_update_comes_again_with_its_own_id(server: FakeBotApi, bot: Bot) -> None:
    first = server.send_user_message(USER, "one")
    [update] = await bot.get_updates()
    assert await bot.get_updates(offset=first + 1) == ()
    again = server.repeat_update(first)
    assert again["update_id"] == first
    # A poller that starts again (no offset yet) gets it; one past it does not.
    assert await bot.get_updates(offset=first + 1, timeout=0) == ()
    server.repeat_update(first)
    [repeated] = await bot.get_updates()
    assert repeated.update_id == first and repeated.message == update.message
    with pytest.raises(LookupError):
        server.repeat_update(first + 1000)


async def test_update_ids_keep_growing_across_restarts() -> None:
    async with FakeBotApi(TOKEN) as before:
        last = before.send_user_message(USER, "x")
    await asyncio.sleep(0.01)
    async with FakeBotApi(TOKEN) as after:
        assert after.send_user_message(USER, "y") > last
    async with FakeBotApi(TOKEN, first_update_id=5) as chosen:
        assert chosen.send_user_message(USER, "z") == 5


async def test_allowed_updates_leave_out_edits_channel_posts_and_member_changes(
    server: FakeBotApi, bot: Bot
) -> None:
    server.send_user_message(USER, "before")
    [before] = await bot.get_updates(allowed_updates=["message"])
    assert before.message is not None
    assert server.edit_user_message(USER, before.message.message_id, "edited") == 0
    assert server.post_in_channel(-1005, "post") == 0
    assert server.set_bot_status(USER, "kicked") == 0
    assert server.send_user_message(USER, "after") > 0
    assert await bot.set_webhook("https://example.com/hook", allowed_updates=["my_chat_member"])
    assert server.set_bot_status(USER, "member") > 0
    assert server.send_user_message(USER, "ignored") == 0


# --- webhook and commands -------------------------------------------------------------------


async def test_webhook_is_stored_and_blocks_polling(server: FakeBotApi, bot: Bot) -> None:
    assert await bot.set_webhook("https://example.com/hook", secret_token="s3cret_token")
    assert server.webhook.secret_token == "s3cret_token"
    info = await bot.get_webhook_info()
    assert info.url == "https://example.com/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    await bot.get_updates()


async def test_webhook_needs_https_and_a_clean_secret(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)https url must be provided"):
        await bot.set_webhook("http://example.com/hook")
    with pytest.raises(BadRequest, match=r"(?i)secret token"):
        await bot.set_webhook("https://example.com/hook", secret_token="no spaces")


async def test_delete_webhook_can_drop_pending_updates(server: FakeBotApi, bot: Bot) -> None:
    server.send_user_message(USER, "old")
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


async def test_commands_are_stored_per_scope_and_language(server: FakeBotApi, bot: Bot) -> None:
    english = [BotCommand("start", "Start"), BotCommand("latest", "Latest news")]
    arabic = [BotCommand("start", "ابدأ")]
    await bot.set_my_commands(english)
    await bot.set_my_commands(arabic, language_code="ar")
    await bot.set_my_commands(
        [BotCommand("digest", "Group digest")], BotCommandScopeAllGroupChats()
    )
    await bot.set_my_commands([BotCommand("admin", "Admin")], BotCommandScopeChat(USER))
    assert await bot.get_my_commands() == tuple(english)
    assert await bot.get_my_commands(language_code="ar") == tuple(arabic)
    assert await bot.get_my_commands(language_code="fr") == ()
    assert [c.command for c in await bot.get_my_commands(BotCommandScopeAllGroupChats())] == [
        "digest"
    ]
    assert server.commands_for({"type": "chat", "chat_id": USER}) == [
        {"command": "admin", "description": "Admin"}
    ]
    assert await bot.delete_my_commands(language_code="ar")
    assert await bot.get_my_commands(language_code="ar") == ()


@pytest.mark.parametrize(
    "command",
    [BotCommand("Start", "upper case"), BotCommand("a" * 33, "long"), BotCommand("x", "")],
)
async def test_invalid_commands_are_rejected(bot: Bot, command: BotCommand) -> None:
    with pytest.raises(BadRequest, match=r"(?i)bot_command"):
        await bot.set_my_commands([command])


# --- editing, deleting, callback queries ----------------------------------------------------


async def test_edit_message_text(server: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(USER, "draft", reply_markup=keyboard("a"))
    edited = await bot.edit_message_text(
        "<i>final</i>", USER, sent.message_id, parse_mode="HTML", reply_markup=keyboard("b")
    )
    assert isinstance(edited, type(sent))
    assert edited.edit_date is not None
    [stored] = server.messages(USER)
    assert (stored.text, stored.html, stored.callback_data()) == ("final", "<i>final</i>", ["b"])
    assert [e.kind for e in server.chat(USER).log] == ["bot_message", "edit"]


async def test_edit_without_markup_removes_the_keyboard(server: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(USER, "x", reply_markup=keyboard("a"))
    await bot.edit_message_text("y", USER, sent.message_id)
    assert server.messages(USER)[0].reply_markup is None


async def test_edit_of_a_missing_message(bot: Bot) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.edit_message_text("x", USER, 99)
    assert reason(caught) == "message to edit not found"


async def test_edit_with_the_same_content_is_not_modified(bot: Bot) -> None:
    sent = await bot.send_message(USER, "<b>x</b>", parse_mode="HTML", reply_markup=keyboard("a"))
    with pytest.raises(BadRequest) as caught:
        await bot.edit_message_text(
            "<b>x</b>", USER, sent.message_id, parse_mode="HTML", reply_markup=keyboard("a")
        )
    assert reason(caught) == NOT_MODIFIED
    # Formatting alone is a change.
    await bot.edit_message_text("x", USER, sent.message_id, reply_markup=keyboard("a"))


async def test_edit_reply_markup(server: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(USER, "x", reply_markup=keyboard("a"))
    with pytest.raises(BadRequest) as caught:
        await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard("a"))
    assert reason(caught) == NOT_MODIFIED
    await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard("c"))
    assert server.messages(USER)[0].callback_data() == ["c"]
    await bot.edit_message_reply_markup(USER, sent.message_id)
    assert server.messages(USER)[0].reply_markup is None


async def test_edit_checks_the_new_text_too(bot: Bot) -> None:
    sent = await bot.send_message(USER, "x")
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.edit_message_text("a" * 4097, USER, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.edit_message_text("<b>", USER, sent.message_id, parse_mode="HTML")


async def test_delete_message(server: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(USER, "x")
    assert await bot.delete_message(USER, sent.message_id)
    assert server.messages(USER) == []
    with pytest.raises(BadRequest) as caught:
        await bot.delete_message(USER, sent.message_id)
    assert reason(caught) == "message to delete not found"


async def test_callback_query_flow(server: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(USER, "pick", reply_markup=keyboard("one", "two"))
    query_id = server.press_button(USER, sent.message_id, "two")
    [update] = await bot.get_updates()
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    assert (query.id, query.data, query.message.message_id) == (query_id, "two", sent.message_id)
    assert query.message.reply_markup == keyboard("one", "two")
    assert await bot.answer_callback_query(query_id, text="Done", show_alert=True)
    [answer] = server.callback_answers
    assert (answer.query_id, answer.text, answer.show_alert) == (query_id, "Done", True)


async def test_a_callback_query_is_answered_only_once(server: FakeBotApi, bot: Bot) -> None:
    sent = await bot.send_message(USER, "pick", reply_markup=keyboard("one"))
    query_id = server.press_button(USER, sent.message_id, "one")
    await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest) as caught:
        await bot.answer_callback_query(query_id)
    assert reason(caught) == (
        "query is too old and response timeout expired or query id is invalid"
    )
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("123")


async def test_callback_answer_text_is_at_most_200_characters(
    server: FakeBotApi, bot: Bot
) -> None:
    sent = await bot.send_message(USER, "pick", reply_markup=keyboard("one"))
    query_id = server.press_button(USER, sent.message_id, "one")
    with pytest.raises(BadRequest):
        await bot.answer_callback_query(query_id, text="x" * 201)
    await bot.answer_callback_query(query_id, text="x" * 200)


async def test_callback_queries_can_expire() -> None:
    async with (
        FakeBotApi(TOKEN, callback_query_ttl=0.0) as server,
        Bot(TOKEN, base_url=f"{server.url}/bot") as bot,
    ):
        sent = await bot.send_message(USER, "pick", reply_markup=keyboard("one"))
        query_id = server.press_button(USER, sent.message_id, "one")
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query(query_id)


async def test_pressing_a_button_that_is_not_there_is_a_test_error(
    server: FakeBotApi, bot: Bot
) -> None:
    sent = await bot.send_message(USER, "pick", reply_markup=keyboard("one"))
    with pytest.raises(LookupError, match="'one'"):
        server.press_button(USER, sent.message_id, "two")
    with pytest.raises(LookupError):
        server.press_button(USER, 999, "one")


# --- waiting helpers ------------------------------------------------------------------------


async def test_wait_for_messages_explains_a_timeout(server: FakeBotApi, bot: Bot) -> None:
    await bot.send_message(USER, "only one")
    with pytest.raises(TimeoutError, match=r"expected 2 bot message\(s\).*'only one'"):
        await server.wait_for_messages(USER, 2, timeout=0.1)


async def test_wait_for_returns_the_predicates_value(server: FakeBotApi, bot: Bot) -> None:
    async def later() -> None:
        await bot.send_message(USER, "ping")

    task = asyncio.create_task(later())
    texts = await server.wait_for(lambda: [m.text for m in server.messages(USER)])
    await task
    assert texts == ["ping"]
    with pytest.raises(TimeoutError, match="nothing"):
        await server.wait_for(lambda: None, timeout=0.05, description="nothing")


# --- a real Application, polling ------------------------------------------------------------


async def start_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    name = update.effective_user.first_name if update.effective_user else "?"
    await update.effective_message.reply_html(
        f"Welcome, <b>{name}</b>! args={context.args}",
        reply_markup=keyboard("latest"),
    )


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("Loading…")
    await query.edit_message_text(f"You chose <i>{query.data}</i>", parse_mode="HTML")


@pytest.fixture
async def polling_app(
    server: FakeBotApi,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    app = ApplicationBuilder().token(TOKEN).base_url(f"{server.url}/bot").build()
    app.add_handler(CommandHandler("start", start_command))
    app.add_handler(CallbackQueryHandler(button))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    yield app
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


async def test_application_answers_start_over_polling(
    server: FakeBotApi, polling_app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    server.send_user_message(USER, "/start from_link", first_name="Amal")
    [reply] = await server.wait_for_messages(USER, 1)
    assert reply.text == "Welcome, Amal! args=['from_link']"
    assert [(e.type, e.offset, e.length) for e in reply.entities] == [("bold", 9, 4)]

    server.press_button(USER, reply.message_id, "latest")
    await server.wait_for(lambda: server.messages(USER)[0].edit_date, description="the edit")
    assert server.messages(USER)[0].text == "You chose latest"
    assert server.messages(USER)[0].reply_markup is None
    assert [a.text for a in server.callback_answers] == ["Loading…"]


async def test_application_start_up_calls(
    server: FakeBotApi, polling_app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    await server.wait_for(lambda: server.calls("getUpdates"), description="the first poll")
    methods = [r.method for r in server.requests]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert server.calls("getUpdates")[0]["timeout"] == 1
