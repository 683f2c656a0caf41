"""The sandbox's web chat without a browser: its HTTP endpoints and its event stream.

The first tests put the web chat in front of the fake Bot API alone and play the bot's part with
raw Bot API calls; the last ones run the whole sandbox (bot included) on each database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from bot.sandbox.botapi.server import DEFAULT_TOKEN, FakeBotApi
from bot.sandbox.runner import DEFAULT_OPERATOR, READERS, Sandbox, SandboxOptions
from bot.sandbox.web import Reader, WebChat
from bot.settings import Settings
from bot.telegram.texts import text
from tests.texts import SAMPLES

ARABIC, ENGLISH = READERS[0], READERS[1]
OPERATOR = Reader(9, "Desk", "en", operator=True)
JsonDict = dict[str, Any]


@dataclass
class Page:
    """What the page's script does, over HTTP: one reader's actions and their chat's events."""

    http: aiohttp.ClientSession
    url: str

    async def get(self, path: str, status: int = 200) -> Any:
        """GET a JSON endpoint."""
        async with self.http.get(self.url + path) as response:
            assert response.status == status, await response.text()
            return await response.json()

    async def post(self, path: str, body: Any, status: int = 200, **kwargs: Any) -> Any:
        """POST JSON, as the page does."""
        async with self.http.post(self.url + path, json=body, **kwargs) as response:
            assert response.status == status, await response.text()
            return await response.json()


class EventStream:
    """A reader's server-sent events, decoded."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self, kind: str | None = None, within: float = 10.0) -> JsonDict:
        """The next event (of this type, skipping others)."""
        return await self.until(lambda event: kind is None or event["type"] == kind, within)

    async def until(self, wanted: Callable[[JsonDict], bool], within: float = 10.0) -> JsonDict:
        """The first event that is wanted, skipping the others."""
        async with asyncio.timeout(within):
            while True:
                line = (await self.response.content.readline()).decode()
                if not line:
                    raise AssertionError("the event stream ended")
                if line.startswith("data: "):
                    event: JsonDict = json.loads(line.removeprefix("data: "))
                    if wanted(event):
                        return event


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    """The fake Bot API, no bot."""
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
async def page(api: FakeBotApi) -> AsyncIterator[Page]:
    """The web chat for two readers and an operator, in front of the fake Bot API."""
    async with (
        WebChat(api, [ARABIC, ENGLISH, OPERATOR]) as chat,
        aiohttp.ClientSession() as http,
    ):
        yield Page(http, chat.url)


async def bot_call(api: FakeBotApi, method: str, **params: Any) -> Any:
    """Call the fake Bot API as a bot does; the result."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{api.url}/bot{DEFAULT_TOKEN}/{method}", json=params) as response,
    ):
        body = await response.json()
    assert body["ok"], body
    return body["result"]


STORY_HTML = "<b>Night buses</b> start in March &lt;script&gt;alert(1)&lt;/script&gt;"
KEYBOARD = {
    "inline_keyboard": [
        [
            {"text": "Read more", "callback_data": "r:1:1"},
            {"text": "Source", "url": "https://example.org/news"},
        ]
    ]
}


async def test_history_holds_text_entities_and_buttons_never_html(
    api: FakeBotApi, page: Page
) -> None:
    await page.post(f"/api/chats/{ENGLISH.id}/send", {"text": "/start"})
    await bot_call(
        api,
        "sendMessage",
        chat_id=ENGLISH.id,
        text=STORY_HTML,
        parse_mode="HTML",
        reply_markup=KEYBOARD,
    )
    history = (await page.get(f"/api/chats/{ENGLISH.id}/messages"))["messages"]
    assert [m["from"] for m in history] == ["user", "bot"]
    user, story = history
    assert user["text"] == "/start"
    assert user["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert story["text"] == "Night buses start in March <script>alert(1)</script>"
    assert story["entities"] == [{"type": "bold", "offset": 0, "length": 11}]
    assert story["buttons"] == [
        [
            {"text": "Read more", "callback_data": "r:1:1"},
            {"text": "Source", "url": "https://example.org/news"},
        ]
    ]
    assert "html" not in story and "<b>" not in json.dumps(history)
    # The update the bot receives carries the reader's name and client language.
    update = api.updates.peek(1)[0]["message"]
    assert update["from"]["language_code"] == "en" and update["from"]["first_name"] == "Sam"


async def test_pressing_a_button_sends_its_callback(api: FakeBotApi, page: Page) -> None:
    sent = await bot_call(api, "sendMessage", chat_id=ARABIC.id, text="قصة", reply_markup=KEYBOARD)
    pressed = await page.post(
        f"/api/chats/{ARABIC.id}/press", {"message_id": sent["message_id"], "data": "r:1:1"}
    )
    query = next(u for u in api.updates.peek(10) if "callback_query" in u)["callback_query"]
    assert query["id"] == pressed["query_id"] and query["data"] == "r:1:1"
    assert query["from"]["id"] == ARABIC.id and query["from"]["language_code"] == "ar"
    refused = await page.post(
        f"/api/chats/{ARABIC.id}/press",
        {"message_id": sent["message_id"], "data": "r:9:9"},
        status=404,
    )
    assert "no button with callback_data 'r:9:9'" in refused["error"]


async def test_bad_requests_are_refused(page: Page) -> None:
    chat = f"/api/chats/{ENGLISH.id}"
    assert (await page.post(f"{chat}/send", {"text": "  "}, status=400))["error"]
    assert await page.post(f"{chat}/send", {"text": "x" * 4097}, status=400)
    assert await page.post(f"{chat}/send", ["/start"], status=400)
    assert await page.post(f"{chat}/press", {"message_id": "1", "data": "x"}, status=400)
    assert await page.post("/api/chats/555/send", {"text": "hi"}, status=404)
    assert await page.get("/api/chats/abc/messages", status=404)
    # A page on another site must not drive the chat through the reader's browser.
    foreign = {"Origin": "https://elsewhere.example"}
    assert await page.post(f"{chat}/send", {"text": "/start"}, status=403, headers=foreign)
    async with page.http.post(f"{page.url}{chat}/send", data={"text": "/start"}) as response:
        assert response.status == 415
    # The newsroom is for operators, and there is none without a bot.
    assert await page.get(f"/api/newsroom/{ENGLISH.id}", status=403)
    assert await page.get(f"/api/newsroom/{OPERATOR.id}", status=404)


async def test_page_and_its_files_are_served_with_a_strict_policy(page: Page) -> None:
    async with page.http.get(page.url + "/") as response:
        assert response.status == 200
        body = await response.text()
        policy = response.headers["Content-Security-Policy"]
    assert '<script src="/static/app.js"' in body
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    for name, kind in (("app.js", "javascript"), ("app.css", "text/css")):
        async with page.http.get(f"{page.url}/static/{name}") as response:
            assert response.status == 200 and kind in response.content_type
    async with page.http.get(page.url + "/static/../web.py") as response:
        assert response.status in (403, 404)
    script = (await asyncio.to_thread(_static_text, "app.js")).replace("innerHTML =", "")
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script


def _static_text(name: str) -> str:
    from bot.sandbox.web import STATIC_DIR

    return (STATIC_DIR / name).read_text(encoding="utf-8")


async def test_readers_and_their_commands(api: FakeBotApi, page: Page) -> None:
    info = await page.get("/api/readers")
    assert [r["id"] for r in info["readers"]] == [ARABIC.id, ENGLISH.id, OPERATOR.id]
    assert info["readers"][2]["operator"] is True and info["newsroom"] is False
    await bot_call(
        api,
        "setMyCommands",
        commands=[{"command": "latest", "description": "أحدث القصص"}],
        language_code="ar",
    )
    await bot_call(
        api, "setMyCommands", commands=[{"command": "latest", "description": "Latest stories"}]
    )
    arabic = await page.get(f"/api/chats/{ARABIC.id}/commands")
    english = await page.get(f"/api/chats/{ENGLISH.id}/commands")
    assert arabic["commands"][0]["description"] == "أحدث القصص"
    assert english["commands"][0]["description"] == "Latest stories"


async def test_event_stream_sends_history_then_each_change(api: FakeBotApi, page: Page) -> None:
    await page.post(f"/api/chats/{ENGLISH.id}/send", {"text": "/start"})
    async with page.http.get(f"{page.url}/api/chats/{ENGLISH.id}/events") as response:
        assert response.content_type == "text/event-stream"
        events = EventStream(response)
        snapshot = await events.next("snapshot")
        assert [m["text"] for m in snapshot["messages"]] == ["/start"]

        sent = await bot_call(
            api,
            "sendMessage",
            chat_id=ENGLISH.id,
            text=STORY_HTML,
            parse_mode="HTML",
            reply_markup=KEYBOARD,
        )
        new = await events.next()
        assert new["type"] == "message" and new["message"]["id"] == sent["message_id"]
        assert new["message"]["edited"] is False

        await bot_call(
            api,
            "editMessageText",
            chat_id=ENGLISH.id,
            message_id=sent["message_id"],
            text="<i>Updated</i>",
            parse_mode="HTML",
        )
        edited = await events.next()
        assert edited["message"]["text"] == "Updated" and edited["message"]["edited"] is True
        assert edited["message"]["buttons"] == []  # an edit without markup drops the keyboard

        await page.post(f"/api/chats/{ENGLISH.id}/send", {"text": "hello"})
        mine = await events.next()
        assert mine["message"]["from"] == "user" and mine["message"]["text"] == "hello"

        other = await bot_call(
            api, "sendMessage", chat_id=ENGLISH.id, text="pick", reply_markup=KEYBOARD
        )
        await events.next()
        query = await page.post(
            f"/api/chats/{ENGLISH.id}/press",
            {"message_id": other["message_id"], "data": "r:1:1"},
        )
        await bot_call(api, "answerCallbackQuery", callback_query_id=query["query_id"], text="ok")
        answer = await events.next()
        assert answer == {
            "type": "answer",
            "id": other["message_id"],
            "text": "ok",
            "show_alert": False,
        }

        await bot_call(api, "deleteMessage", chat_id=ENGLISH.id, message_id=sent["message_id"])
        assert await events.next() == {"type": "delete", "id": sent["message_id"]}

        # Another reader's chat never shows up in this stream.
        await bot_call(api, "sendMessage", chat_id=ARABIC.id, text="مرحبا")
        await page.post(f"/api/chats/{ENGLISH.id}/send", {"text": "still here"})
        assert (await events.next())["message"]["text"] == "still here"


async def test_stopping_ends_open_event_streams(api: FakeBotApi) -> None:
    chat = WebChat(api, [ENGLISH])
    await chat.start()
    async with aiohttp.ClientSession() as http:
        response = await http.get(f"{chat.url}/api/chats/{ENGLISH.id}/events")
        events = EventStream(response)
        await events.next("snapshot")
        started = asyncio.get_running_loop().time()
        await chat.stop()
        assert (await response.content.read()).strip() == b""  # the stream ended, nothing more
        assert asyncio.get_running_loop().time() - started < 1.0
        response.release()


# --- the whole sandbox --------------------------------------------------------------------


def settings_for(database_url: str, **extra: Any) -> Settings:
    """Settings as a user's environment would give them, for a test database."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        section_target=400,
        **extra,
    )


@pytest.fixture
async def sandbox(database_url: str) -> AsyncIterator[Sandbox]:
    """The whole sandbox on free ports, with the samples loaded into an empty store."""
    options = SandboxOptions(port=0, api_port=0, samples=SAMPLES)
    async with Sandbox(settings_for(database_url), options) as running:
        yield running


async def test_sandbox_pushes_a_story_to_a_subscribed_reader(sandbox: Sandbox) -> None:
    assert sandbox.web is not None and sandbox.app is not None
    assert len(sandbox.loaded) == 5  # every sample article, the feed's two entries included
    banner = sandbox.banner()
    assert sandbox.web.url in banner and "stored 5 sample articles" in banner
    operator = sandbox.web.readers[DEFAULT_OPERATOR]
    assert operator.operator and not sandbox.web.readers[ARABIC.id].operator
    async with aiohttp.ClientSession() as http:
        page = Page(http, sandbox.web.url)
        reader = await http.get(f"{page.url}/api/chats/{ARABIC.id}/events")
        desk = await http.get(f"{page.url}/api/chats/{operator.id}/events")
        try:
            events, newsroom = EventStream(reader), EventStream(desk)
            await events.next("snapshot")
            await page.post(f"/api/chats/{ARABIC.id}/send", {"text": "/start"})
            greeting = await events.next("message")
            assert greeting["message"]["from"] == "user"
            greeting = await events.next("message")
            assert greeting["message"]["text"] == text("ar", "greeting")

            state = await newsroom.until(lambda e: e.get("subscribers") == 1)
            solar = next(a for a in state["articles"] if a["title"].startswith("محطة شمسية"))
            assert solar["language"] == "ar" and solar["sections"] >= 2
            await page.post(f"/api/chats/{operator.id}/send", {"text": f"/publish {solar['id']}"})

            card = (await events.next("message"))["message"]
            assert card["text"].startswith("محطة شمسية")
            assert card["buttons"][0][0]["text"] == text("ar", "read_more")
            state = await newsroom.until(
                lambda e: (
                    e["type"] == "newsroom"
                    and e["broadcasts"][:1] != []
                    and e["broadcasts"][0]["status"] == "done"
                )
            )
            (progress,) = state["broadcasts"]
            assert (progress["article_id"], progress["targets"], progress["sent"]) == (
                solar["id"],
                1,
                1,
            )

            await page.post(
                f"/api/chats/{ARABIC.id}/press",
                {"message_id": card["id"], "data": card["buttons"][0][0]["callback_data"]},
            )
            section = (await events.next("message"))["message"]
            assert section["buttons"][0][0]["text"].startswith("التالي (2/")
        finally:
            reader.release()
            desk.release()
        snapshot = await page.get(f"/api/newsroom/{operator.id}")
        assert snapshot["broadcasts"][0]["readers"] == 1
        assert await page.get(f"/api/newsroom/{ARABIC.id}", status=403)


async def test_samples_are_loaded_only_into_an_empty_store(database_url: str) -> None:
    options = SandboxOptions(port=0, api_port=0, samples=SAMPLES)
    async with Sandbox(settings_for(database_url), options) as first:
        assert len(first.loaded) == 5
    async with Sandbox(settings_for(database_url), options) as second:
        assert second.loaded == []
        assert "sample articles" not in second.banner()


async def test_operators_from_the_settings_get_the_newsroom(database_url: str) -> None:
    settings = settings_for(database_url, operators=frozenset({77}))
    async with Sandbox(settings, SandboxOptions(port=0, api_port=0, samples=None)) as sandbox:
        assert sandbox.web is not None
        readers = sandbox.web.readers
        assert readers[77].operator and not readers[DEFAULT_OPERATOR].operator
        assert sandbox.loaded == []


async def test_api_only_serves_another_bot() -> None:
    options = SandboxOptions(port=0, api_port=0, api_only=True)
    async with Sandbox(settings_for("sqlite+aiosqlite:///unused.db"), options) as sandbox:
        assert sandbox.app is None and sandbox.web is not None
        banner = sandbox.banner()
        assert sandbox.api.url in banner and DEFAULT_TOKEN in banner
        me = await bot_call(sandbox.api, "getMe")
        assert me["is_bot"] and me["username"] == "newsbot_sandbox_bot"
        # Another bot answers a reader of the web chat.
        async with aiohttp.ClientSession() as http:
            page = Page(http, sandbox.web.url)
            await page.post(f"/api/chats/{ENGLISH.id}/send", {"text": "ping"})
            (update,) = await bot_call(sandbox.api, "getUpdates")
            assert update["message"]["text"] == "ping"
            await bot_call(sandbox.api, "sendMessage", chat_id=ENGLISH.id, text="pong")
            history = (await page.get(f"/api/chats/{ENGLISH.id}/messages"))["messages"]
            assert [m["text"] for m in history] == ["ping", "pong"]
            info = await page.get("/api/readers")
            assert info["newsroom"] is False
            assert not any(r["operator"] for r in info["readers"])


async def test_wait_change_misses_no_change(api: FakeBotApi) -> None:
    seen = api.version
    api.send_user_message(ENGLISH.id, "before the wait")
    # A change made before the wait began is reported at once, not after the timeout.
    assert await api.wait_change(seen, timeout=5) > seen
    seen = api.version
    waiter = asyncio.create_task(api.wait_change(seen, timeout=5))
    await asyncio.sleep(0)
    api.notify_change()
    assert await asyncio.wait_for(waiter, 1) == seen + 1
    assert await api.wait_change(api.version, timeout=0.05) == api.version


async def test_the_channel_view_shows_posts_and_the_newsroom_corrects_and_retracts(
    sandbox: Sandbox,
) -> None:
    assert sandbox.web is not None
    operator = sandbox.web.readers[DEFAULT_OPERATOR]
    channel = next(r for r in sandbox.web.readers.values() if r.channel)
    async with aiohttp.ClientSession() as http:
        page = Page(http, sandbox.web.url)
        info = await page.get("/api/readers")
        assert info["readers"][-1]["channel"] is True
        await page.post(f"/api/chats/{channel.id}/send", {"text": "hi"}, status=403)
        stream = await http.get(f"{page.url}/api/chats/{channel.id}/events")
        try:
            events = EventStream(stream)
            await events.next("snapshot")
            await page.post(
                f"/api/chats/{operator.id}/send", {"text": "/channels add @newsbot_sandbox"}
            )
            state = await page.get(f"/api/newsroom/{operator.id}")
            article = state["articles"][0]
            await page.post(
                f"/api/chats/{operator.id}/send", {"text": f"/publish {article['id']}"}
            )
            post = (await events.next("message"))["message"]
            assert post["buttons"][0][0]["url"].endswith(f"?start=a{article['id']}")
            assert post["edited"] is False
            await page.post(
                f"/api/chats/{operator.id}/send", {"text": f"/retract {article['id']}"}
            )
            gone = await events.next("delete")
            assert gone["id"] == post["id"]
        finally:
            stream.release()
        snapshot = await page.get(f"/api/newsroom/{operator.id}")
        assert snapshot["broadcasts"][0]["kind"] == "retract"


async def test_inline_mode_from_the_composer(sandbox: Sandbox) -> None:
    """ "@bot words" typed in the page lists the bot's inline results; picking one posts the
    card in the chat "via" the bot, with its link buttons (Read in the bot, the source)."""
    assert sandbox.web is not None
    username = sandbox.web.api.bot_username
    async with aiohttp.ClientSession() as http:
        page = Page(http, sandbox.web.url)
        stream = await http.get(f"{page.url}/api/chats/{ENGLISH.id}/events")
        try:
            events = EventStream(stream)
            await events.next("snapshot")
            answer = await page.post(
                f"/api/chats/{ENGLISH.id}/send", {"text": f"@{username} night buses"}
            )
            (result,) = answer["inline"]["results"]
            assert "night bus" in result["title"].lower()
            await page.post(
                f"/api/chats/{ENGLISH.id}/choose",
                {"query_id": answer["inline"]["query_id"], "result_id": result["id"]},
            )
            posted = (await events.next("message"))["message"]
            assert (posted["from"], posted["via_bot"]) == ("user", username)
            labels = [button["text"] for row in posted["buttons"] for button in row]
            assert labels[0] == text("en", "read_in_bot")
            assert posted["buttons"][0][0]["url"].endswith(f"?start=a{result['id']}")
            await page.post(
                f"/api/chats/{ENGLISH.id}/choose",
                {"query_id": "1", "result_id": result["id"]},
                status=404,
            )
            empty = await page.post(f"/api/chats/{ENGLISH.id}/send", {"text": f"@{username}"})
            assert len(empty["inline"]["results"]) == 5  # the latest stories
        finally:
            stream.release()
