"""A card encoded once (bot.delivery.prepared) reaches Telegram exactly as Bot.send_message
sends it, for any chat, silent or in a thread, paid or not; and the request layer's encoding of
remembered values is urlencode's."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData

from bot.delivery import answers
from bot.delivery.pacing import Pace, Pacer
from bot.delivery.prepared import PreparedText
from bot.delivery.request import _body, _urlencoded
from bot.telegram.messages import story_card
from db.models import ArticleRow

TOKEN = "123456:prepared-test-token"


class Recording(BaseRequest):
    """Answers every request with a message at once and keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    @property
    def read_timeout(self) -> float | None:
        """No network, no timeout."""
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **_: Any
    ) -> tuple[int, bytes]:
        assert request_data is not None
        endpoint = url.rsplit("/", 1)[1]
        body, _headers = _body(request_data)
        assert isinstance(body, bytes)
        # What Telegram reads: the form fields, JSON values decoded.
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=True))
        self.sent.append((endpoint, {k: _decoded(k, v) for k, v in fields.items()}))
        if endpoint == "getMe":
            me = {"id": 1, "is_bot": True, "first_name": "news", "username": "news_bot"}
            return 200, json.dumps({"ok": True, "result": me}).encode()
        chat = {"id": int(fields["chat_id"]), "type": "private", "first_name": "reader"}
        message = {"message_id": len(self.sent), "date": 1_700_000_000, "chat": chat}
        return 200, json.dumps({"ok": True, "result": message}).encode()


def _decoded(name: str, value: str) -> Any:
    return value if name in {"text", "parse_mode"} else json.loads(value)


def _card(language: str) -> tuple[str, Any]:
    article = ArticleRow(
        id=7,
        title="الحافلات الليلية تعود" if language == "ar" else "Night buses return",
        byline="Daniel Okafor",
        summary="Eight routes & a new timetable: <b>from March</b>, until 5 a.m.",
        url="https://example.org/news/night-buses?ref=a&b=ü",
    )
    return story_card(article, language, bot_username="news_bot")


@pytest.mark.parametrize("language", ["en", "ar"])
@pytest.mark.parametrize(
    ("silent", "thread_id", "paid"), [(False, None, False), (True, 42, True), (True, None, False)]
)
async def test_a_prepared_card_is_sent_as_send_message_sends_it(
    language: str, silent: bool, thread_id: int | None, paid: bool
) -> None:
    text, keyboard = _card(language)
    preview = LinkPreviewOptions(url="https://example.org/news/night-buses", show_above_text=True)
    request = Recording()
    extra: dict[str, Any] = {}
    if silent:
        extra["disable_notification"] = True
    if thread_id is not None:
        extra["message_thread_id"] = thread_id
    if paid:
        extra["allow_paid_broadcast"] = True
    async with ExtBot(TOKEN, request=request, rate_limiter=Pacer(rate=None)) as bot:
        await bot.send_message(
            1001,
            text,
            parse_mode=ParseMode.HTML,
            link_preview_options=preview,
            reply_markup=keyboard,
            **extra,
        )
        prepared = PreparedText.of(text, keyboard, preview, paid_broadcast=paid)
        result = await prepared.send(bot, 1001, silent=silent, thread_id=thread_id)

    (_, by_library), (endpoint, by_us) = request.sent[-2:]
    assert endpoint == "sendMessage"
    assert by_us == by_library
    assert answers.message_id_of(result) == len(request.sent)


async def test_one_prepared_card_goes_to_each_chat_with_its_own_id() -> None:
    text, keyboard = _card("en")
    prepared = PreparedText.of(text, keyboard, LinkPreviewOptions(is_disabled=True))
    request = Recording()
    async with ExtBot(TOKEN, request=request) as bot:
        for chat_id in (5, -100123, 9_000_000_000):
            await prepared.send(bot, chat_id, rate_limit_args=Pace.BROADCAST)
    sent = [fields for endpoint, fields in request.sent if endpoint == "sendMessage"]
    assert [fields["chat_id"] for fields in sent] == [5, -100123, 9_000_000_000]
    assert {fields["text"] for fields in sent} == {text}


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=20),
        st.one_of(st.text(max_size=40), st.text(min_size=250, max_size=600)),
        max_size=6,
    )
)
def test_the_request_layer_encodes_as_urlencode(parameters: dict[str, str]) -> None:
    # Twice: the second time long values come from what was remembered.
    assert _urlencoded(parameters) == urlencode(parameters).encode()
    assert _urlencoded(parameters) == urlencode(parameters).encode()


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"message_id": 3, "date": 1, "chat": {"id": 9}}, 3),
        ({"message_id": 3, "chat": {"id": 9}}, None),  # no date: not a Message
        ({"message_id": "3", "date": 1, "chat": {"id": 9}}, None),
        ({"message_id": True, "date": 1, "chat": {"id": 9}}, None),
        ({"message_id": 3, "date": 1, "chat": "9"}, None),
        (True, None),
        ([], None),
        (None, None),
    ],
)
def test_only_a_result_that_reads_as_a_message_gives_its_id(
    result: Any, expected: int | None
) -> None:
    assert answers.message_id_of(result) == expected
