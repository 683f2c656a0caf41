"""The fake Bot API's sendPhoto and editMessageCaption, as python-telegram-bot sees them over HTTP:
Telegram's ways to give a photo, its limits and its error words."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import aiohttp
import pytest
from telegram.error import BadRequest, NetworkError

from bot.sandbox.botapi.photos import MAX_UPLOAD_PHOTO_BYTES
from tests.integration.delivery_fixtures import DeliveryWorld
from tests.texts import SAMPLES

PNG = (SAMPLES / "images" / "library-night.png").read_bytes()


def png_header(width: int, height: int) -> bytes:
    """The start of a PNG of this size: enough for the server to read its dimensions."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


async def raw_call(world: DeliveryWorld, method: str, **params: Any) -> tuple[int, Any]:
    """A call with parameters PTB would not send; (HTTP status, body)."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{world.api.url}/bot{world.api.token}/{method}", json=params) as response,
    ):
        return response.status, await response.json()


async def test_a_photo_by_url_then_by_each_file_id(world: DeliveryWorld) -> None:
    first = await world.bot.send_photo(
        1, "https://news.example.com/a.jpg", caption="<b>A</b>", parse_mode="HTML"
    )
    sizes = first.photo
    assert [size.width for size in sizes] == sorted(size.width for size in sizes)
    assert sizes[-1].width == 1280 and first.caption == "A"
    assert first.caption_entities[0].type == "bold" and first.text is None
    assert len({size.file_unique_id for size in sizes}) == len(sizes)
    for size in sizes:
        again = await world.bot.send_photo(2, size.file_id)
        assert again.photo[-1].file_id == sizes[-1].file_id
    assert world.api.photos.sent_by == {"url": 1, "file_id": len(sizes)}
    assert world.api.photos.url_fetches == {"https://news.example.com/a.jpg": 1}


async def test_an_uploaded_photo_has_the_image_s_own_size(world: DeliveryWorld) -> None:
    sent = await world.bot.send_photo(1, PNG, caption="upload")
    assert (sent.photo[-1].width, sent.photo[-1].height) == (640, 360)
    assert world.api.photos.photos[sent.photo[-1].file_id].data == PNG
    assert world.api.photos.sent_by == {"upload": 1}


@pytest.mark.parametrize(
    ("photo", "words"),
    [
        ("AgACAgIAAxkBAAIunknown", "Wrong file identifier/http url specified"),
        ("lead.jpg", "Wrong file identifier/http url specified"),
        ("https://refused.example.com/a.jpg", "Failed to get http url content"),
        ("https://page.example.com/a.jpg", "Wrong type of the web page content"),
        (b"GIF8 is not a picture", "Image_process_failed"),
        (png_header(9000, 1500), "Photo_invalid_dimensions"),
        (png_header(2000, 50), "Photo_invalid_dimensions"),
    ],
)
async def test_photos_telegram_refuses(
    world: DeliveryWorld, photo: str | bytes, words: str
) -> None:
    world.api.refuse_photo_url("https://refused.example.com/a.jpg")
    world.api.host_image("https://page.example.com/a.jpg", b"<html></html>", "text/html")
    with pytest.raises(BadRequest) as refused:
        await world.bot.send_photo(1, photo)
    assert refused.value.message == words
    assert world.api.messages(1) == []


async def test_an_upload_over_10_mb_is_refused_before_telegram(world: DeliveryWorld) -> None:
    with pytest.raises(NetworkError, match="Request Entity Too Large"):
        await world.bot.send_photo(1, png_header(100, 100) + b"\0" * MAX_UPLOAD_PHOTO_BYTES)


async def test_the_caption_limit_counts_visible_text(world: DeliveryWorld) -> None:
    url = "https://news.example.com/a.jpg"
    fits = "<b>" + "&amp;" * 1024 + "</b>"  # 1024 visible characters, far more sent
    sent = await world.bot.send_photo(1, url, caption=fits, parse_mode="HTML")
    assert sent.caption == "&" * 1024
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await world.bot.send_photo(1, url, caption="😀" * 513)  # 1026 UTF-16 units
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await world.bot.send_photo(1, url, caption="<b>open", parse_mode="HTML")


async def test_malformed_requests(world: DeliveryWorld) -> None:
    status, body = await raw_call(world, "sendPhoto", chat_id=1, caption="no photo")
    assert (status, body["description"]) == (400, "Bad Request: there is no photo in the request")
    status, body = await raw_call(
        world, "sendMessage", chat_id=1, text="x", link_preview_options="large"
    )
    assert (status, body["description"]) == (
        400,
        "Bad Request: can't parse link preview options JSON object",
    )
    status, body = await raw_call(
        world,
        "sendMessage",
        chat_id=1,
        text="x",
        link_preview_options={"url": "https://e.org/", "prefer_large_media": "yes"},
    )
    assert status == 400
    status, _ = await raw_call(
        world, "sendMessage", chat_id=1, text="x", link_preview_options={"url": "https://e.org/"}
    )
    assert status == 200
    assert world.api.messages(1)[-1].link_preview == {"url": "https://e.org/"}


async def test_edit_caption_rules(world: DeliveryWorld) -> None:
    text = await world.bot.send_message(1, "text")
    with pytest.raises(BadRequest, match="There is no caption in the message to edit"):
        await world.bot.edit_message_caption(1, text.message_id, caption="x")
    photo = await world.bot.send_photo(1, "https://news.example.com/a.jpg", caption="old")
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await world.bot.edit_message_caption(1, 999, caption="x")
    edited = await world.bot.edit_message_caption(1, photo.message_id, caption="new")
    assert not isinstance(edited, bool) and edited.caption == "new" and edited.photo
