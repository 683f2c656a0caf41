"""Story cards with the lead photo, through PTB over HTTP against the fake Bot API, on both
databases: the URL is fetched once and its file_id serves everyone else; a refused photo falls
back to text at once for every reader; link previews for cards without a photo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.deliverer import Deliverer
from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import store_sources
from bot.newsroom.sources import load_sources
from bot.ops.serving import bind
from bot.sandbox.botapi.photos import URL_FAILED, WRONG_TYPE
from bot.sandbox.botapi.telegram_html import utf16_len
from bot.settings import Settings
from db import broadcasts, store
from db.models import ArticleRow
from db.session import unit_of_work
from tests.integration.bot_fixtures import OPERATOR, BotHarness
from tests.integration.delivery_fixtures import DeliveryWorld
from tests.texts import SAMPLES

IMAGE_URL = "https://photos.example.com/lead/bridge.png"
IMAGE = (SAMPLES / "images" / "vegetable-market.png").read_bytes()
STORY = """---
title: {title}
byline: {byline}
url: https://news.example.com/city/bridge
image: {image}
topics: city
---

{summary}

The old bridge reopened on Monday after eight months of repairs, two weeks ahead of plan.

Cyclists and pedestrians crossed it first; cars follow from next week, the city said.
"""


def write_story(
    folder: Path,
    *,
    image: str = IMAGE_URL,
    title: str = "Bridge reopens after repairs",
    byline: str = "Lina Haddad",
    summary: str = "The bridge is open again, two weeks early.",
) -> Path:
    path = folder / f"story-{abs(hash((image, title))) % 10**8}.md"
    path.write_text(
        STORY.format(title=title, byline=byline, image=image, summary=summary), encoding="utf-8"
    )
    return path


async def store_story(sessionmaker: async_sessionmaker[AsyncSession], path: Path) -> int:
    async with unit_of_work(sessionmaker) as session:
        (stored,) = await store_sources(
            session=session, sources=load_sources([str(path)]), target=1200, now=utcnow()
        )
    return stored.article_id


async def article_row(world: DeliveryWorld, article_id: int) -> ArticleRow:
    async with unit_of_work(world.sessionmaker) as session:
        row = await session.get(ArticleRow, article_id, populate_existing=True)
    assert row is not None
    return row


def deliverer_for(world: DeliveryWorld, **settings: object) -> Deliverer:
    """A Deliverer as `newsbot run` builds it from these settings, on the world's bot."""
    return Deliverer.for_settings(
        Settings(_env_file=None, language="en", **settings),  # type: ignore[arg-type]
        bot=world.bot,
        sessionmaker=world.sessionmaker,
        clock=utcnow,
        concurrency=8,
        batch_size=50,
        backoff_base=0.05,
    )


async def test_a_photo_broadcast_to_200_readers_fetches_the_url_once(
    world: DeliveryWorld, tmp_path: Path
) -> None:
    readers = await world.add_readers(range(1, 201))
    world.api.host_image(IMAGE_URL, IMAGE)
    article_id = await store_story(world.sessionmaker, write_story(tmp_path))
    broadcast_id = await world.start_broadcast(article_id)

    await world.deliver_all()

    assert world.copies() == {chat_id: 1 for chat_id in readers}
    assert world.api.photos.sent_by == {"url": 1, "file_id": 199}
    assert world.api.calls("sendMessage") == []
    card = world.api.messages(1)[0]
    assert card.photo is not None and card.photo[-1]["width"] == 640
    assert card.text.startswith("Bridge reopens after repairs\nLina Haddad\n\nThe bridge is open")
    assert [b["text"] for b in card.buttons()] == ["Read more", "Source", "Share"]
    row = await article_row(world, article_id)
    assert row.photo_file_id == card.photo[-1]["file_id"]  # the largest size
    assert row.photo_refused is None
    assert set((await world.statuses(broadcast_id)).values()) == {"sent"}

    # A later push, from a deliverer that starts afresh, goes by file_id from the first.
    later = deliverer_for(world)
    await world.start_broadcast(article_id)
    await later.deliver_available()
    assert world.api.photos.sent_by == {"url": 1, "file_id": 399}


async def test_a_refused_photo_falls_back_to_text_for_every_reader_and_is_not_tried_again(
    world: DeliveryWorld, tmp_path: Path
) -> None:
    readers = await world.add_readers(range(1, 41))
    world.api.refuse_photo_url(IMAGE_URL)
    article_id = await store_story(world.sessionmaker, write_story(tmp_path))
    first = await world.start_broadcast(article_id)

    await world.deliver_all()

    assert world.copies() == {chat_id: 1 for chat_id in readers}  # no one missed, no one twice
    assert len(world.api.calls("sendPhoto")) == 1  # tried once, then text for all
    assert len(world.api.calls("sendMessage")) == len(readers)
    assert all(world.api.messages(c)[0].photo is None for c in readers)
    assert set((await world.statuses(first)).values()) == {"sent"}
    row = await article_row(world, article_id)
    assert row.photo_refused is not None and URL_FAILED.lower() in row.photo_refused.lower()

    async with unit_of_work(world.sessionmaker) as session:
        progress = await broadcasts.broadcast_progress(session=session, broadcast_id=first)
    assert progress is not None and progress.photo_refused == row.photo_refused

    # A later push tries the photo once more: the host is back, so the photo goes out.
    world.api.host_image(IMAGE_URL, IMAGE)
    await world.start_broadcast(article_id)
    await deliverer_for(world).deliver_available()
    assert world.api.photos.sent_by == {"url": 2, "file_id": len(readers) - 1}
    row = await article_row(world, article_id)
    assert row.photo_refused is None and row.photo_file_id is not None


async def test_a_page_instead_of_an_image_is_refused_with_telegrams_words(
    world: DeliveryWorld, tmp_path: Path
) -> None:
    await world.add_readers(range(1, 6))
    world.api.host_image(IMAGE_URL, b"<html>not a picture</html>", "text/html")
    article_id = await store_story(world.sessionmaker, write_story(tmp_path))
    await world.start_broadcast(article_id)
    await world.deliver_all()
    assert sum(world.copies().values()) == 5
    row = await article_row(world, article_id)
    assert row.photo_refused is not None and WRONG_TYPE.lower() in row.photo_refused.lower()


async def test_a_stored_file_id_telegram_no_longer_knows_falls_back_and_is_replaced(
    world: DeliveryWorld, tmp_path: Path
) -> None:
    readers = await world.add_readers(range(1, 21))
    world.api.host_image(IMAGE_URL, IMAGE)
    article_id = await store_story(world.sessionmaker, write_story(tmp_path))
    async with unit_of_work(world.sessionmaker) as session:
        await store.remember_photo(
            session=session, article_id=article_id, file_id="AgACAgIAAxkBAAIgone"
        )
    await world.start_broadcast(article_id)

    await world.deliver_all()

    assert world.copies() == {chat_id: 1 for chat_id in readers}
    # The stale id failed (as many times as sends were in flight with it), each of those got
    # text at once; then the URL was fetched once and its file_id served the rest.
    assert world.api.photos.sent_by["url"] == 1
    stale = len(world.api.calls("sendMessage"))
    assert 1 <= stale <= 8
    assert world.api.photos.sent_by["file_id"] == len(readers) - 1 - stale
    row = await article_row(world, article_id)
    assert row.photo_file_id in world.api.photos.photos
    assert row.photo_refused is None


async def test_a_long_arabic_caption_is_accepted_and_cut_at_a_word(
    world: DeliveryWorld, tmp_path: Path
) -> None:
    await world.add_readers([1], language="ar")
    world.api.host_image(IMAGE_URL, IMAGE)
    words = "أعلنت وزارة الطاقة افتتاح محطة شمسية جديدة في الصحراء الشرقية".split()
    path = write_story(
        tmp_path,
        title=" ".join(words * 8),
        byline="بقلم " + " ".join(words * 5),
        summary=" ".join(words * 8),
    )
    article_id = await store_story(world.sessionmaker, path)
    # Summaries are made short, but a stored one (an editor's correction, say) may be long.
    async with unit_of_work(world.sessionmaker) as session:
        row = await session.get(ArticleRow, article_id)
        assert row is not None
        row.summary = " ".join(words * 60)
    await world.start_broadcast(article_id)
    await world.deliver_all()

    (card,) = world.api.messages(1)
    assert card.photo is not None  # Telegram took the caption
    longest = max(len(word) for word in words)
    assert 1024 - longest - 1 <= utf16_len(card.text) <= 1024
    title, byline, _, summary = card.text.split("\n")
    for line in (title, byline, summary):
        assert line.endswith("…") and set(line[:-1].split()) <= {*words, "بقلم"}, line[-30:]
    assert next(b["text"] for b in card.buttons()) == "اقرأ المزيد"


async def test_a_photo_cards_caption_can_be_edited_but_not_its_text(
    world: DeliveryWorld, tmp_path: Path
) -> None:
    await world.add_readers([1])
    world.api.host_image(IMAGE_URL, IMAGE)
    article_id = await store_story(world.sessionmaker, write_story(tmp_path))
    await world.start_broadcast(article_id)
    await world.deliver_all()
    (card,) = world.api.messages(1)

    edited = await world.bot.edit_message_caption(
        1, card.message_id, caption="<b>Bridge reopens</b> (corrected)", parse_mode="HTML"
    )
    assert not isinstance(edited, bool) and edited.caption == "Bridge reopens (corrected)"
    assert world.api.messages(1)[0].text == "Bridge reopens (corrected)"
    with pytest.raises(Exception, match=r"(?i)no text in the message"):
        await world.bot.edit_message_text("plain", 1, card.message_id)
    with pytest.raises(Exception, match=r"(?i)caption is too long"):
        await world.bot.edit_message_caption(1, card.message_id, caption="x" * 1025)
    with pytest.raises(Exception, match=r"(?i)not modified"):
        await world.bot.edit_message_caption(
            1, card.message_id, caption="<b>Bridge reopens</b> (corrected)", parse_mode="HTML"
        )


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (
            "large",
            {
                "url": "https://example.org/news/night-buses",
                "prefer_large_media": True,
                "show_above_text": True,
            },
        ),
        ("small", {"url": "https://example.org/news/night-buses", "prefer_small_media": True}),
        ("off", {"is_disabled": True}),
    ],
)
async def test_a_card_without_a_photo_previews_its_source_page_as_set(
    world: DeliveryWorld, mode: str, expected: dict[str, object]
) -> None:
    await world.add_readers([1, 2])
    article_id = await world.add_article()  # no image
    await world.start_broadcast(article_id)
    await deliverer_for(world, link_preview=mode).deliver_available()
    assert world.api.calls("sendPhoto") == []
    assert [call["link_preview_options"] for call in world.api.calls("sendMessage")] == [
        expected,
        expected,
    ]


class ImageHost:
    """A publisher's image server on 127.0.0.1 that counts how often it is asked."""

    def __init__(self) -> None:
        self.hits = 0
        self.body = IMAGE
        self.content_type = "image/png"

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(body=self.body, content_type=self.content_type)


@pytest.fixture
async def image_host() -> AsyncIterator[tuple[ImageHost, str]]:
    host = ImageHost()
    app = web.Application()
    app.router.add_get("/lead.png", host.handle)
    bound = await bind(app, "127.0.0.1", 0, shutdown_timeout=1.0)
    try:
        yield host, f"{bound.url}/lead.png"
    finally:
        await bound.runner.cleanup()


async def test_upload_mode_downloads_once_and_uploads_once(
    world: DeliveryWorld, tmp_path: Path, image_host: tuple[ImageHost, str]
) -> None:
    host, url = image_host
    readers = await world.add_readers(range(1, 31))
    article_id = await store_story(world.sessionmaker, write_story(tmp_path, image=url))
    await world.start_broadcast(article_id)
    deliverer = deliverer_for(world, photo_upload="upload", fetch_private=True)
    try:
        await deliverer.deliver_available()
    finally:
        await deliverer.close()

    assert world.copies() == {chat_id: 1 for chat_id in readers}
    assert host.hits == 1
    assert world.api.photos.sent_by == {"upload": 1, "file_id": 29}
    assert world.api.photos.url_fetches == {}  # Telegram never saw the URL


async def test_upload_mode_refuses_what_is_not_an_image_and_sends_text(
    world: DeliveryWorld, tmp_path: Path, image_host: tuple[ImageHost, str]
) -> None:
    host, url = image_host
    host.body, host.content_type = b"<html>blocked</html>", "text/html"
    readers = await world.add_readers(range(1, 11))
    article_id = await store_story(world.sessionmaker, write_story(tmp_path, image=url))
    await world.start_broadcast(article_id)
    deliverer = deliverer_for(world, photo_upload="upload", fetch_private=True)
    try:
        await deliverer.deliver_available()
    finally:
        await deliverer.close()

    assert world.copies() == {chat_id: 1 for chat_id in readers}
    assert host.hits == 1 and world.api.calls("sendPhoto") == []
    row = await article_row(world, article_id)
    assert row.photo_refused == "could not fetch the image: not an image (text/html)"


async def test_operators_see_the_refused_photo_in_stats(bot: BotHarness, tmp_path: Path) -> None:
    for reader in (2001, 2002):
        await bot.say(reader, "/start")
    bot.api.refuse_photo_url(IMAGE_URL)
    (stored,) = await bot.ingest(str(write_story(tmp_path)))
    await bot.say(OPERATOR, f"/publish {stored.article_id}")
    for reader in (2001, 2002):
        _, card = await bot.api.wait_for_messages(reader, 2)
        assert card.photo is None and card.text.startswith("Bridge reopens")

    async def finished() -> bool:
        async with bot.app.bot_data.unit_of_work() as session:
            row = await broadcasts.get_broadcast(session=session, broadcast_id=1)
        return row is not None and row.status == "done"

    await bot.eventually(finished, "the broadcast finishes", within=10)
    (stats,) = await bot.say(OPERATOR, "/stats 1")
    assert "sent 2 of 2" in stats.text
    assert "photo refused: Failed to get http url content" in stats.text


async def test_a_reader_asking_for_a_story_gets_its_photo_card_by_file_id(
    bot: BotHarness, tmp_path: Path
) -> None:
    await bot.say(2001, "/start")
    bot.api.host_image(IMAGE_URL, IMAGE)
    (stored,) = await bot.ingest(str(write_story(tmp_path)))

    (first,) = await bot.say(2001, f"/summary {stored.article_id}")
    assert first.photo is not None and first.text.startswith("Bridge reopens")

    # The card reaches Telegram before its file_id is stored (another chat's update may run
    # meanwhile and send by URL once more): the next reader asks once it is stored.
    async def file_id_stored() -> bool:
        async with bot.app.bot_data.unit_of_work() as session:
            row = await session.get(ArticleRow, stored.article_id)
        return row is not None and row.photo_file_id is not None

    await bot.eventually(file_id_stored, "the photo's file_id is stored", within=10)
    _, again = await bot.say(2002, f"/start a{stored.article_id}", count=2)
    assert again.photo is not None
    assert bot.api.photos.sent_by == {"url": 1, "file_id": 1}
    # "Read more" on the photo card opens the first section, as on a text card.
    (section,) = await bot.press(2002, again, again.callback_data()[0])
    assert section.photo is None and section.text
