"""The sandbox shows a photo card: the sample's image, hosted by the fake Bot API itself, above
the caption, served by the web chat (no network)."""

from __future__ import annotations

import aiohttp

from bot.sandbox.runner import DEFAULT_OPERATOR, READERS, Sandbox
from tests.integration.test_sandbox_web import EventStream, Page, sandbox  # noqa: F401
from tests.texts import SAMPLES

ARABIC = READERS[0]


async def test_a_published_sample_with_an_image_arrives_as_a_photo_card(
    sandbox: Sandbox,  # noqa: F811
) -> None:
    assert sandbox.web is not None
    async with aiohttp.ClientSession() as http:
        page = Page(http, sandbox.web.url)
        reader = await http.get(f"{page.url}/api/chats/{ARABIC.id}/events")
        try:
            events = EventStream(reader)
            await events.next("snapshot")
            await page.post(f"/api/chats/{ARABIC.id}/send", {"text": "/start"})
            await events.until(lambda e: e["type"] == "message" and e["message"]["from"] == "bot")
            snapshot = await page.get(f"/api/newsroom/{DEFAULT_OPERATOR}")
            market = next(a for a in snapshot["articles"] if a["title"].startswith("سوق الخضار"))
            await page.post(
                f"/api/chats/{DEFAULT_OPERATOR}/send", {"text": f"/publish {market['id']}"}
            )
            card = (await events.next("message"))["message"]
        finally:
            reader.release()
        assert card["text"].startswith("سوق الخضار الجديد")
        assert (card["photo"]["width"], card["photo"]["height"]) == (640, 360)
        async with http.get(page.url + card["photo"]["src"]) as response:
            assert response.status == 200 and response.content_type == "image/png"
            body = await response.read()
        assert body == (SAMPLES / "images" / "vegetable-market.png").read_bytes()
        async with http.get(f"{page.url}/api/photos/AQADnothing") as response:
            assert response.status == 404
